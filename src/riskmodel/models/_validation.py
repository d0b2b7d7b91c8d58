"""Input validation shared by riskmodel's estimators: frames in, frames out, binary targets.

Every estimator accepts either a pandas DataFrame (columns selected by name, so
extra columns are ignored and the order does not matter; categorical columns
kept) or a plain numeric array (columns named ``x0, x1, ...`` by position, as
in scikit-learn's estimator checks).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

log = logging.getLogger(__name__)


def positional_names(n: int) -> list[str]:
    """Column names given to the columns of a plain array: ``x0, x1, ...``."""
    return [f"x{i}" for i in range(n)]


def _has_str_columns(X: Any) -> bool:
    return isinstance(X, pd.DataFrame) and len(X.columns) > 0 and all(isinstance(c, str) for c in X.columns)


def _frame_dtypes(est: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Keep numeric and categorical columns; strings become categoricals; anything else is refused."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s
        elif pd.api.types.is_bool_dtype(s.dtype):
            out[col] = s.astype("float64")
        elif pd.api.types.is_numeric_dtype(s.dtype):
            if pd.api.types.is_complex_dtype(s.dtype):
                raise ValueError(f"{type(est).__name__}: column {col!r} is complex; complex data is not supported")
            out[col] = s.astype("float64")
        elif isinstance(s.dtype, pd.StringDtype):
            out[col] = s.astype("category")
        elif s.dtype == object:
            is_str = s.dropna().map(lambda v: isinstance(v, str))
            if bool(is_str.all()):
                out[col] = s.astype("category")
            elif not bool(is_str.any()):
                out[col] = pd.to_numeric(s).astype("float64")
            else:
                bad = s.dropna()[~is_str].iloc[:3].tolist()
                raise ValueError(
                    f"{type(est).__name__}: column {col!r} mixes strings with other values "
                    f"(for example {bad}); give it one type"
                )
        else:
            raise ValueError(
                f"{type(est).__name__}: column {col!r} has dtype {s.dtype}; expected numeric, "
                "boolean, string or categorical (convert dates to ages or durations first)"
            )
    return pd.DataFrame(out, index=frame.index)


def fit_frame(est: Any, X: Any) -> pd.DataFrame:
    """Validate ``X`` at fit time and record ``n_features_in_``, ``feature_names_in_``, ``categories_``.

    Returns a DataFrame with string column names, float and categorical columns.
    """
    if _has_str_columns(X):
        if X.shape[0] == 0:
            raise ValueError(f"{type(est).__name__}: found array with 0 sample(s); a minimum of 1 is required")
        frame = _frame_dtypes(est, X)
        est.feature_names_in_ = np.asarray(list(frame.columns), dtype=object)
    else:
        arr = check_array(X, dtype="numeric", ensure_all_finite="allow-nan", ensure_min_samples=1)
        frame = pd.DataFrame(arr.astype("float64", copy=False), columns=positional_names(arr.shape[1]))
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    est.n_features_in_ = frame.shape[1]
    est.categories_ = {
        c: list(frame[c].cat.categories) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)
    }
    return frame


def predict_frame(est: Any, X: Any) -> pd.DataFrame:
    """Validate ``X`` at predict time against what ``fit`` saw; return the model's columns in order.

    A DataFrame is matched by column name (extra columns ignored); categorical
    columns are re-encoded with the training categories (unseen categories
    become missing).  A plain array is matched by position.
    """
    names = list(getattr(est, "feature_names_in_", positional_names(est.n_features_in_)))
    if _has_str_columns(X):
        missing = [c for c in names if c not in X.columns]
        if missing:
            if not hasattr(est, "feature_names_in_") and len(X.columns) == est.n_features_in_:
                return predict_frame(est, X.to_numpy())
            listed = "".join(f"- {c}\n" for c in missing[:20])
            raise ValueError(
                "The feature names should match those that were passed during fit.\n"
                f"Feature names seen at fit time, yet now missing:\n{listed}"
                f"({type(est).__name__} needs {len(missing)} more column(s))"
            )
        frame = _frame_dtypes(est, X[names])
    else:
        arr = check_array(X, dtype=None, ensure_all_finite="allow-nan", ensure_min_samples=1)
        if arr.shape[1] != est.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(est).__name__} is expecting "
                f"{est.n_features_in_} features as input."
            )
        if not est.categories_:
            arr = check_array(arr, dtype="numeric", ensure_all_finite="allow-nan")
        frame = _frame_dtypes(est, pd.DataFrame(arr, columns=names))
    for col, levels in est.categories_.items():
        s = frame[col]
        if not isinstance(s.dtype, pd.CategoricalDtype) or list(s.cat.categories) != levels:
            frame[col] = to_categorical(s, levels)
    for col in frame.columns:
        if col not in est.categories_ and isinstance(frame[col].dtype, pd.CategoricalDtype):
            raise ValueError(
                f"{type(est).__name__}: column {col!r} is categorical now but was numeric at fit time"
            )
    return frame


def to_categorical(values: pd.Series, levels: list[Any]) -> pd.Series:
    """``values`` as a categorical with exactly ``levels``; values outside them become missing."""
    obj = values.astype(object)
    known = obj.isin(levels)
    return pd.Series(pd.Categorical(obj.where(known, None), categories=levels), index=values.index, name=values.name)


def binary_target(est: Any, y: Any, n_rows: int) -> np.ndarray:
    """Check that ``y`` is a binary target of ``n_rows`` labels; set ``classes_``; return 0/1 ints."""
    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y is None")
    y_arr = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(n_rows), y_arr)
    check_classification_targets(y_arr)
    classes, y_enc = np.unique(y_arr, return_inverse=True)
    if len(classes) > 2:
        raise ValueError(
            f"Only binary classification is supported. {type(est).__name__} got y with "
            f"{len(classes)} classes {classes.tolist()[:5]}"
        )
    if len(classes) < 2:
        raise ValueError(
            f"{type(est).__name__} needs two classes, but y has 1 class {classes.tolist()} "
            "(one class is not enough to learn from)"
        )
    est.classes_ = classes
    return y_enc.astype(np.int64)


def proba_to_label(est: Any, p1: np.ndarray) -> np.ndarray:
    """Map P(class 1) to the class labels with a 0.5 threshold."""
    return est.classes_[(np.asarray(p1) > 0.5).astype(int)]
