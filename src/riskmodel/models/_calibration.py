"""Cross-fitted probability calibration shared by the learned models (scikit-learn underneath)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from riskmodel.models._validation import predict_frame, proba_to_label

log = logging.getLogger(__name__)

CALIBRATION_METHODS = ("isotonic", "sigmoid", "none")


def fit_calibrated(base: Any, X: Any, y01: np.ndarray, method: str, folds: int, seed: int | None,
                   groups: np.ndarray | None = None) -> tuple[Any, Any]:
    """Fit ``base`` on all rows and, unless ``method == "none"``, a cross-fitted calibrator.

    The calibrator is fitted on out-of-fold scores of ``folds`` copies of
    ``base`` (``CalibratedClassifierCV(ensemble=False)``); the estimator kept
    for prediction and explanation is ``base`` refitted on all rows.  With
    ``groups`` (the customer of each row) the folds keep each customer's rows
    together, so out-of-fold scores are not flattered by the same customer's
    other snapshots.

    Returns
    -------
    (fitted base, predictor): ``predictor.predict_proba`` gives calibrated probabilities.
    """
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration must be one of {CALIBRATION_METHODS}, got {method!r}")
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"calibration_folds must be an integer >= 2, got {folds!r}")
    if method == "none":
        fitted = clone(base).fit(X, y01)
        return fitted, fitted
    minority = int(min(np.bincount(y01, minlength=2)))
    if minority < folds:
        log.warning(
            "only %d rows of the rarer class, fewer than calibration_folds=%d: probabilities are not "
            "recalibrated", minority, folds,
        )
        fitted = clone(base).fit(X, y01)
        return fitted, fitted
    if groups is not None:
        if len(groups) != len(y01):
            raise ValueError(f"groups has {len(groups)} values for {len(y01)} rows")
        splitter = StratifiedGroupKFold(n_splits=int(folds), shuffle=True, random_state=seed)
        cv: Any = list(splitter.split(X, y01, groups))
    else:
        cv = StratifiedKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    cal = CalibratedClassifierCV(clone(base), method=method, cv=cv, ensemble=False).fit(X, y01)
    return cal.calibrated_classifiers_[0].estimator, cal


def calibrate_raw(predictor: Any, base: Any, raw: np.ndarray) -> np.ndarray:
    """The calibrated probability of raw scores of ``base``, as ``predictor.predict_proba`` would give it.

    ``(base, predictor)`` is what :func:`fit_calibrated` returned.  Without calibration the
    probability is the sigmoid of the raw score; with one cross-fitted calibrator it maps the
    raw score (scikit-learn calibrates ``decision_function`` when the estimator has one, else
    the sigmoid probability).  NotImplementedError when the calibration is not one such map.
    """
    raw = np.asarray(raw, dtype=float)
    if predictor is base:
        return expit(raw)
    try:
        (cal,) = predictor.calibrated_classifiers_
        (calibrator,) = cal.calibrators
    except (AttributeError, ValueError):
        raise NotImplementedError("the calibration is not one map of the raw score") from None
    on_raw = hasattr(cal.estimator, "decision_function")
    p = np.asarray(calibrator.predict(raw if on_raw else expit(raw)), dtype=float)
    return np.clip(p, 0.0, 1.0)


class CalibratedPredictMixin:
    """Prediction shared by the calibrated learned models: ``predictor_`` gives the PD."""

    predictor_: Any  # set by fit (annotations only: check_is_fitted still sees an unfitted model)
    n_features_in_: int

    @property
    def features_(self) -> list[str]:
        """The model's feature columns, in order (``x0, x1, ...`` when fitted on an array)."""
        check_is_fitted(self)
        return [str(c) for c in getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities; column 1 is the PD."""
        check_is_fitted(self)
        p1 = self.predictor_.predict_proba(predict_frame(self, X))[:, 1]
        return np.column_stack([1 - p1, p1])

    def predict(self, X: Any) -> np.ndarray:
        """Class labels with a 0.5 threshold on the PD."""
        return proba_to_label(self, self.predict_proba(X)[:, 1])
