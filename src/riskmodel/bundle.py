"""The exported champion bundle: everything scoring needs, loadable without MLflow.

Layout of a bundle folder (``models/champion/`` by default)::

    model.joblib        the fitted champion estimator (predict_proba, contributions)
    baseline.joblib     the fitted 5C expert scorecard (credit level and sub-scores)
    reference.parquet   training distributions for drift: one row per feature/score bin
    manifest.json       name, version, features, categorical levels, metrics, master scale,
                        baseline definition, calibration, created_at, mlflow run id
    model_card.md       a short model card for people

Bundles are code: ``model.joblib`` and ``baseline.joblib`` are pickles, and loading
a pickle runs whatever it contains.  A bundle must come from a trusted store.  The
manifest carries the SHA-256 of every other file (``files``) and the class of each
estimator; :meth:`Bundle.load` verifies them all *before* anything is unpickled and
refuses a bundle with a missing, changed or wrong-kind file
(:class:`BundleIntegrityError`).  The checksums catch corruption and a swapped
file; they do not stop someone who can rewrite the manifest too, so the folder
itself must be write-protected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from riskmodel.exceptions import ModelNotFoundError, RiskModelError
from riskmodel.io import write_atomic, write_frame, write_text_atomic

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
BASELINE_FILE = "baseline.joblib"
REFERENCE_FILE = "reference.parquet"
MODEL_CARD = "model_card.md"
#: manifest keys written by :meth:`Bundle.save`: file name -> SHA-256, and the estimators' classes
CHECKSUMS = "files"
MODEL_CLASS = "model_class"
BASELINE_CLASS = "baseline_class"
_REQUIRED = (MODEL_FILE, BASELINE_FILE, REFERENCE_FILE)


class BundleIntegrityError(RiskModelError, ValueError):
    """A bundle file is missing, changed since export, or holds the wrong kind of model."""


def sha256_file(path: Path | str) -> str:
    """The SHA-256 hex digest of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _class_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _expected_classes() -> dict[str, str]:
    """Model name -> class path, for the model names riskmodel trains."""
    from riskmodel.models.baseline import FiveCScorecard
    from riskmodel.models.factory import BASELINE_NAME, LIGHTGBM_NAME, SCORECARD_NAME
    from riskmodel.models.gbm import LightGBMModel
    from riskmodel.models.scorecard import LogisticScorecard

    return {BASELINE_NAME: f"{FiveCScorecard.__module__}.{FiveCScorecard.__qualname__}",
            LIGHTGBM_NAME: f"{LightGBMModel.__module__}.{LightGBMModel.__qualname__}",
            SCORECARD_NAME: f"{LogisticScorecard.__module__}.{LogisticScorecard.__qualname__}"}


def verify_bundle(directory: Path | str) -> dict[str, Any]:
    """Check a bundle folder without unpickling anything; return its manifest.

    Raises ModelNotFoundError when there is no bundle at all, and
    BundleIntegrityError (one line: which file, what is wrong, what to do) when a
    file is missing, its SHA-256 differs from the manifest's, or the manifest
    names a model class that does not match its model name.
    """
    d = Path(directory)
    fix = "re-export it with `riskmodel train` or restore it from the trusted model store"
    if not d.is_dir() or not any((d / f).exists() for f in (MANIFEST, *_REQUIRED)):
        raise ModelNotFoundError(f"no model bundle in {d}; run `riskmodel train` first")
    if not (d / MANIFEST).is_file():
        raise BundleIntegrityError(f"bundle {d} has no {MANIFEST}; {fix}")
    try:
        manifest = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BundleIntegrityError(f"bundle {d}: {MANIFEST} is unreadable ({type(err).__name__}); {fix}") from None
    if not isinstance(manifest, dict):
        raise BundleIntegrityError(f"bundle {d}: {MANIFEST} is not a JSON object; {fix}")
    sums = manifest.get(CHECKSUMS)
    if not isinstance(sums, dict) or not all(f in sums for f in _REQUIRED):
        raise BundleIntegrityError(f"bundle {d}: the manifest has no SHA-256 checksums of its files "
                                   f"(exported by an older riskmodel or edited); {fix}")
    for name, digest in sums.items():
        path = d / str(name)
        if Path(str(name)).name != str(name):
            raise BundleIntegrityError(f"bundle {d}: the manifest lists a file outside the bundle ({name!r}); {fix}")
        if not path.is_file():
            raise BundleIntegrityError(f"bundle {d}: {name} is missing; {fix}")
        if sha256_file(path) != digest:
            raise BundleIntegrityError(f"bundle {d}: {name} does not match its SHA-256 in the manifest "
                                       f"(changed or corrupt since export); {fix}")
    expected = _expected_classes().get(str(manifest.get("model_name")))
    if expected is not None and manifest.get(MODEL_CLASS) != expected:
        raise BundleIntegrityError(f"bundle {d}: model {manifest.get('model_name')!r} is stored as "
                                   f"{manifest.get(MODEL_CLASS)!r}, expected {expected}; {fix}")
    return manifest


@dataclass
class Bundle:
    """A champion model with its features, baseline, master scale and drift references.

    ``manifest`` holds JSON-serialisable metadata: at least ``model_name``,
    ``version``, ``features``, ``metrics``, ``master_scale`` and ``baseline``.
    """

    model: Any
    baseline: Any
    reference: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    model_card: str = ""

    @property
    def model_name(self) -> str:
        return str(self.manifest.get("model_name", "unknown"))

    @property
    def features(self) -> list[str]:
        return list(self.manifest.get("features", []))

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", "unknown"))

    def save(self, directory: Path | str) -> Path:
        """Write the bundle; every file is written atomically, the manifest (with checksums) last."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_atomic(d / MODEL_FILE, lambda p: joblib.dump(self.model, p))
        write_atomic(d / BASELINE_FILE, lambda p: joblib.dump(self.baseline, p))
        write_frame(self.reference, d / REFERENCE_FILE)
        write_text_atomic(d / MODEL_CARD, self.model_card)
        self.manifest = {**self.manifest,
                         MODEL_CLASS: _class_name(self.model), BASELINE_CLASS: _class_name(self.baseline),
                         CHECKSUMS: {f: sha256_file(d / f) for f in (*_REQUIRED, MODEL_CARD)}}
        write_text_atomic(d / MANIFEST, json.dumps(self.manifest, indent=2, default=str))
        return d

    @classmethod
    def load(cls, directory: Path | str) -> "Bundle":
        """Read a bundle written by :meth:`save`, verified (:func:`verify_bundle`) before unpickling."""
        d = Path(directory)
        manifest = verify_bundle(d)
        fix = "re-export it with `riskmodel train`"
        try:
            model = joblib.load(d / MODEL_FILE)
            baseline = joblib.load(d / BASELINE_FILE)
            reference = pd.read_parquet(d / REFERENCE_FILE)
        except Exception as err:  # noqa: BLE001 - verified files that still do not load (library versions)
            raise BundleIntegrityError(f"bundle {d} passed its checksums but does not load "
                                       f"({type(err).__name__}: {str(err)[:200]}); {fix}") from err
        expected = _expected_classes().get(str(manifest.get("model_name")))
        if expected is not None and _class_name(model) != expected:
            raise BundleIntegrityError(f"bundle {d}: {MODEL_FILE} holds a {_class_name(model)}, but the manifest "
                                       f"says {manifest.get('model_name')!r} ({expected}); {fix}")
        card = d / MODEL_CARD
        return cls(model=model, baseline=baseline, reference=reference, manifest=manifest,
                   model_card=card.read_text(encoding="utf-8") if card.is_file() else "")
