"""The exported champion bundle: everything scoring needs, loadable without MLflow.

Layout of a bundle folder (``models/champion/`` by default)::

    model.joblib        the fitted champion estimator (predict_proba, contributions)
    baseline.joblib     the fitted 5C expert scorecard (credit level and sub-scores)
    reference.parquet   training distributions for drift: one row per feature/score bin
    manifest.json       name, version, features, categorical levels, metrics, master scale,
                        baseline definition, calibration, created_at, mlflow run id
    model_card.md       a short model card for people
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from riskmodel.exceptions import ModelNotFoundError
from riskmodel.io import write_atomic, write_frame, write_text_atomic

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
BASELINE_FILE = "baseline.joblib"
REFERENCE_FILE = "reference.parquet"
MODEL_CARD = "model_card.md"


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
        """Write the bundle; every file is written atomically, the manifest last."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_atomic(d / MODEL_FILE, lambda p: joblib.dump(self.model, p))
        write_atomic(d / BASELINE_FILE, lambda p: joblib.dump(self.baseline, p))
        write_frame(self.reference, d / REFERENCE_FILE)
        write_text_atomic(d / MODEL_CARD, self.model_card)
        write_text_atomic(d / MANIFEST, json.dumps(self.manifest, indent=2, default=str))
        return d

    @classmethod
    def load(cls, directory: Path | str) -> "Bundle":
        """Read a bundle written by :meth:`save`; a clear error if it is missing or partial."""
        d = Path(directory)
        missing = [f for f in (MANIFEST, MODEL_FILE, BASELINE_FILE, REFERENCE_FILE) if not (d / f).is_file()]
        if missing:
            raise ModelNotFoundError(
                f"no complete model bundle in {d} (missing {', '.join(missing)}); run `riskmodel train` first"
            )
        return cls(
            model=joblib.load(d / MODEL_FILE),
            baseline=joblib.load(d / BASELINE_FILE),
            reference=pd.read_parquet(d / REFERENCE_FILE),
            manifest=json.loads((d / MANIFEST).read_text()),
            model_card=(d / MODEL_CARD).read_text() if (d / MODEL_CARD).is_file() else "",
        )
