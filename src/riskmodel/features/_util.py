"""Small numeric helpers shared by the feature families: guarded ratios and column access."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskmodel.exceptions import SchemaError
from riskmodel.features.snapshots import NAT_DAYS, to_days


def safe_ratio(
    num: np.ndarray, den: np.ndarray, cap: float | None = None, zero_to_cap: bool = False
) -> np.ndarray:
    """``num / den`` without inf, clipped to ``[-cap, cap]`` when a cap is given.

    A negative or missing denominator gives NaN.  A zero denominator gives NaN,
    or ``sign(num) * cap`` with ``zero_to_cap`` (e.g. no interest expense: the
    best interest cover); 0 / 0 stays NaN.
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    if cap is not None:
        if zero_to_cap:
            zero = (den == 0) & (num != 0) & ~np.isnan(num)
            out = np.where(zero, np.sign(num) * cap, out)
        out = np.clip(out, -cap, cap)
    return out


def mean_or_nan(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``total / count`` with NaN where count is 0."""
    out = np.full(np.shape(total), np.nan)
    np.divide(total, count, out=out, where=np.asarray(count) > 0)
    return out


def date_days(frame: pd.DataFrame, column: str, table: str, nullable: bool = False) -> np.ndarray:
    """A date column as int64 days; refuse missing values where the contract forbids them."""
    days = to_days(frame[column])
    if not nullable:
        bad = days == NAT_DAYS
        if bad.any():
            raise SchemaError(
                f"{table}.{column}: rule 'not null' broken by {int(bad.sum())} rows; "
                f"first rows: {list(np.flatnonzero(bad)[:5])}"
            )
    return days


def float_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric (or nullable) column as float64 with NaN for missing."""
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def bool_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A boolean column as float64 0/1 (NaN for missing)."""
    return frame[column].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)


def sort_by_customer_date(codes: np.ndarray, days: np.ndarray, ids: pd.Series) -> np.ndarray:
    """Row order by customer, then date, then id (so a later position is a later record)."""
    table = pa.table({"c": codes, "d": days, "id": pa.array(ids, from_pandas=True)})
    return pc.sort_indices(
        table, sort_keys=[("c", "ascending"), ("d", "ascending"), ("id", "ascending")]
    ).to_numpy()
