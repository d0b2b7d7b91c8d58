"""The 5C expert scorecard ("characteristic analysis") as a scikit-learn classifier.

Each indicator maps one feature to points 1..10 (cut points or categories set by
credit experts, see :class:`riskmodel.config.Indicator`); the credit level is
``sum(w * s) / sum(w * 10)``.  ``fit`` learns only a monotone map from the
credit level to a probability of default on the training rows; the weights and
cut points stay the experts'.

Examples
--------
>>> import pandas as pd
>>> from riskmodel.config import Indicator
>>> ind = (Indicator(feature="dpd", c="character", weight=2, cuts=(0, 30), points=(10, 5, 1)),
...        Indicator(feature="equity", c="capital", weight=1, cuts=(0.2,), direction="higher_is_better"))
>>> X = pd.DataFrame({"dpd": [0, 45, 10, 0], "equity": [0.5, 0.1, 0.3, 0.1]})
>>> model = FiveCScorecard(ind).fit(X, [0, 1, 1, 0])
>>> model.credit_level(X).round(3).tolist()
[1.0, 0.1, 0.667, 0.7]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from riskmodel.config import C_NAMES, Indicator
from riskmodel.models._validation import (
    binary_target,
    fit_frame,
    positional_names,
    predict_frame,
    proba_to_label,
)

log = logging.getLogger(__name__)

#: cut points of the default indicators used for plain numeric arrays (standardised scale)
DEFAULT_CUTS: tuple[float, ...] = (-1.28, -0.84, -0.52, -0.25, 0.0, 0.25, 0.52, 0.84, 1.28)


def default_indicators(names: Sequence[str]) -> tuple[Indicator, ...]:
    """Indicators used when none are configured: every column, weight 1, higher is better.

    This is what lets the scorecard run on a plain numeric array (scikit-learn's
    estimator checks); it is not a credit scorecard.  Columns are spread over
    the five Cs in turn; cut points sit at standard-normal quantiles.
    """
    return tuple(
        Indicator(feature=name, c=C_NAMES[i % len(C_NAMES)], weight=1.0, cuts=DEFAULT_CUTS,
                  direction="higher_is_better", missing_points=5.0,
                  rationale="no expert card given: every column scored alike (not a credit judgement)")
        for i, name in enumerate(names)
    )


def _category_key(value: Any) -> str:
    """The string a category mapping is looked up with: integral numbers lose their '.0'."""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def indicator_points(ind: Indicator, values: pd.Series) -> np.ndarray:
    """Points 1..10 of one indicator for a column of values (NaN gets ``missing_points``).

    Numeric: bin i is ``(cuts[i-1], cuts[i]]`` (right-closed; below the first
    cut is bin 0, above the last is bin ``len(cuts)``), scored with ``points[i]``
    or, with a ``direction``, spread linearly from 1 to 10.  Categorical: the
    mapping, keyed by the value's string; values not in the mapping also get
    ``missing_points``.
    """
    if ind.categories is not None:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        table = np.append(category_points(ind, list(uniques)), 0.0)
        out = table[np.where(codes < 0, len(uniques), codes)]
        return np.where(codes < 0, ind.missing_points, out).astype(float)
    if isinstance(values.dtype, pd.CategoricalDtype):
        raise ValueError(
            f"baseline indicator '{ind.feature}' has cut points but the column is categorical; "
            "give it 'categories' instead"
        )
    return numeric_points(ind, pd.to_numeric(values, errors="raise").to_numpy(dtype=float, na_value=np.nan))


def category_points(ind: Indicator, values: Sequence[Any]) -> np.ndarray:
    """Points of a categorical indicator for each of ``values`` (looked up by their string; unknown ->
    ``missing_points``)."""
    cats = ind.categories or {}
    return np.array([cats.get(_category_key(v), ind.missing_points) for v in values], dtype=float)


def point_rule(ind: Indicator, levels: Sequence[str] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """The rule of :func:`encoded_points` for one indicator, its lookup tables built once.

    Batch scoring and the service build one per indicator when the scorer is made and apply it
    to every batch (building the tables cost more than applying them to one customer).
    """
    if ind.categories is not None:
        if levels is None:  # numeric values keyed as strings
            return lambda x: indicator_points(ind, pd.Series(x))
        cat_table = np.append(category_points(ind, list(levels)), ind.missing_points)
        n_levels = len(levels)
        return lambda x: cat_table[np.where(np.isnan(x), n_levels, x).astype(np.int64)]
    return _numeric_rule(ind)


def encoded_points(ind: Indicator, x: np.ndarray, levels: Sequence[str] | None = None) -> np.ndarray:
    """Points of one indicator on an encoded float column, the rule of :func:`indicator_points`.

    ``x`` holds numbers, or, for a categorical indicator with ``levels``, level codes
    (``levels[int(code)]``); NaN is missing.  Used by batch scoring on its feature matrix.
    """
    return point_rule(ind, levels)(x)


def _numeric_table(ind: Indicator) -> tuple[np.ndarray, np.ndarray]:
    """(cuts, points of each bin) of a numeric indicator: bin i (right-closed) scores ``table[i]``."""
    cuts = np.asarray(ind.cuts, dtype=float)
    k = len(cuts)
    if ind.points is not None:
        table = np.asarray(ind.points, dtype=float)
    elif ind.direction == "higher_is_better":
        table = 1.0 + 9.0 * np.arange(k + 1) / k
    else:
        table = 10.0 - 9.0 * np.arange(k + 1) / k
    return cuts, table


class NumericPoints:
    """Points 1..10 of several numeric indicators at once (right-closed bins; NaN -> missing_points).

    The one rule for numeric indicators: :func:`numeric_points` is this class with one indicator.
    A value scores the points of the bin after the cuts strictly below it (``searchsorted`` with
    ``side="left"``), counted for every indicator in one array pass; cuts are padded with +inf.
    """

    def __init__(self, inds: Sequence[Indicator]) -> None:
        tables = [_numeric_table(i) for i in inds]
        width = max((len(c) for c, _ in tables), default=0)
        self.cuts = np.full((len(tables), width), np.inf)
        self.points = np.zeros((len(tables), width + 1))
        for m, (cuts, table) in enumerate(tables):
            self.cuts[m, :len(cuts)] = cuts
            self.points[m, :len(table)] = table
        self.missing = np.array([i.missing_points for i in inds], dtype=float)
        self._rows = np.arange(len(tables))[:, None]

    def __call__(self, XT: np.ndarray) -> np.ndarray:
        """Points (indicators x rows) of ``XT`` (indicators x rows of float values)."""
        XT = np.asarray(XT, dtype=float)
        # the points of the bin after the cuts strictly below each value (the +inf padding never is);
        # NaN scores missing_points
        if XT.shape[1] <= 256 or not len(XT):  # few rows (the REST service): every value against every cut
            pts = self.points[self._rows, (XT[:, :, None] > self.cuts[:, None, :]).sum(axis=2)]
        else:  # many rows: a binary search per indicator is cheaper than comparing with every cut
            pts = np.stack([self.points[m][np.searchsorted(self.cuts[m], XT[m], side="left")]
                            for m in range(len(XT))])
        return np.where(np.isnan(XT), self.missing[:, None], pts)


def _numeric_rule(ind: Indicator) -> Callable[[np.ndarray], np.ndarray]:
    table = NumericPoints([ind])
    return lambda x: table(np.asarray(x, dtype=float)[None, :])[0]


def numeric_points(ind: Indicator, x: np.ndarray) -> np.ndarray:
    """Points 1..10 of a numeric indicator for float values (right-closed bins; NaN -> missing_points)."""
    return _numeric_rule(ind)(x)


class FiveCScorecard(ClassifierMixin, BaseEstimator):
    """Weighted 5C expert scorecard with a learned monotone map from credit level to PD.

    Parameters
    ----------
    indicators : tuple of Indicator, optional
        The experts' indicators (feature, C, weight, cuts/points or categories,
        missing points).  With a DataFrame the features are columns by name
        (extra columns are ignored); with a plain array, ``x0, x1, ...`` by
        position.  ``None`` scores every column with :func:`default_indicators`.
    link : {"logistic", "isotonic"}
        How the credit level is mapped to a probability of default: a logistic
        regression on the level, or an isotonic (decreasing) regression.

    Attributes
    ----------
    indicators_ : tuple of Indicator
        The indicators in use.
    classes_ : ndarray
        The two class labels; ``classes_[1]`` is the default.
    mean_points_ : ndarray
        Mean training points per indicator (the reference of :meth:`contributions`).
    expected_value_ : float
        ``1 - mean training credit level``: ``expected_value_ + contributions(X).sum(axis=1)``
        equals ``1 - credit_level(X)`` (the risk level; higher is riskier).
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    def __init__(
        self,
        indicators: tuple[Indicator, ...] | None = None,
        link: Literal["logistic", "isotonic"] = "logistic",
    ) -> None:
        self.indicators = indicators
        self.link = link

    # ------------------------------------------------------------ plumbing
    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn's Tags type
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.poor_score = True  # fixed expert weights: not a learner
        return tags

    def _select(self, X: Any) -> Any:
        """The indicator columns of a DataFrame (any other column is ignored)."""
        if self.indicators is None or not isinstance(X, pd.DataFrame):
            return X
        wanted = [i.feature for i in self.indicators]
        missing = [f for f in wanted if f not in X.columns]
        if missing:
            raise ValueError(
                f"FiveCScorecard: the data has no column for indicator(s) {missing}; "
                f"available columns start with {list(X.columns)[:10]}"
            )
        return X[wanted]

    def _indicator_frame(self, X: Any, fitting: bool) -> pd.DataFrame:
        X = self._select(X)
        return fit_frame(self, X) if fitting else predict_frame(self, X)

    # ----------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any) -> "FiveCScorecard":
        """Score the training rows and fit the map from credit level to PD."""
        if self.link not in ("logistic", "isotonic"):
            raise ValueError(f"FiveCScorecard: link must be 'logistic' or 'isotonic', got {self.link!r}")
        if self.indicators is not None:
            inds = tuple(self.indicators)
            if not inds:
                raise ValueError("FiveCScorecard: indicators is empty; give at least one indicator")
            if not all(isinstance(i, Indicator) for i in inds):
                raise TypeError("FiveCScorecard: indicators must be riskmodel.config.Indicator objects")
        frame = self._indicator_frame(X, fitting=True)
        y01 = binary_target(self, y, len(frame))
        if self.indicators is None:
            names = list(getattr(self, "feature_names_in_", positional_names(frame.shape[1])))
            self.indicators_ = default_indicators(names)
        else:
            self.indicators_ = inds
            if not hasattr(self, "feature_names_in_"):
                expected = positional_names(frame.shape[1])
                unknown = [i.feature for i in inds if i.feature not in expected]
                if unknown:
                    raise ValueError(
                        f"FiveCScorecard: X has no column names, so indicators must be named x0..x"
                        f"{frame.shape[1] - 1} by position; got {unknown}"
                    )
        self._warn_unknown_categories(frame)
        pts = self._points_array(frame)
        self.weights_ = self._fit_weights(pts, y01)
        level = self.level_from_points(pts)
        self.mean_points_ = pts.mean(axis=0)
        self.expected_value_ = float(1.0 - level.mean())
        if self.link == "logistic":
            self.link_ = LogisticRegression(C=1e6, max_iter=1000).fit(level.reshape(-1, 1), y01)
        else:
            self.link_ = IsotonicRegression(increasing=False, out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6)
            self.link_.fit(level, y01)
        return self

    def _fit_weights(self, pts: np.ndarray, y01: np.ndarray) -> np.ndarray:
        """The weights of the credit level: the experts' (a refitted card overrides this)."""
        return np.array([i.weight for i in self.indicators_], dtype=float)

    def _warn_unknown_categories(self, frame: pd.DataFrame) -> None:
        for ind in self.indicators_:
            if ind.categories is None:
                continue
            seen = pd.unique(frame[ind.feature].dropna())
            unknown = sorted({_category_key(v) for v in seen} - set(ind.categories))
            if unknown:
                log.warning(
                    "baseline indicator %r: categories %s are not in the expert mapping; they score "
                    "missing_points=%s", ind.feature, unknown[:10], ind.missing_points,
                )

    def _points_array(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([indicator_points(i, frame[i.feature]) for i in self.indicators_])

    # ------------------------------------------------------------- scoring
    def points(self, X: Any) -> pd.DataFrame:
        """Points 1..10 per indicator (rows x indicator features)."""
        check_is_fitted(self)
        frame = self._indicator_frame(X, fitting=False)
        return pd.DataFrame(self._points_array(frame), columns=self.features_, index=frame.index)

    @property
    def features_(self) -> list[str]:
        """The indicator features, in indicator order."""
        check_is_fitted(self)
        return [i.feature for i in self.indicators_]

    def credit_level(self, X: Any) -> np.ndarray:
        """Credit level 0.1..1 per row: ``sum(w * s) / sum(w * 10)`` (higher is better)."""
        return self.level_from_points(self.points(X).to_numpy())

    def sub_scores(self, X: Any) -> pd.DataFrame:
        """One level per C (columns in the order character..conditions, those used only).

        The level of a C is ``sum(w * s) / sum(w * 10)`` over that C's indicators
        (a C whose weights are all zero, possible only in a refitted card, is left out).
        """
        pts_df = self.points(X)
        return pd.DataFrame(self.sub_levels_from_points(pts_df.to_numpy()), index=pts_df.index)

    # the one 5C formula: fit, credit_level, sub_scores and batch scoring (on its matrix) all use these
    def level_from_points(self, pts: np.ndarray) -> np.ndarray:
        """Credit level from indicator points (rows x ``indicators_``): ``sum(w * s) / sum(w * 10)``.

        Summed row by row (not a BLAS product, whose order of additions depends on the number of
        rows), so a customer's level is the same to the last bit whatever batch it is scored in.
        """
        check_is_fitted(self)
        return (np.asarray(pts, dtype=float) * self.weights_).sum(axis=1) / (10.0 * self.weights_.sum())

    def sub_levels_from_points(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        """One level per C from indicator points, as :meth:`sub_scores` (C -> array, zero-weight Cs left out)."""
        check_is_fitted(self)
        pts = np.asarray(pts, dtype=float)
        out = {}
        for c in C_NAMES:
            mask = np.array([i.c == c for i in self.indicators_])
            if mask.any() and self.weights_[mask].sum() > 0:  # a refitted card may zero a whole C
                w = self.weights_[mask]
                out[c] = (pts[:, mask] * w).sum(axis=1) / (10.0 * w.sum())  # row by row, as level_from_points
        return out

    def contributions(self, X: Any) -> pd.DataFrame:
        """Weight-normalised points relative to the training mean; positive raises the risk.

        ``w_j * (mean_train_s_j - s_j) / sum(w * 10)``; their row sum plus
        ``expected_value_`` equals ``1 - credit_level(X)``.
        """
        pts = self.points(X)
        contrib = (self.mean_points_ - pts.to_numpy()) * self.weights_ / (10.0 * self.weights_.sum())
        return pd.DataFrame(contrib, columns=pts.columns, index=pts.index)

    def max_points_gap(self, X: Any) -> pd.DataFrame:
        """Weighted points below the maximum per indicator: ``w_j * (10 - s_j)``.

        Divided by ``sum(w * 10)`` this is the credit level the indicator costs the customer.
        """
        pts = self.points(X)
        return pd.DataFrame((10.0 - pts.to_numpy()) * self.weights_, columns=pts.columns, index=pts.index)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities ``[P(classes_[0]), P(classes_[1])]``; column 1 is the PD."""
        level = self.credit_level(X)
        if self.link == "logistic":
            p1 = self.link_.predict_proba(level.reshape(-1, 1))[:, 1]
        else:
            p1 = self.link_.predict(level)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> np.ndarray:
        """Class labels with a 0.5 threshold on the PD."""
        return proba_to_label(self, self.predict_proba(X)[:, 1])
