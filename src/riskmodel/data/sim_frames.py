"""Simulator output helpers: identifiers, dates and categories typed as the data contract says."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def make_ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """Identifiers such as ``INV0000001``: ``prefix`` + zero-padded ``numbers`` (string dtype)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pd.Series(pc.binary_join_element_wise(prefix, digits, ""), dtype="str")


def id_width(n: int, minimum: int) -> int:
    """Digits needed for ``n`` identifiers, at least ``minimum``."""
    return max(minimum, len(str(max(n, 1))))


def take_ids(ids: pd.Series, index: np.ndarray) -> pd.Series:
    """``ids[index]`` as a fresh string Series (vectorised, no Python loop)."""
    arr = pa.array(ids.array)  # zero-copy for Arrow-backed strings
    return pd.Series(arr.take(pa.array(np.asarray(index, dtype=np.int64))), dtype="str")


def to_dates(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Integer days since 1970-01-01 as ``datetime64[ns]`` (NaT where ``missing``)."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return out


def to_category(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    """Integer codes as a categorical over the contract's enumeration."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=list(categories))


def to_rating(values: np.ndarray, missing: np.ndarray | None = None) -> pd.arrays.IntegerArray:
    """Integer ratings as nullable ``Int64`` (NA where ``missing``)."""
    vals = np.asarray(values, dtype=np.int64)
    mask = np.zeros(len(vals), dtype=bool) if missing is None else np.asarray(missing, dtype=bool)
    return pd.arrays.IntegerArray(vals, mask.copy())
