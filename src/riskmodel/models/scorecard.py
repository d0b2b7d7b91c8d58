"""Logistic scorecard: binned features -> weight of evidence -> logistic regression -> PDO points.

Points follow the usual scaling: ``score = offset + factor * ln(odds)`` with
odds = good : bad, ``factor = pdo / ln 2`` and ``offset`` chosen so that odds of
``base_odds`` score ``base_score``.  Each feature's points are its share of the
score, so the points of a customer add up to the score.  Probabilities are
calibrated by cross-fitting (``calibration``); the points and contributions
come from the logistic regression fitted on all training rows.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from riskmodel.models._calibration import CalibratedPredictMixin, fit_calibrated
from riskmodel.models._validation import binary_target, fit_frame, predict_frame
from riskmodel.models.binning import FeatureBins, fit_bins

log = logging.getLogger(__name__)


class WoELogisticRegression(ClassifierMixin, BaseEstimator):
    """Binning + WoE + logistic regression on a frame of 0/1 targets (the scorecard's core).

    Coefficients are kept non-negative in the risk direction: a feature whose
    coefficient comes out negative (a sign flip caused by correlated features,
    which would make its points contradict its bins) is dropped and the
    regression refitted, as scorecard practice requires.
    """

    def __init__(self, max_n_bins: int = 6, min_bin_size: float = 0.05, C: float = 1.0,
                 max_features: int | None = None) -> None:
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.C = C
        self.max_features = max_features

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "WoELogisticRegression":
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"WoELogisticRegression needs 2 classes, got {len(self.classes_)} class")
        self.features_ = list(X.columns)
        self.bins_ = {
            f: fit_bins(f, X[f], y, max_n_bins=self.max_n_bins, min_bin_size=self.min_bin_size)
            for f in self.features_
        }
        woe = self._woe(X)
        ivs = np.array([self.bins_[f].iv for f in self.features_])
        keep = ivs > 1e-6
        if self.max_features is not None and keep.sum() > self.max_features:
            keep &= ivs >= np.sort(ivs[keep])[::-1][self.max_features - 1]
        self.coef_ = np.zeros(len(self.features_))
        self.intercept_ = float(np.log(y.mean() / (1 - y.mean())))
        for _ in range(len(self.features_) + 1):
            if not keep.any():
                break
            lr = LogisticRegression(C=self.C, max_iter=2000).fit(woe[:, keep], y)
            coef = lr.coef_[0]
            if (coef >= 0).all():
                self.coef_[:] = 0.0
                self.coef_[keep] = coef
                self.intercept_ = float(lr.intercept_[0])
                break
            keep[np.flatnonzero(keep)[coef < 0]] = False
        self.mean_woe_ = woe.mean(axis=0)
        return self

    def _woe(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([self.bins_[f].transform(X[f]) for f in self.features_])

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of default."""
        return self.intercept_ + self._woe(X) @ self.coef_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p1 = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p1, p1])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]


class LogisticScorecard(CalibratedPredictMixin, ClassifierMixin, BaseEstimator):
    """Points scorecard on binned features, with calibrated probabilities.

    Parameters
    ----------
    max_n_bins, min_bin_size : binning (see :mod:`riskmodel.models.binning`).
    C : inverse L2 regularisation of the logistic regression.
    pdo, base_score, base_odds : points scaling; ``base_odds`` (good : bad) scores ``base_score``
        and every doubling of the odds adds ``pdo`` points.
    max_features : keep at most this many features, by information value.
    calibration : {"isotonic", "sigmoid", "none"}; calibration_folds : cross-fitting folds.
    random_state : seed of the calibration folds.

    Attributes
    ----------
    model_ : WoELogisticRegression fitted on all rows (bins, WoE, coefficients).
    expected_value_ : float
        Mean training log-odds: ``expected_value_ + contributions(X).sum(axis=1)`` is the
        uncalibrated log-odds of default.
    factor_, offset_ : points scaling.
    classes_, n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    def __init__(
        self,
        max_n_bins: int = 6,
        min_bin_size: float = 0.05,
        C: float = 1.0,
        pdo: float = 20.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        max_features: int | None = None,
        calibration: Literal["isotonic", "sigmoid", "none"] = "sigmoid",
        calibration_folds: int = 3,
        random_state: int | None = 0,
    ) -> None:
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.C = C
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.max_features = max_features
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def __sklearn_tags__(self):  # noqa: ANN204
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        return tags

    def _validate_params(self) -> None:  # noqa: D401 - sklearn-style name
        if not (isinstance(self.max_n_bins, (int, np.integer)) and self.max_n_bins >= 2):
            raise ValueError(f"LogisticScorecard: max_n_bins must be an integer >= 2, got {self.max_n_bins!r}")
        if not 0 < self.min_bin_size < 0.5:
            raise ValueError(f"LogisticScorecard: min_bin_size must be in (0, 0.5), got {self.min_bin_size!r}")
        for name in ("C", "pdo", "base_odds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LogisticScorecard: {name} must be > 0, got {getattr(self, name)!r}")

    def fit(self, X: Any, y: Any, groups: Any = None) -> "LogisticScorecard":
        """Bin, fit the regression on all rows, and cross-fit the calibration.

        ``groups`` (e.g. the customer of each row) keeps a customer's rows in one calibration fold.
        """
        self._validate_params()
        frame = fit_frame(self, X)
        y01 = binary_target(self, y, len(frame))
        base = WoELogisticRegression(self.max_n_bins, self.min_bin_size, self.C, self.max_features)
        self.model_, self.predictor_ = fit_calibrated(
            base, frame, y01, self.calibration, self.calibration_folds, self.random_state,
            groups=None if groups is None else np.asarray(groups),
        )
        self.factor_ = self.pdo / np.log(2.0)
        self.offset_ = self.base_score - self.factor_ * np.log(self.base_odds)
        m = self.model_
        self.expected_value_ = float(m.intercept_ + m.mean_woe_ @ m.coef_)
        n = len(m.features_)
        shift = (self.offset_ - self.factor_ * m.intercept_) / n
        self.bin_points_ = {
            f: -self.factor_ * m.coef_[j] * m.bins_[f].woe + shift for j, f in enumerate(m.features_)
        }
        dropped = [f for j, f in enumerate(m.features_) if m.coef_[j] == 0]
        if dropped:
            log.debug("logistic scorecard: %d features carry no points: %s", len(dropped), dropped[:20])
        return self

    # ------------------------------------------------------------ outputs
    def decision_function(self, X: Any) -> np.ndarray:
        """Uncalibrated log-odds of default."""
        check_is_fitted(self)
        return self.model_.decision_function(predict_frame(self, X))

    def points(self, X: Any) -> pd.DataFrame:
        """Points per feature (rows x features); higher is better, they add up to :meth:`credit_score`."""
        check_is_fitted(self)
        frame = predict_frame(self, X)
        cols = {f: self.bin_points_[f][self.model_.bins_[f].bin_index(frame[f])] for f in self.model_.features_}
        return pd.DataFrame(cols, index=frame.index)

    def credit_score(self, X: Any) -> np.ndarray:
        """Total points: ``offset + factor * ln(good:bad odds)`` of the uncalibrated model."""
        return self.points(X).to_numpy().sum(axis=1)

    def contributions(self, X: Any) -> pd.DataFrame:
        """Linear SHAP in the logit: ``coef_j * (woe_j(x) - mean training woe_j)``; positive raises PD."""
        check_is_fitted(self)
        frame = predict_frame(self, X)
        m = self.model_
        woe = m._woe(frame)
        return pd.DataFrame((woe - m.mean_woe_) * m.coef_, columns=m.features_, index=frame.index)

    def max_points_gap(self, X: Any) -> pd.DataFrame:
        """Points below the feature's best bin (>= 0), per feature."""
        pts = self.points(X)
        best = np.array([self.bin_points_[f][:-1].max() for f in pts.columns])  # unseen bin excluded
        return pd.DataFrame(np.maximum(best - pts.to_numpy(), 0.0), columns=pts.columns, index=pts.index)

    def points_table(self) -> pd.DataFrame:
        """The scorecard: one row per feature and bin with rows, defaults, WoE and points."""
        check_is_fitted(self)
        m = self.model_
        parts = []
        for j, f in enumerate(m.features_):
            t = m.bins_[f].table()
            t["coef"] = m.coef_[j]
            t["points"] = self.bin_points_[f]
            parts.append(t)
        return pd.concat(parts, ignore_index=True)

    @property
    def bins_(self) -> dict[str, FeatureBins]:
        """Bins per feature of the fitted scorecard."""
        check_is_fitted(self)
        return self.model_.bins_
