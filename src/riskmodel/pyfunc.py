"""The MLflow pyfunc model of a riskmodel bundle: what a registered model version returns, and how it is saved.

:class:`RiskModelPyfunc` wraps a :class:`~riskmodel.bundle.Bundle` and scores feature records
with the :class:`~riskmodel.scoring.Scorer` (pd, grade, 5C levels, reasons, limit and terms).
:mod:`riskmodel.tracking` logs and registers it (with :func:`save_pyfunc`); this module
does not know about runs or the registry.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import AnyType, ColSpec, Schema

import riskmodel
from riskmodel.bundle import Bundle
from riskmodel.config import MasterScaleSettings
from riskmodel.grades import assign_grades
from riskmodel.scoring import FeatureEncoder, Scorer

log = logging.getLogger(__name__)


class RiskModelPyfunc(PythonModel):
    """An MLflow pyfunc model around a riskmodel bundle.

    ``predict`` takes a DataFrame of feature records (one row per customer;
    ``customer_id`` is passed through; missing feature columns count as missing
    values) and returns one row per record with ``pd`` (probability of default
    over the bundle's ``horizon_months``), ``grade`` (master scale), ``credit_level`` and the 5C sub-levels,
    the principal reasons (``reason_up_*`` / ``reason_down_*``) with the
    recommended limit and terms, as :meth:`riskmodel.scoring.Scorer.score_features`
    gives them.  When the Scorer cannot start for the bundle it falls back to pd,
    grade and credit level (:func:`predict_bundle`), with a warning.
    """

    def load_context(self, context) -> None:  # noqa: ANN001 - mlflow's PythonModelContext
        self.bundle = Bundle.load(context.artifacts["bundle"])
        self._scorer = make_scorer(self.bundle)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:  # noqa: ANN001
        """Score feature records: pd, grade, 5C levels and reasons per row."""
        return score_records(self.bundle, self._scorer, pd.DataFrame(model_input))


def make_scorer(bundle: Bundle) -> Any:
    """A :class:`riskmodel.scoring.Scorer` for the bundle, or None when scoring is unavailable."""
    try:
        return Scorer(bundle)
    except Exception as err:  # noqa: BLE001 - reasons are optional in the pyfunc; pd and grade still work
        log.warning("the pyfunc of %s returns pd, grade and credit level only: the Scorer failed to start (%s: %s)",
                    bundle.model_name, type(err).__name__, err)
        return None


def score_records(bundle: Bundle, scorer: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """What the pyfunc returns for ``frame``: the Scorer's table with JSON-friendly types."""
    if scorer is None:
        return predict_bundle(bundle, frame)
    out = scorer.score_features(frame).reset_index(drop=True)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def prepare_features(bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    """The bundle's feature columns from ``frame``: missing columns as NaN, categoricals with training levels.

    The Scorer's own encoding (:class:`riskmodel.scoring.FeatureEncoder`): a numeric feature
    holding text is refused with a ValueError naming it, an unseen level is missing.
    """
    return FeatureEncoder.of(bundle).prepare(frame)


def predict_bundle(bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    """pd, grade and 5C credit level for feature records, straight from a bundle (no reasons)."""
    X = prepare_features(bundle, frame)
    pd_ = np.asarray(bundle.model.predict_proba(X))[:, 1]
    scale = MasterScaleSettings.model_validate(bundle.manifest["master_scale"])
    out = pd.DataFrame(index=frame.index)
    if "customer_id" in frame.columns:
        out["customer_id"] = frame["customer_id"].astype(str)
    out["pd"] = pd_
    out["grade"] = np.asarray(assign_grades(pd_, scale), dtype=object)
    if bundle.baseline is not None and hasattr(bundle.baseline, "credit_level"):
        out["credit_level"] = np.asarray(bundle.baseline.credit_level(X), dtype=float)
    out["model_version"] = bundle.version
    return out.reset_index(drop=True)


def _signature(X: pd.DataFrame, bundle: Bundle) -> ModelSignature:
    levels = bundle.manifest.get("categorical_levels", {})
    # categoricals may arrive as strings (JSON) or pandas categories: any type, checked by the model
    cols: list[Any] = [ColSpec(AnyType(), "customer_id", required=False)]
    for name in bundle.features:
        numeric = name not in levels and not pd.api.types.is_bool_dtype(X[name].dtype)
        cols.append(ColSpec("double" if numeric else AnyType(), name, required=False))
    sample = score_records(bundle, make_scorer(bundle), X.head(5))
    return ModelSignature(inputs=Schema(cols), outputs=infer_signature(sample).inputs)


_PYFUNC_ENTRY = '''"""MLflow models-from-code entry point of the riskmodel pyfunc (see riskmodel.pyfunc)."""
import mlflow

from riskmodel.pyfunc import RiskModelPyfunc

mlflow.models.set_model(RiskModelPyfunc())
'''


def save_pyfunc(bundle_dir: Path, bundle: Bundle, X_example: pd.DataFrame, dest: Path,
                pip_requirements: list[str]) -> None:
    """Save a pyfunc model (models from code: no pickled class) carrying the bundle and riskmodel's code."""
    entry = dest.parent / "riskmodel_pyfunc.py"
    entry.write_text(_PYFUNC_ENTRY)
    mlflow.pyfunc.save_model(
        path=str(dest),
        python_model=str(entry),
        artifacts={"bundle": str(bundle_dir)},
        code_paths=[str(Path(riskmodel.__file__).parent)],
        pip_requirements=pip_requirements,
        signature=_signature(X_example, bundle),
    )
