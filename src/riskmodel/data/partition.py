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
from pathlib import Path
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
    frames = tables.as_dict()
    lo, hi = [], []
    for table, column in S.DATA_DATES:
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


def subset_tables(tables: Tables, customer_ids: Sequence[str] | np.ndarray) -> Tables:
    """The tables restricted to some customers (rows kept in their order)."""
    ids = pd.Index(pd.Series(list(customer_ids), dtype="str")).unique()
    return Tables(**{name: frame[customer_codes(frame[S.CUSTOMER_ID], ids) >= 0]
                     for name, frame in tables.as_dict().items()})


def arrow_text(values: pd.Series) -> pa.Array:
    """A text column as one Arrow large_string array (missing as null), zero-copy where pandas already is Arrow."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def customer_codes(column: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each row's customer id in ``ids`` (unique), -1 for an id not in it or missing.

    One hash lookup per row (Arrow's ``index_in``, about 15 times faster than
    ``Index.get_indexer`` on text) on the ids as text: the integer code is what
    chunking sorts and slices on.
    """
    if len(column) == 0:
        return np.zeros(0, dtype=np.int64)
    text = column if pd.api.types.is_string_dtype(column.dtype) else column.astype("str")
    found = pc.index_in(arrow_text(text),
                        value_set=arrow_text(ids.to_series()))
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


# ------------------------------------------------------------ customer partitions on disk (issue 14.1)
PART_GLOB = "part-*.parquet"

#: the columns of the whole book kept in memory (``PartitionedBook.book``); everything else stays in its partition
BOOK_COLUMNS: dict[str, tuple[str, ...]] = {
    S.CUSTOMERS: (S.CUSTOMER_ID, S.ONBOARDED_DATE, S.INDUSTRY, S.REGION),
    S.INVOICES: (S.CUSTOMER_ID, S.INVOICE_DATE, S.DUE_DATE, S.PAID_DATE, S.AMOUNT),
    S.DEFAULTS: (S.CUSTOMER_ID, S.DEFAULT_DATE),
    # only for the data's span (latest_data_date, --fit-to-data)
    S.FINANCIALS: (S.CUSTOMER_ID, S.PERIOD_END),
    S.VISITS: (S.CUSTOMER_ID, S.VISIT_DATE),
    S.EVENTS: (S.CUSTOMER_ID, S.EVENT_DATE),
}
#: record tables of which the book keeps only each partition's first and last dated rows (the data's span):
#: the whole ledger is about 50 bytes an invoice (5.5 GB at a million customers); the portfolio indicators
#: are summed partition by partition instead (riskmodel.features.portfolio_parts)
SPAN_ONLY: tuple[str, ...] = (S.INVOICES, S.FINANCIALS, S.VISITS, S.EVENTS)


def span_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The rows holding the earliest and the latest value of each date column (at most 2 per column)."""
    rows: list[int] = []
    for column in columns:
        col = pd.to_datetime(frame[column])
        if col.notna().any():
            rows += [int(np.argmin(col.fillna(col.max()).to_numpy())), int(np.argmax(col.fillna(col.min()).to_numpy()))]
    return frame.iloc[sorted(set(rows))]


def part_name(k: int) -> str:
    """File name of partition ``k`` (zero padded, so that name order is partition order)."""
    return f"part-{k:05d}.parquet"


def is_partitioned(data_dir: Path) -> bool:
    """True when ``data_dir`` holds the customers table as a folder of partitions."""
    return (Path(data_dir) / S.CUSTOMERS).is_dir() and any((Path(data_dir) / S.CUSTOMERS).glob(PART_GLOB))


def write_partitioned(tables: Tables, folder: Path, customers_per_part: int) -> int:
    """Write ``tables`` as ``folder/<table>/part-NNNNN.parquet``, ``customers_per_part`` customers a part.

    Partition ``k`` holds every row of the customers ranked ``k * customers_per_part``
    up to the next part in customer id order (a customer's rows are never split); each
    file is written atomically. A table's single-file copy (``<table>.parquet`` /
    ``.csv``) and stale parts of an earlier, larger run are removed, so the folder
    holds one layout. Returns the number of parts.
    """
    from riskmodel.io import write_frame

    folder = Path(folder)
    ids = np.sort(tables.customers[S.CUSTOMER_ID].astype("str").to_numpy())
    n = 0
    for k, (_, part) in enumerate(chunk_tables(tables, ids, customers_per_part)):
        for name, frame in part.as_dict().items():
            write_frame(frame.reset_index(drop=True), folder / name / part_name(k), "parquet")
        n = k + 1
    for name in tables.as_dict():
        for stale in [folder / f"{name}.parquet", folder / f"{name}.csv",
                      *(p for p in (folder / name).glob(PART_GLOB) if int(p.stem.split("-")[1]) >= n)]:
            stale.unlink(missing_ok=True)
    return n


def _spilled(scratch: Path, table: str, name: str) -> Path:
    """Where :meth:`PartitionedBook.open` spills a validated partition: Arrow IPC (Feather) with LZ4, a
    scratch file read back once or twice: a 5.5M-invoice partition is written in 0.6 s instead of 1.7 s
    as Parquet and read in 0.23 s instead of 0.33 s, and the same frame comes back (dtypes included)."""
    return scratch / table / (Path(name).stem + ".arrow")


def _open_part(data_dir: Path, name: str, present: list[str], safety: Any, materiality: Any, scratch: Path
               ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], tuple[pd.Timestamp, pd.Timestamp] | None]:
    """One partition of :meth:`PartitionedBook.open`: validated, spilled to ``scratch``; what the book keeps of it.

    Returns (the ``BOOK_COLUMNS`` rows it keeps by table, the empty frames of tables it does not keep,
    its data span or None without a dated record).  A module-level function, so that a process pool
    can run it.
    """
    from riskmodel.data.validation import load_and_validate_part

    tables = load_and_validate_part(data_dir, name, present, safety, materiality)
    keep: dict[str, pd.DataFrame] = {}
    empty: dict[str, pd.DataFrame] = {}
    for table, frame in tables.as_dict().items():
        spill = _spilled(scratch, table, name)
        spill.parent.mkdir(parents=True, exist_ok=True)
        frame.to_feather(spill, compression="lz4")
        if table in SPAN_ONLY:
            dated = [c for t, c in S.DATA_DATES if t == table]
            keep[table] = span_rows(frame[list(BOOK_COLUMNS[table])], dated)
        elif table in BOOK_COLUMNS:
            keep[table] = frame[list(BOOK_COLUMNS[table])]
        else:
            empty[table] = frame.iloc[:0]
    try:
        span: tuple[pd.Timestamp, pd.Timestamp] | None = data_span(tables)
    except NoDataError:
        span = None
    return keep, empty, span


#: partitions smaller than this are validated one after the other (a worker process takes about 2 s to start)
OPEN_PARALLEL_MIN_CUSTOMERS = 10_000


def _customers_in(path: Path) -> int:
    """Rows of a customers partition, from its Parquet footer (0 when it cannot be read: the check will say why)."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # noqa: BLE001 - a broken file is reported by load_and_validate_part, named
        return 0


def open_workers(ceiling_gb: float, per_part: int, requested: int = 0) -> int:
    """Partitions :meth:`PartitionedBook.open` validates at once: ``requested`` (``scale.workers``) or, for 0,
    as many as the CPUs and the memory ceiling allow (planned like a simulated partition)."""
    import os

    from riskmodel.data.sim_partitioned import sim_workers

    return sim_workers(per_part, ceiling_gb, os.cpu_count(), requested)


class PartitionedBook:
    """A raw folder of customer partitions, validated one partition at a time (bounded memory).

    :meth:`open` reads and validates each partition alone (a partition holds all of
    its customers' rows, so every contract rule, foreign keys included, is checked
    within it), spills the typed partition to ``scratch`` (Arrow IPC), and keeps only
    what the whole book is needed for: the date span and the columns of
    ``BOOK_COLUMNS`` as ``book``, a :class:`Tables` whose other columns are absent:
    every customer and default, but of the tables in ``SPAN_ONLY`` only each
    partition's first and last dated rows (enough for the data's span and latest
    date, not for the portfolio indicators: sum those over :meth:`parts`).
    :meth:`parts` then yields the typed partitions one by one.
    """

    def __init__(self, scratch: Path, names: list[str], span: tuple[pd.Timestamp, pd.Timestamp],
                 book: Tables) -> None:
        self.scratch = scratch
        self.names = names
        self.span = span
        self.book = book

    @classmethod
    def open(cls, data_dir: Path, scratch: Path, safety: Any = None, materiality: Any = None,
             workers: int = 1, parallel_min_customers: int = OPEN_PARALLEL_MIN_CUSTOMERS) -> PartitionedBook:
        """Validate every partition of ``data_dir`` into ``scratch``; SchemaError naming the partition if broken.

        ``workers`` > 1 validates that many partitions at once, in separate processes (memory: that
        many partitions; see :func:`open_workers`), when they hold at least ``parallel_min_customers``
        customers; the result is the same, in partition order.
        """
        from riskmodel.exceptions import SchemaError

        data_dir = Path(data_dir)
        names = sorted(p.name for p in (data_dir / S.CUSTOMERS).glob(PART_GLOB))
        present = [t for t in S.ALL_TABLE_NAMES if (data_dir / t).is_dir()]
        for t in present:
            theirs = sorted(p.name for p in (data_dir / t).glob(PART_GLOB))
            if set(theirs) - set(names):
                raise SchemaError(f"{data_dir / t}: partitions {sorted(set(theirs) - set(names))[:5]} have no "
                                  f"{S.CUSTOMERS} partition of the same name: every table must be partitioned "
                                  "like customers (a customer's rows in the part of the same name)")
        for t in S.ALL_TABLE_NAMES:
            if t not in present and any((data_dir / f"{t}.{fmt}").is_file() for fmt in ("parquet", "csv")):
                raise SchemaError(f"{data_dir}: {S.CUSTOMERS} is partitioned but {t} is a single file: "
                                  "partition every table the same way (riskmodel.data.partition.write_partitioned)")
        lo, hi = [], []
        keep: dict[str, list[pd.DataFrame]] = {t: [] for t in BOOK_COLUMNS}
        empty: dict[str, pd.DataFrame] = {}
        jobs = [(data_dir, name, present, safety, materiality, scratch) for name in names]
        big = len(names) > 1 and _customers_in(data_dir / S.CUSTOMERS / names[0]) >= parallel_min_customers
        if workers > 1 and big:  # partitions validated side by side, each in a process of its own
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=min(workers, len(names)), mp_context=mp.get_context("spawn")) as ex:
                results = list(ex.map(_open_part, *zip(*jobs)))
        else:
            results = [_open_part(*job) for job in jobs]
        for part_keep, part_empty, span in results:  # in partition order
            for table, frame in part_keep.items():
                keep[table].append(frame)
            for table, frame in part_empty.items():
                empty.setdefault(table, frame)
            if span is not None:
                lo.append(span[0])
                hi.append(span[1])
        if not lo:
            raise NoDataError("the tables hold no dated record (no invoice, statement, visit or event)")
        book = Tables(**{t: pd.concat(frames, ignore_index=True) for t, frames in keep.items()}, **empty)
        return cls(scratch, names, (min(lo), max(hi)), book)

    def parts(self, columns: dict[str, tuple[str, ...]] | None = None) -> Iterator[Tables]:
        """The typed partitions, in partition order; with ``columns``, only those tables and columns
        (the other tables empty, with no columns)."""
        for name in self.names:
            yield Tables(**{t: (pd.read_feather(_spilled(self.scratch, t, name)) if columns is None
                                else pd.read_feather(_spilled(self.scratch, t, name), columns=list(columns[t]))
                                if t in columns else pd.DataFrame())
                            for t in S.ALL_TABLE_NAMES if _spilled(self.scratch, t, name).is_file()})


def peak_memory_gb() -> float:
    """Peak resident memory of this process so far, in GB (``ru_maxrss``, KB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def warn_above_ceiling(stage: str, ceiling_gb: float) -> float:
    """Log a warning when this process's peak memory passed ``scale.memory_ceiling_gb``; return the peak."""
    import logging

    peak = peak_memory_gb()
    if peak > ceiling_gb:
        logging.getLogger(__name__).warning(
            "%s peaked at %.1f GB, above scale.memory_ceiling_gb = %g: write the raw data as customer "
            "partitions (simulate --partitioned, or riskmodel.data.partition.write_partitioned) or lower "
            "scale.partition_customers", stage, peak, ceiling_gb)
    return peak
