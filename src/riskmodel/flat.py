"""The flat-table path: a ready-made modelling table (one row per case, a 0/1 target) to a comparison.

``load_flat_table`` reads and checks the table, ``split_flat`` chooses between
an out-of-time split (with a time column) and stratified cross-validation,
``load_baseline_file`` reads a 5C baseline YAML, and ``train_flat`` runs the
comparison.  ``pipeline.run_train_table`` wires these to files, MLflow and the
report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from riskmodel.config import BaselineSettings, Settings, SplitSettings
from riskmodel.data import schemas
from riskmodel.exceptions import ConfigError, DataNotFoundError, SchemaError
from riskmodel.io import read_frame
from riskmodel.training import TrainResult, cross_validate_and_compare, train_and_compare

log = logging.getLogger(__name__)

#: string target values read as "default" (case-insensitive) when a target has two string values
POSITIVE_WORDS = frozenset({"1", "true", "t", "yes", "y", "bad", "default", "defaulted", "positive"})
NEGATIVE_WORDS = frozenset({"0", "false", "f", "no", "n", "good", "non-default", "nondefault", "negative"})


def _rows(index: pd.Index, mask: np.ndarray) -> str:
    where = list(index[mask][:5])
    return f"{int(mask.sum())} row(s), first at rows {where}"


def binary_target(values: pd.Series, table: str = "table") -> tuple[np.ndarray, dict[Any, int]]:
    """Read a target column as 0/1; return the labels and the mapping used.

    0/1 (or booleans) are taken as they are.  Two other numeric values: the
    larger is the default (e.g. German credit's ``class`` 1 = good, 2 = bad).
    Two strings: the one that reads as a default word (``bad``, ``yes``,
    ``default``, ...) when exactly one does.  Anything else is refused with the
    column, the values found and the offending rows.
    """
    col = values.name
    missing = values.isna().to_numpy()
    if missing.any():
        raise SchemaError(f"{table}: target column {col!r} has missing values: {_rows(values.index, missing)}")
    uniq = pd.unique(values)
    if len(uniq) != 2:
        raise SchemaError(
            f"{table}: target column {col!r} must hold exactly two values (0/1), found {len(uniq)}: "
            f"{sorted(map(str, uniq))[:10]}"
        )
    if pd.api.types.is_bool_dtype(values.dtype):
        mapping: dict[object, int] = {False: 0, True: 1}
    elif pd.api.types.is_numeric_dtype(values.dtype):
        lo, hi = sorted(float(u) for u in uniq)
        mapping = {lo: 0, hi: 1}
        values = values.astype(float)
    else:
        words = {str(u).strip().lower(): u for u in uniq}
        pos = [w for w in words if w in POSITIVE_WORDS]
        neg = [w for w in words if w in NEGATIVE_WORDS]
        if len(pos) == 1 and (len(neg) == 1 or len(words) == 2) and pos[0] not in neg:
            mapping = {words[w]: (1 if w == pos[0] else 0) for w in words}
        else:
            raise SchemaError(
                f"{table}: target column {col!r} has values {sorted(map(str, uniq))}; cannot tell which one "
                "means default. Recode it as 0/1 (1 = default)"
            )
    y = values.map(mapping).to_numpy(dtype=np.int64)
    return y, mapping


def find_target_proxies(X: pd.DataFrame, y: np.ndarray, max_levels: int = 20) -> list[str]:
    """Columns that are a relabelling of the target (each of their values occurs with one class only).

    Only columns with at most ``max_levels`` distinct values and no missing
    values are considered, so identifiers and continuous features are not
    flagged by chance.
    """
    out = []
    for c in X.columns:
        s = X[c]
        if s.isna().any():
            continue
        n_levels = s.nunique()
        if n_levels < 2 or n_levels > max_levels:
            continue
        purity = pd.Series(y, index=s.index).groupby(s.astype(str).to_numpy()).nunique()
        if (purity == 1).all():
            out.append(c)
    return out


def load_flat_table(
    path: Path | str,
    target: str,
    id_col: str | None = None,
    time_col: str | None = None,
    drop: Sequence[str] = (),
) -> tuple[pd.DataFrame, np.ndarray, pd.Series | None, pd.Series | None]:
    """Read a modelling table (CSV or Parquet) into features, 0/1 target, ids and times.

    Object and string columns become pandas categoricals; missing values are
    kept.  Columns named in ``drop``, and columns that merely relabel the
    target (e.g. German credit's ``class`` next to ``default``; logged as a
    warning), are not features.

    Raises
    ------
    DataNotFoundError if the file is missing; SchemaError naming the column and
    the offending values or rows for a bad target, id or time column.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"flat table not found: {p}")
    return _flat_from_frame(read_frame(p), p.name, target, id_col, time_col, drop)


def _flat_from_frame(df: pd.DataFrame, name: str, target: str, id_col: str | None, time_col: str | None,
                     drop: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray, pd.Series | None, pd.Series | None]:
    """:func:`load_flat_table` on a frame already read (``name`` for messages)."""
    needed = [c for c in (target, id_col, time_col, *drop) if c is not None]
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise SchemaError(f"{name}: column(s) {absent} not found; the table has {list(df.columns)[:30]}")
    y, mapping = binary_target(df[target], name)
    if set(mapping) not in ({0.0, 1.0}, {False, True}):
        log.info("target %r read as default = %s", target, {str(k): v for k, v in mapping.items()})
    ids = None
    if id_col is not None:
        ids = df[id_col].astype(str)
        dup = ids.duplicated(keep=False).to_numpy()
        if dup.any():
            raise SchemaError(
                f"{name}: id column {id_col!r} is not unique: {_rows(df.index, dup)} "
                f"(ids {ids[dup].unique()[:5].tolist()})"
            )
        if df[id_col].isna().any():
            na = df[id_col].isna().to_numpy()
            raise SchemaError(f"{name}: id column {id_col!r} has missing values: {_rows(df.index, na)}")
    times = None
    if time_col is not None:
        raw = df[time_col]
        times = raw if pd.api.types.is_numeric_dtype(raw.dtype) else pd.to_datetime(raw, errors="coerce")
        bad = times.isna().to_numpy()
        if bad.any():
            raise SchemaError(
                f"{name}: time column {time_col!r} has missing or unreadable values: {_rows(df.index, bad)} "
                f"(values {raw[bad].astype(str).unique()[:5].tolist()})"
            )
    X = df.drop(columns=[c for c in dict.fromkeys(needed)])
    proxies = find_target_proxies(X, y)
    if proxies:
        log.warning("columns %s only relabel the target %r; they are not used as features", proxies, target)
        X = X.drop(columns=proxies)
    for c in X.columns:
        s = X[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            X[c] = s.astype("float64")
        elif not pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
            if pd.api.types.is_datetime64_any_dtype(s.dtype):
                raise SchemaError(f"{name}: column {c!r} holds dates; give it as --time or turn it into an age")
            X[c] = s.astype("string").astype("category")
    if X.shape[1] == 0:
        raise SchemaError(f"{name}: no feature columns left besides {needed}")
    return X, y, ids, times


def load_flat_panel(
    path: Path | str,
    target: str,
    group_col: str,
    id_col: str | None = None,
    time_col: str | None = None,
    drop: Sequence[str] = (),
) -> tuple[pd.DataFrame, np.ndarray, pd.Series | None, pd.Series | None, pd.Series]:
    """:func:`load_flat_table` for a panel table (e.g. customer x snapshot): also the group of each row.

    ``group_col`` (the customer) is not a feature; it keeps a group's rows in one fold,
    clusters the intervals, and no row id is needed.  Raises SchemaError naming the rows
    where it is missing.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"flat table not found: {p}")
    df = read_frame(p)
    if group_col not in df.columns:
        raise SchemaError(f"{p.name}: group column {group_col!r} not found; the table has {list(df.columns)[:30]}")
    na = df[group_col].isna().to_numpy()
    if na.any():
        raise SchemaError(f"{p.name}: group column {group_col!r} has missing values: {_rows(df.index, na)}")
    groups = df[group_col].astype(str).reset_index(drop=True)
    X, y, ids, times = _flat_from_frame(df, p.name, target, id_col, time_col, (*drop, group_col))
    return X, y, ids, times, groups


@dataclass(frozen=True)
class FlatSplit:
    """How a flat table is evaluated: out of time (train/test positions) or k-fold cross-validation."""

    kind: Literal["out_of_time", "cv"]
    train: np.ndarray | None = None
    test: np.ndarray | None = None
    cutoff: Any = None
    folds: int | None = None


def split_flat(y: np.ndarray, times: pd.Series | None, split: SplitSettings) -> FlatSplit:
    """Out of time with a time column, else stratified ``split.cv_folds``-fold cross-validation.

    Out of time: the test set is the latest ``split.flat_test_share`` of the
    rows by time (rows sharing a time stay together): every row whose time is
    after the cutoff, the time at the ``1 - share`` quantile.
    """
    if times is None:
        return FlatSplit(kind="cv", folds=split.cv_folds)
    t = pd.Series(times).reset_index(drop=True)
    if len(t) != len(y):
        raise ValueError(f"times has {len(t)} values for {len(y)} rows")
    order = t.sort_values(kind="stable")
    k = int(np.floor(len(t) * (1 - split.flat_test_share)))
    k = min(max(k, 1), len(t) - 1)
    cutoff = order.iloc[k - 1]
    test = np.flatnonzero((t > cutoff).to_numpy())
    train = np.flatnonzero((t <= cutoff).to_numpy())
    if len(test) == 0 or len(train) == 0:
        raise SchemaError(f"time column has too few distinct values to hold out the latest {split.flat_test_share:.0%}")
    for part, idx in (("training", train), ("test", test)):
        if len(np.unique(y[idx])) < 2:
            raise SchemaError(f"the out-of-time {part} rows hold one class only; need defaults and non-defaults")
    return FlatSplit(kind="out_of_time", train=train, test=test, cutoff=cutoff)


def load_baseline_file(path: Path | str) -> BaselineSettings:
    """Read a 5C baseline YAML (``indicators:`` list, optionally under ``baseline:``)."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"baseline file not found: {p}")
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML: {err}") from None
    if isinstance(doc, dict) and "baseline" in doc and "indicators" not in doc:
        doc = doc["baseline"]
    if not isinstance(doc, dict) or "indicators" not in doc:
        raise ConfigError(f"{p}: expected a mapping with an 'indicators' list")
    try:
        return BaselineSettings.model_validate(doc)
    except ValidationError as err:
        lines = [f"invalid baseline in {p}:"]
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"])
            lines.append(f"  - {loc}: {e['msg']}")
        raise ConfigError("\n".join(lines)) from None


def train_flat(
    X: pd.DataFrame,
    y: np.ndarray,
    settings: Settings,
    baseline: BaselineSettings | None = None,
    ids: pd.Series | None = None,
    times: pd.Series | None = None,
    data_info: dict[str, Any] | None = None,
    groups: pd.Series | None = None,
) -> TrainResult:
    """Compare the baseline and the learned models on a flat table (out of time or cross-validated).

    ``groups`` (a panel table's customer, ``--group``) keeps each group's rows in one
    fold (cross-validation, calibration and model-selection folds) and clusters the
    intervals and tests by group.
    """
    split = split_flat(y, times, settings.split)
    info = {"source": "table", **(data_info or {})}
    keys = None
    cols = (("id", ids), ("time", times), (schemas.CUSTOMER_ID, groups))
    if any(v is not None for _, v in cols):
        keys = pd.DataFrame({k: v.reset_index(drop=True) for k, v in cols if v is not None})
    g = None if groups is None else groups.astype(str).to_numpy()
    if split.kind == "cv":
        info.setdefault("split", f"cv{split.folds}")
        return cross_validate_and_compare(X, y, settings, baseline, info, folds=split.folds, keys=keys, groups=g)
    info.setdefault("split", "out_of_time")
    info["time_cutoff"] = str(split.cutoff)
    return train_and_compare(
        X.iloc[split.train], y[split.train], X.iloc[split.test], y[split.test], settings, baseline, info,
        test_keys=None if keys is None else keys.iloc[split.test],
        train_groups=None if g is None else g[split.train],
    )
