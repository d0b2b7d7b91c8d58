"""Portfolio-, industry- and region-level indicators of the book, point in time (issue 9).

The company sees every customer's payments, so the state of the whole ledger at
a snapshot S tells where the credit cycle is, months before the defaults of a
downturn mature.  For three segment levels (``all`` = the whole book, ``ind`` =
the customer's industry, ``rgn`` = the customer's region) and every snapshot S:

* ``overdue_share``: open receivables past due / open receivables at S (amounts);
  an invoice is open at S when ``invoice_date < S`` and it is not paid before S
  (``paid_date`` empty or ``>= S``), past due when ``due_date < S``;
* ``overdue90_share``: the share more than 90 days past due (``S - due_date > 90``);
* ``overdue_share_chg_3m`` / ``_6m``: overdue_share at S minus that at S - 3 / 6 months;
* ``default_rate_12m``: customers whose first default has ``default_date`` in
  [S - 12 months, S) / customers onboarded before S and not in default before
  S - 12 months (12 months stale by construction: the ledger shares are the timely signal);
* ``mean_dpd_12m``: mean days past due of the invoices settled in [S - 12 months, S).

Every indicator reads records dated strictly before S only.  They are computed
from the whole book, never from a chunk of customers, so scoring attaches them
from the full tables (:func:`attach_portfolio_features`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.ranges import expand_ranges
from riskmodel.data.tables import Tables
from riskmodel.features import names as N
from riskmodel.features.snapshots import NAT_DAYS, customer_codes, to_days

LEVELS: tuple[tuple[str, str | None], ...] = (("all", None), ("ind", S.INDUSTRY), ("rgn", S.REGION))
STEMS: tuple[str, ...] = ("overdue_share", "overdue90_share", "overdue_share_chg_3m", "overdue_share_chg_6m",
                          "default_rate_12m", "mean_dpd_12m")
PREFIX = N.PORTFOLIO_PREFIX
_NEVER = np.iinfo(np.int64).max


def portfolio_feature_names() -> list[str]:
    """The portfolio features, in output order."""
    return [N.portfolio(level, stem) for level, _ in LEVELS for stem in STEMS]


def _months_before(days: np.ndarray, months: int) -> np.ndarray:
    d = pd.DatetimeIndex(days.astype("datetime64[D]"))
    return to_days(d - pd.DateOffset(months=months))


def _segment_codes(customers: pd.DataFrame, column: str | None) -> tuple[np.ndarray, int]:
    if column is None:
        return np.zeros(len(customers), dtype=np.int64), 1
    codes, uniques = pd.factorize(customers[column].astype(str), sort=True)
    return codes.astype(np.int64), max(len(uniques), 1)


#: the ledger states summed by segment at a day: open, overdue, and more than 90 days overdue
STATES: tuple[str, ...] = ("open", "over", "o90")


def ledger_pairs(issued: np.ndarray, due: np.ndarray, paid: np.ndarray, days: np.ndarray
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(invoice, day position) pairs of each state of :data:`STATES` at the sorted unique ``days``.

    An invoice is open at ``d`` when ``issued < d <= paid``, overdue when also ``due < d``, 90+ overdue
    when also ``d - due > 90``: each is one range of day positions, found by binary search and expanded
    (:func:`riskmodel.data.ranges.expand_ranges`). Summing over the pairs adds, per (day, segment), the
    same invoices in the same order as a mask over the whole ledger at each day, so the sums are
    identical, at a cost that follows the days each invoice is open instead of invoices x days.
    """
    stop = np.searchsorted(days, paid, "right")
    opened = np.where(issued == NAT_DAYS, issued, issued + 1)
    late90 = np.where(due == NAT_DAYS, _NEVER, np.maximum(opened, due + 91))
    firsts = {"open": opened, "over": np.maximum(opened, np.where(due == NAT_DAYS, due, due + 1)), "o90": late90}
    return {state: expand_ranges(np.searchsorted(days, first, "left"), stop) for state, first in firsts.items()}


def ledger_state(pairs: tuple[np.ndarray, np.ndarray], amount: np.ndarray, seg: np.ndarray, k: int,
                 n_days: int) -> np.ndarray:
    """``(n_days, k)`` amounts of one state of :func:`ledger_pairs` per day and segment (``seg`` per invoice)."""
    rows, pos = pairs
    return np.bincount(pos * k + seg[rows], amount[rows], minlength=n_days * k).reshape(n_days, k)


class SettledWindows:
    """The invoices settled in ``[back12[i], days[i])`` of each snapshot ``i``, binned once for every level.

    Each invoice is binned by its payment day among the window boundaries; a window's sums are the
    difference of two running totals. Days past due are whole days, so every partial sum is an integer far
    below 2**53 and exact: the same figures, to the last bit, as summing a mask per snapshot.
    """

    def __init__(self, paid: np.ndarray, days: np.ndarray, back12: np.ndarray) -> None:
        edges = np.unique(np.concatenate([days, back12]))
        self.bins = np.searchsorted(edges, paid, "right")  # boundaries on or before the payment day
        self.n_bins = len(edges) + 1
        self.hi, self.lo = np.searchsorted(edges, days), np.searchsorted(edges, back12)  # paid < days[i] / back12[i]

    def sums(self, dpd: np.ndarray, seg: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(n_days, k)`` sums of ``dpd`` and counts of the settled invoices, by segment ``seg``."""
        key = self.bins * k + seg
        total = np.cumsum(np.bincount(key, dpd, minlength=self.n_bins * k).reshape(-1, k), axis=0)
        count = np.cumsum(np.bincount(key, minlength=self.n_bins * k).reshape(-1, k), axis=0)
        return total[self.hi] - total[self.lo], (count[self.hi] - count[self.lo]).astype(float)


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def portfolio_indicators(tables: Tables, snapshots: pd.DatetimeIndex | list) -> dict[str, dict[str, np.ndarray]]:
    """Indicators per level: ``{level: {stem: array (n_snapshots, n_segments)}}`` plus segment labels.

    ``out[level]["_segments"]`` lists the segment values of the columns (``["all"]`` for the whole book).
    """
    snaps = pd.DatetimeIndex(pd.to_datetime(list(snapshots))).sort_values().unique()
    days = to_days(snaps)
    cust = tables.customers
    ids = cust[S.CUSTOMER_ID].astype(str).to_numpy()
    pos = pd.Index(ids)
    inv = tables.invoices
    inv_cust = customer_codes(inv[S.CUSTOMER_ID], pos, S.INVOICES)  # SchemaError naming unknown ids
    issued = to_days(inv[S.INVOICE_DATE])
    due = to_days(inv[S.DUE_DATE])
    paid = to_days(inv[S.PAID_DATE])
    paid = np.where(paid == NAT_DAYS, _NEVER, paid)
    amount = pd.to_numeric(inv[S.AMOUNT]).to_numpy(dtype=float)
    settled_dpd = np.maximum(np.where(paid == _NEVER, 0, paid - due), 0).astype(float)
    onboarded = to_days(cust[S.ONBOARDED_DATE])
    first_default = np.full(len(ids), _NEVER, dtype=np.int64)
    dfl = tables.defaults
    if len(dfl):
        dc = pos.get_indexer(dfl[S.CUSTOMER_ID].astype(str))
        ok = dc >= 0
        np.minimum.at(first_default, dc[ok], to_days(dfl[S.DEFAULT_DATE])[ok])
    back3, back6, back12 = (_months_before(days, m) for m in (3, 6, 12))
    grid = np.unique(np.concatenate([days, back3, back6]))  # the days whose ledger state is read
    at, at3, at6 = (np.searchsorted(grid, d) for d in (days, back3, back6))
    pairs = ledger_pairs(issued, due, paid, grid)
    settled = SettledWindows(paid, days, back12)

    out: dict[str, dict[str, np.ndarray]] = {}
    for level, column in LEVELS:
        cseg, k = _segment_codes(cust, column)
        seg = cseg[inv_cust]
        op, ov, o90 = (ledger_state(pairs[state], amount, seg, k, len(grid)) for state in STATES)
        share = _share(ov, op)
        res = {stem: np.full((len(days), k), np.nan) for stem in STEMS}
        res["overdue_share"] = share[at]
        res["overdue90_share"] = _share(o90[at], op[at])
        res["overdue_share_chg_3m"] = share[at] - share[at3]
        res["overdue_share_chg_6m"] = share[at] - share[at6]
        for i, d in enumerate(days):
            lo = int(back12[i])
            at_risk = (onboarded < d) & (first_default >= lo)
            new_def = at_risk & (first_default < d)
            res["default_rate_12m"][i] = _share(np.bincount(cseg[new_def], minlength=k).astype(float),
                                                np.bincount(cseg[at_risk], minlength=k).astype(float))
        res["mean_dpd_12m"] = _share(*settled.sums(settled_dpd, seg, k))
        labels = (["all"] if column is None else
                  list(pd.factorize(cust[column].astype(str), sort=True)[1]))
        res["_segments"] = np.asarray(labels, dtype=object)
        res["_snapshots"] = np.asarray(snaps)
        out[level] = res
    return out


def portfolio_features(tables: Tables, keys: pd.DataFrame,
                       indicators: dict[str, dict[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """The portfolio features of each row of ``keys`` (``customer_id``, ``snapshot_date``), same order.

    The customer's industry and region come from ``tables.customers``; the
    indicators from the whole of ``tables`` (pass the full book, not a chunk), or
    ``indicators`` when given (``portfolio_parts``: summed over customer partitions, issue 14).
    """
    names = portfolio_feature_names()
    if not len(keys):
        return pd.DataFrame({n: np.zeros(0) for n in names}, index=keys.index)
    snaps = pd.to_datetime(keys[S.SNAPSHOT_DATE])
    uniq = pd.DatetimeIndex(snaps.unique()).sort_values()
    ind = portfolio_indicators(tables, uniq) if indicators is None else indicators
    row_snap = pd.DatetimeIndex(ind["all"]["_snapshots"]).get_indexer(pd.DatetimeIndex(snaps))
    if (row_snap < 0).any():
        raise ValueError(f"portfolio features: {int((row_snap < 0).sum())} rows have a snapshot date "
                         "without indicators")
    cust = tables.customers.set_index(tables.customers[S.CUSTOMER_ID].astype(str))
    row_cust = cust.index.get_indexer(keys[S.CUSTOMER_ID].astype(str))
    if (row_cust < 0).any():
        raise ValueError(f"portfolio features: {int((row_cust < 0).sum())} rows name customers not in the table")
    cols: dict[str, np.ndarray] = {}
    for level, column in LEVELS:
        res = ind[level]
        if column is None:
            seg = np.zeros(len(keys), dtype=np.int64)
        else:
            seg = pd.Index(res["_segments"]).get_indexer(cust[column].astype(str).to_numpy()[row_cust])
            if (seg < 0).any():  # -1 would silently read the last segment's column
                raise ValueError(f"portfolio features: {int((seg < 0).sum())} rows have a {column} absent from "
                                 "the book's portfolio indicators")
        for stem in STEMS:
            cols[N.portfolio(level, stem)] = res[stem][row_snap, seg]
    return pd.DataFrame(cols, index=keys.index)[names]


def attach_portfolio_features(frame: pd.DataFrame, tables: Tables,
                              indicators: dict[str, dict[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """``frame`` (with ``customer_id`` and ``snapshot_date``) with the portfolio features appended."""
    feats = portfolio_features(tables, frame[[S.CUSTOMER_ID, S.SNAPSHOT_DATE]], indicators)
    return pd.concat([frame.drop(columns=[c for c in feats.columns if c in frame.columns]), feats], axis=1)
