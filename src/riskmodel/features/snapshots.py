"""The snapshot grid: snapshot dates, window starts and the vectorised point-in-time machinery.

Every feature family works on a dense grid of shape ``(K, n)`` (snapshot x
customer, customers in sorted-id order).  Records are never joined to
snapshots one by one; instead each record is placed once on a time axis and the
grid is read off with cumulative sums, running maxima or difference arrays:

* the *elementary bins* split time at every snapshot date and every window
  start ``S - w months``; a record dated ``t`` falls in bin ``j`` when
  ``breakpoints[j-1] <= t < breakpoints[j]``.  Records are totalled per (bin,
  customer) in one pass; a window ``[S - w, S)`` is then a short run of bins,
  and "strictly before S" is the run of bins up to S's breakpoint, so a record
  dated on or after S can never leak in;
* the *snapshot index* of a day ``d`` is the number of snapshots ``<= d``; a
  record is visible from snapshot index ``index(d)`` on, and a state that holds
  for ``a < S <= b`` (an open invoice, an aging bucket) covers the snapshot
  indices ``[index(a), index(b))``; such records are repeated once per snapshot
  they cover and totalled.

Window starts are calendar months before the snapshot (``pd.DateOffset``; the
day is clipped to the month's length, so 30 June minus 3 months is 30 March).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskmodel.config import SnapshotSettings
from riskmodel.data.ranges import expand_ranges
from riskmodel.exceptions import ConfigError, SchemaError

DAYS_PER_MONTH = 365.25 / 12
_FREQ = {"quarter": "QE", "month": "ME", "year": "YE"}
# Lookup tables beyond this many days fall back to binary search.
_MAX_LUT_DAYS = 400_000
NAT_DAYS = np.iinfo(np.int64).min
Side = Literal["left", "right"]  # np.searchsorted: count points before / on or before each day


def snapshot_dates(settings: SnapshotSettings) -> pd.DatetimeIndex:
    """Period ends (quarter ends by default) from ``settings.start`` to ``settings.end`` inclusive.

    Parameters
    ----------
    settings : SnapshotSettings
        The ``snapshots`` section of params.yaml.

    Returns
    -------
    pd.DatetimeIndex
        Sorted ``datetime64[ns]`` dates at midnight.

    Examples
    --------
    >>> from riskmodel.config import SnapshotSettings
    >>> import datetime as dt
    >>> list(snapshot_dates(SnapshotSettings(start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))).day)
    [31, 30, 30, 31]
    """
    freq = _FREQ[settings.frequency]
    dates = pd.date_range(settings.start, settings.end, freq=freq).astype("datetime64[ns]")
    if len(dates) == 0:
        raise ConfigError(
            f"snapshots: no {settings.frequency} end between start {settings.start} and end {settings.end}"
        )
    return pd.DatetimeIndex(dates, name="snapshot_date")


def normalise_snapshots(
    snapshots: Sequence[dt.date | pd.Timestamp] | pd.DatetimeIndex,
) -> pd.DatetimeIndex:
    """Sorted unique midnight ``datetime64[ns]`` snapshots; refuse an empty list or a time of day."""
    idx = (
        pd.DatetimeIndex(pd.to_datetime(list(snapshots)))
        if not isinstance(snapshots, pd.DatetimeIndex)
        else snapshots
    )
    if len(idx) == 0:
        raise ConfigError("snapshots: at least one snapshot date is needed, got none")
    if idx.hasnans:
        raise ConfigError("snapshots: a snapshot date is missing (NaT)")
    if idx.tz is not None:
        raise ConfigError(f"snapshots: dates must be time-zone naive, got tz={idx.tz}")
    if (idx != idx.normalize()).any():
        bad = [str(d) for d in idx[idx != idx.normalize()][:3]]
        raise ConfigError(f"snapshots: dates must be at midnight, got {bad}")
    return pd.DatetimeIndex(
        idx.astype("datetime64[ns]").unique().sort_values(), name="snapshot_date"
    )


def shift_months(dates: pd.DatetimeIndex, months: int) -> pd.DatetimeIndex:
    """``dates`` moved by a number of calendar months (negative moves back)."""
    return pd.DatetimeIndex(dates + pd.DateOffset(months=months)).astype("datetime64[ns]")


def to_days(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Dates as int64 days since 1970-01-01; missing dates become ``NAT_DAYS``."""
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.datetime64):
        arr = pd.to_datetime(arr).to_numpy()
    return arr.astype("datetime64[D]").view(np.int64)


@dataclass(frozen=True, eq=False)
class DayIndex:
    """Days as positions in a lookup table over their range, built once and reused for many lookups.

    Position ``day - lo``; a missing day (``NAT_DAYS``) gets the last position,
    which every lookup maps to "after all points".  ``pos is None`` when the
    range is too long for a table (binary search is used instead).
    """

    days: np.ndarray
    lo: int
    size: int
    pos: np.ndarray | None

    @classmethod
    def of(cls, days: np.ndarray) -> DayIndex:
        days = np.asarray(days, dtype=np.int64)
        if days.size == 0:
            return cls(days, 0, 1, np.zeros(0, dtype=np.int64))
        nat = days == NAT_DAYS
        has_nat = bool(nat.any())
        if has_nat and nat.all():
            return cls(days, 0, 1, np.zeros(days.shape, dtype=np.int64))
        lo = (
            int(days.min(initial=np.iinfo(np.int64).max, where=~nat))
            if has_nat
            else int(days.min())
        )
        hi = int(days.max())
        if hi - lo > _MAX_LUT_DAYS:
            return cls(days, lo, hi - lo + 2, None)
        pos = days - lo
        if has_nat:
            pos[nat] = hi + 1 - lo
        return cls(days, lo, hi - lo + 2, pos)

    def lookup(self, points: np.ndarray, side: Side = "right") -> np.ndarray:
        """How many sorted ``points`` lie on or before ('right') / before ('left') each day."""
        if self.pos is None:
            out = np.searchsorted(points, self.days, side=side)
            out[self.days == NAT_DAYS] = len(points)
            return out
        lut = np.empty(self.size, dtype=np.int64)
        lut[:-1] = np.searchsorted(
            points, np.arange(self.lo, self.lo + self.size - 1, dtype=np.int64), side=side
        )
        lut[-1] = len(points)
        return lut[self.pos]


def lookup_count(
    points: np.ndarray, days: np.ndarray | DayIndex, side: Side = "right"
) -> np.ndarray:
    """For each day, how many sorted ``points`` lie on or before it (``'right'``) or before it.

    Missing days (``NAT_DAYS``) count as after every point.  Pass a
    :class:`DayIndex` to look several point sets up for the same days.
    """
    index = days if isinstance(days, DayIndex) else DayIndex.of(days)
    return index.lookup(points, side)


def customer_codes(ids: pd.Series, customers: pd.Index, table: str) -> np.ndarray:
    """Position of each id in the sorted ``customers`` index; refuse unknown ids (SchemaError).

    Parameters
    ----------
    ids : pd.Series
        The ``customer_id`` column of ``table``.
    customers : pd.Index
        Sorted unique customer ids of the customers table.
    table : str
        Table name, for the error message.
    """
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    arr = pa.array(ids, from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        try:
            arr = pc.cast(arr, pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise SchemaError(
                f"{table}.customer_id: rule 'type' broken: expected text ids, got {arr.type}"
            ) from err
    value_set = pa.array(np.asarray(customers, dtype=object)).cast(arr.type)
    codes = pc.index_in(arr, value_set=value_set)
    if codes.null_count:
        missing = pc.is_null(codes).to_numpy(zero_copy_only=False)
        bad = pd.unique(np.asarray(ids)[missing])
        raise SchemaError(
            f"{table}.customer_id: rule 'customer_id known in customers' broken by "
            f"{int(missing.sum())} rows; first unknown ids: {list(bad[:5])}"
        )
    return codes.to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Grid:
    """Snapshots x customers, with the elementary bins of every window used.

    Attributes
    ----------
    snapshots : pd.DatetimeIndex
        The K sorted snapshot dates.
    customers : pd.Index
        The n sorted customer ids; a customer's code is its position here.
    days : np.ndarray
        Snapshot dates as int64 days.
    breakpoints : np.ndarray
        Sorted unique days at which the elementary bins split (snapshots and window starts).
    snap_pos : np.ndarray
        Position of each snapshot in ``breakpoints``.
    start_pos : dict[int, np.ndarray]
        For each window length in months, the position of each window start in ``breakpoints``.
    rows : np.ndarray
        Flat positions ``k * n + code`` of the output rows, ascending (snapshot, then customer).
    """

    snapshots: pd.DatetimeIndex
    customers: pd.Index
    days: np.ndarray
    breakpoints: np.ndarray
    snap_pos: np.ndarray
    start_pos: dict[int, np.ndarray]
    rows: np.ndarray

    @classmethod
    def build(
        cls, snapshots: pd.DatetimeIndex, customers: pd.Index, windows: Iterable[int]
    ) -> Grid:
        """Grid over all rows; restrict it with :meth:`with_rows`."""
        days = to_days(snapshots)
        wins = sorted({int(w) for w in windows})
        starts = {w: to_days(shift_months(snapshots, -w)) for w in wins}
        bp = np.unique(np.concatenate([days, *starts.values()]))
        K, n = len(days), len(customers)
        return cls(
            snapshots=snapshots,
            customers=customers,
            days=days,
            breakpoints=bp,
            snap_pos=np.searchsorted(bp, days),
            start_pos={w: np.searchsorted(bp, s) for w, s in starts.items()},
            rows=np.arange(K * n, dtype=np.int64),
        )

    def with_rows(self, rows: np.ndarray) -> Grid:
        """The same grid, producing only the given flat rows."""
        return Grid(
            self.snapshots,
            self.customers,
            self.days,
            self.breakpoints,
            self.snap_pos,
            self.start_pos,
            np.asarray(rows, dtype=np.int64),
        )

    # ------------------------------------------------------------ shapes
    @property
    def K(self) -> int:
        return len(self.days)

    @property
    def n(self) -> int:
        return len(self.customers)

    @property
    def n_bins(self) -> int:
        """Number of elementary bins (one more than the breakpoints)."""
        return len(self.breakpoints) + 1

    def take(self, grid: np.ndarray) -> np.ndarray:
        """Values of a ``(K, n)`` grid at the output rows, as float64."""
        return np.asarray(grid, dtype=np.float64).reshape(-1)[self.rows]

    def take_customer(self, values: np.ndarray) -> np.ndarray:
        """Per-customer values (length n) repeated at the output rows."""
        return np.asarray(values)[self.rows % self.n]

    def row_snapshot_days(self) -> np.ndarray:
        """Snapshot day of each output row."""
        return self.days[self.rows // self.n]

    # ------------------------------------------------------- elementary bins
    def bin_of(self, days: np.ndarray | DayIndex) -> np.ndarray:
        """Elementary bin of each day; a missing day (``NAT_DAYS``) goes to the last bin."""
        return lookup_count(self.breakpoints, days, "right")

    def bin_key(self, bins: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Flat (bin, customer) position, for :meth:`totals` and :meth:`bin_max`."""
        key = np.multiply(bins, self.n, dtype=np.int64)
        key += codes
        return key

    def totals(self, key: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per (bin, customer) totals at flat keys (counts without weights); ``(n_bins, n)``."""
        B, n = self.n_bins, self.n
        flat = np.bincount(key, weights=weights, minlength=B * n)
        return flat.astype(np.float64, copy=False).reshape(B, n)

    def bin_totals(
        self, bins: np.ndarray, codes: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray:
        """Per (bin, customer) totals of ``weights`` (counts without weights); ``(n_bins, n)``."""
        return self.totals(self.bin_key(bins, codes), weights)

    def before(self, totals: np.ndarray) -> np.ndarray:
        """``(K, n)``: totals of the records dated strictly before each snapshot (a running sum)."""
        return np.cumsum(totals, axis=0)[self.snap_pos]

    def window(self, totals: np.ndarray, months: int, end_months: int = 0) -> np.ndarray:
        """``(K, n)``: totals over ``[S - months, S - end_months)`` from per-bin totals.

        The bins of the window are added directly (not as a difference of
        running sums), so an empty window is exactly 0 and a record outside the
        window cannot change the result through rounding.
        """
        lo = self.start_pos[months] + 1
        hi = self.snap_pos + 1 if end_months == 0 else self.start_pos[end_months] + 1
        out = np.zeros((self.K, self.n), dtype=np.float64)
        for k in range(self.K):
            if hi[k] > lo[k]:
                np.sum(totals[lo[k] : hi[k]], axis=0, out=out[k])
        return out

    def bin_max(self, key: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
        """Per (bin, customer) maximum of ``values`` at flat keys, ``fill`` where none."""
        out = np.full(self.n_bins * self.n, fill, dtype=np.float64)
        np.maximum.at(out, key, values)
        return out.reshape(self.n_bins, self.n)

    def window_max(self, bin_max: np.ndarray, months: int, fill: float) -> np.ndarray:
        """``(K, n)``: maximum over ``[S - months, S)`` of a per-bin maximum array."""
        out = np.full((self.K, self.n), fill, dtype=np.float64)
        lo, hi = self.start_pos[months] + 1, self.snap_pos + 1
        for k in range(self.K):
            if hi[k] > lo[k]:
                out[k] = bin_max[lo[k] : hi[k]].max(axis=0)
        return out

    # ------------------------------------------------------ snapshot index
    def snap_count(self, days: np.ndarray | DayIndex, side: Side = "right") -> np.ndarray:
        """Number of snapshots on or before (``'right'``) / strictly before (``'left'``) each day.

        A record dated ``d`` is visible (``d < S``) from snapshot index
        ``snap_count(d)`` on.  Missing days (``NAT_DAYS``) count as after every
        snapshot (K).
        """
        return lookup_count(self.days, days, side)

    def interval_sums(
        self,
        start: np.ndarray,
        stop: np.ndarray,
        codes: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(K, n)``: totals of records that hold at snapshot indices ``start <= k < stop``.

        Each record is repeated once per snapshot at which it holds, so a total
        only ever adds the records that hold there (no cancelling of rounding).
        """
        rec, k = expand_ranges(start, stop)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[rec]
        flat = np.bincount(k * self.n + codes[rec], weights=w, minlength=self.K * self.n)
        return flat.astype(np.float64, copy=False).reshape(self.K, self.n)

    def latest_index(self, kv: np.ndarray, codes: np.ndarray, order: np.ndarray) -> np.ndarray:
        """``(K, n)``: per snapshot, the largest ``order`` among the visible records, -1 if none.

        A record is visible from snapshot index ``kv`` on (``kv = snap_count(date)``
        for a record dated strictly before the snapshot).  ``order`` must grow
        with time within a customer (position in a (customer, date) sort), so the
        largest visible order is the latest record.
        """
        out = np.full((self.K + 1) * self.n, -1, dtype=np.int64)
        np.maximum.at(out, kv * self.n + codes, np.asarray(order, dtype=np.int64))
        return np.maximum.accumulate(out.reshape(self.K + 1, self.n), axis=0)[: self.K]

    def latest_day(self, kv: np.ndarray, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """``(K, n)`` int64: the latest of ``days`` among visible records, NAT_DAYS if none."""
        out = np.full((self.K + 1) * self.n, NAT_DAYS, dtype=np.int64)
        np.maximum.at(out, kv * self.n + codes, np.asarray(days, dtype=np.int64))
        return np.maximum.accumulate(out.reshape(self.K + 1, self.n), axis=0)[: self.K]

    def interval_min_day(
        self, start: np.ndarray, stop: np.ndarray, codes: np.ndarray, days: np.ndarray
    ) -> np.ndarray:
        """``(K, n)`` int64: the earliest of ``days`` over records holding at ``start <= k < stop``.

        NAT_DAYS where no record holds.
        """
        rec, k = expand_ranges(start, stop)
        none = np.iinfo(np.int64).max
        out = np.full(self.K * self.n, none, dtype=np.int64)
        np.minimum.at(out, k * self.n + codes[rec], np.asarray(days, dtype=np.int64)[rec])
        out[out == none] = NAT_DAYS
        return out.reshape(self.K, self.n)


def months_between(earlier_days: np.ndarray, later_days: np.ndarray) -> np.ndarray:
    """``(later - earlier) / (365.25 / 12)`` as float64; NaN where ``earlier`` is missing."""
    earlier = np.asarray(earlier_days)
    out = (np.asarray(later_days) - earlier) / DAYS_PER_MONTH
    out[earlier == NAT_DAYS] = np.nan
    return out
