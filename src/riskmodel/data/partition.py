"""Table utilities shared by every stage: the data's date span, the scoring date, customer subsets and chunks.

Moved out of ``riskmodel.scoring`` (issue 14): they are about the input tables, not the model.

Chunking is by customer, never splitting a customer's records, and is cheap: the
customer ids are mapped once to integer codes (their rank among the sorted
customer ids, by a hash lookup) and every table is ordered by that integer code
with a stable sort, instead of sorting object or Arrow strings per table. A
chunk is then a contiguous range of the order, found by binary search over the
integer codes, and only the chunk's rows are copied (``take``), so the tables are
never copied whole a second time: chunking lowers peak memory instead of adding
a reordered copy of every table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
    """The tables restricted to some customers (rows kept in their order)."""
    ids = pd.Index(pd.Series(list(customer_ids), dtype="str")).unique()
    return Tables(**{name: frame[customer_codes(frame[S.CUSTOMER_ID], ids) >= 0]
                     for name, frame in tables.as_dict().items()})


def customer_codes(column: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each row's customer id in ``ids`` (unique), -1 for an id not in it or missing.

    One hash lookup per row (Arrow's ``index_in``, about 15 times faster than
    ``Index.get_indexer`` on text) on the ids as text: the integer code is what
    chunking sorts and slices on.
    """
    if len(column) == 0:
        return np.zeros(0, dtype=np.int64)
    text = column if pd.api.types.is_string_dtype(column.dtype) else column.astype("str")
    found = pc.index_in(pa.array(text, from_pandas=True, type=pa.large_string()),
                        value_set=pa.array(ids.to_series(), from_pandas=True, type=pa.large_string()))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def customer_order(column: pd.Series, ids: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """The rows' order by customer (stable) and the sorted customer codes, for slicing by customer range.

    Rows whose customer is not in ``ids`` get code -1 and sort first, so no range
    ``[lo, hi)`` with ``lo >= 0`` ever holds them.
    """
    codes = customer_codes(column, ids)
    order = np.argsort(codes, kind="stable")  # integers: a radix sort, not a string comparison sort
    return order, codes[order]


def chunk_tables(tables: Tables, sorted_ids: np.ndarray, size: int) -> Iterator[tuple[slice, Tables]]:
    """Split the tables into chunks of ``size`` customers of ``sorted_ids`` (ascending, unique).

    Chunk ``k`` holds every row of the customers ``sorted_ids[k*size:(k+1)*size]``
    in every table (a customer's records are never split), in the table's own
    row order within a customer. Rows of a customer not in ``sorted_ids`` are in no chunk.
    Each table is ordered once by an integer customer code (see the module
    docstring); a chunk copies only its own rows.
    """
    ids = pd.Index(pd.Series(np.asarray(sorted_ids), dtype="str"))
    if not ids.is_unique:
        raise ValueError("chunk_tables: sorted_ids holds repeated customer ids")
    orders = {name: customer_order(frame[S.CUSTOMER_ID], ids) for name, frame in tables.as_dict().items()}
    frames = tables.as_dict()
    for sl in iter_chunks(len(ids), size):
        part = {}
        for name, (order, codes) in orders.items():
            lo = int(np.searchsorted(codes, sl.start, side="left"))
            hi = int(np.searchsorted(codes, sl.stop, side="left"))
            part[name] = frames[name].take(order[lo:hi])
        yield sl, Tables(**part)


def iter_chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``size`` rows."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    for lo in range(0, n, size):
        yield slice(lo, min(n, lo + size))
