"""Table utilities of scoring: the data's date span, the default and checked as-of date, customer subsets and chunks.

Moved unchanged from the former ``riskmodel/scoring.py`` (engineer ``scale`` moves them
to ``riskmodel.data`` on its own branch); re-exported by :mod:`riskmodel.scoring`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.exceptions import NoDataError

#: an as-of date more than this many days after the last record is refused (no data describes it)
MAX_DAYS_AFTER_DATA = 366

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def data_span(tables: Tables) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last record dates over the dated tables (invoices, payments, statements, visits, events)."""
    from riskmodel.features.build import DATA_DATES

    frames = tables.as_dict()
    lo, hi = [], []
    for table, column in DATA_DATES:
        col = pd.to_datetime(frames[table][column]) if len(frames[table]) else pd.Series(dtype="datetime64[ns]")
        if col.notna().any():
            lo.append(col.min())
            hi.append(col.max())
    if not lo:
        raise NoDataError("the tables hold no dated record (no invoice, statement, visit or event)")
    return min(lo), max(hi)


def default_as_of(last: pd.Timestamp) -> pd.Timestamp:
    """The latest quarter end on or before the last record date."""
    last = pd.Timestamp(last).normalize()
    q = last.to_period("Q").end_time.normalize()
    return q if q <= last else (last.to_period("Q") - 1).end_time.normalize()


def parse_as_of(as_of: Any) -> pd.Timestamp:
    """A scoring date from an ISO ``YYYY-MM-DD`` string or a date; NoDataError otherwise.

    Only ISO dates are read: ``01/02/2024`` could be 1 February or 2 January, so it is refused.
    """
    if isinstance(as_of, str) and not _ISO_DATE.fullmatch(as_of.strip()):
        raise NoDataError(f"as-of date {as_of[:40]!r} is not an ISO date; use YYYY-MM-DD (e.g. 2024-12-31)")
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise NoDataError(f"as-of date {as_of!r} is not a date; use YYYY-MM-DD") from None
    if pd.isna(ts):
        raise NoDataError(f"as-of date {as_of!r} is not a date; use YYYY-MM-DD")
    return ts.normalize()


def check_as_of(as_of: pd.Timestamp, first: pd.Timestamp, last: pd.Timestamp,
                max_gap_days: int = MAX_DAYS_AFTER_DATA) -> None:
    """Refuse dates with no data: on or before the first record, or long after the last."""
    if as_of <= first:
        raise NoDataError(f"no data before the as-of date {as_of.date()}: the records start on {first.date()}")
    if (as_of - last).days > max_gap_days:
        raise NoDataError(f"as-of date {as_of.date()} is {(as_of - last).days} days after the last record "
                          f"({last.date()}); the data does not describe customers at that date "
                          f"(allowed: up to {max_gap_days} days)")


def subset_tables(tables: Tables, customer_ids: Sequence[str]) -> Tables:
    """The six tables restricted to some customers."""
    ids = pd.Index(pd.Series(list(customer_ids), dtype="str"))
    return Tables(**{name: frame[frame[S.CUSTOMER_ID].astype("str").isin(ids)]
                     for name, frame in tables.as_dict().items()})


def chunk_tables(tables: Tables, sorted_ids: np.ndarray, size: int) -> Iterator[tuple[slice, Tables]]:
    """Split the six tables into chunks of ``size`` customers (``sorted_ids`` ascending).

    Each table is sorted by customer once; a chunk is then a contiguous slice of
    every table found by binary search, so the cost does not grow with the number
    of chunks times the number of rows.
    """
    frames = {}
    for name, frame in tables.as_dict().items():
        key = frame[S.CUSTOMER_ID].astype("str")
        order = np.argsort(key.to_numpy(), kind="stable")
        frames[name] = (frame.iloc[order], key.to_numpy()[order])
    for sl in iter_chunks(len(sorted_ids), size):
        first, last = sorted_ids[sl][0], sorted_ids[sl][-1]
        part = {}
        for name, (frame, keys) in frames.items():
            lo = np.searchsorted(keys, first, side="left")
            hi = np.searchsorted(keys, last, side="right")
            part[name] = frame.iloc[lo:hi]
        yield sl, Tables(**part)


def iter_chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``size`` rows."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    for lo in range(0, n, size):
        yield slice(lo, min(n, lo + size))
