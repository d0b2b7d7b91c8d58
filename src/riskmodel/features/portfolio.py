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
from riskmodel.data.tables import Tables
from riskmodel.features import names as N
from riskmodel.features.snapshots import NAT_DAYS, to_days

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


def _ledger_state(issued: np.ndarray, due: np.ndarray, paid: np.ndarray, amount: np.ndarray, seg: np.ndarray,
                  k: int, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open, overdue and 90+ overdue amounts per segment at one day."""
    open_ = (issued < day) & (paid >= day)
    over = open_ & (due < day)
    o90 = open_ & (day - due > 90)
    return (np.bincount(seg[open_], amount[open_], minlength=k), np.bincount(seg[over], amount[over], minlength=k),
            np.bincount(seg[o90], amount[o90], minlength=k))


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
    inv_cust = pos.get_indexer(inv[S.CUSTOMER_ID].astype(str))
    if (inv_cust < 0).any():
        bad = inv.loc[inv_cust < 0, S.CUSTOMER_ID].astype(str).unique()[:5].tolist()
        raise ValueError(f"{S.INVOICES}.{S.CUSTOMER_ID}: customers not in {S.CUSTOMERS}: {bad}")
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

    out: dict[str, dict[str, np.ndarray]] = {}
    for level, column in LEVELS:
        cseg, k = _segment_codes(cust, column)
        seg = cseg[inv_cust]
        res = {stem: np.full((len(days), k), np.nan) for stem in STEMS}
        for i, d in enumerate(days):
            op, ov, o90 = _ledger_state(issued, due, paid, amount, seg, k, int(d))
            res["overdue_share"][i] = _share(ov, op)
            res["overdue90_share"][i] = _share(o90, op)
            for stem, back in (("overdue_share_chg_3m", back3[i]), ("overdue_share_chg_6m", back6[i])):
                op_b, ov_b, _ = _ledger_state(issued, due, paid, amount, seg, k, int(back))
                res[stem][i] = res["overdue_share"][i] - _share(ov_b, op_b)
            lo = int(back12[i])
            at_risk = (onboarded < d) & (first_default >= lo)
            new_def = at_risk & (first_default < d)
            res["default_rate_12m"][i] = _share(np.bincount(cseg[new_def], minlength=k).astype(float),
                                                np.bincount(cseg[at_risk], minlength=k).astype(float))
            settled = (paid >= lo) & (paid < d)
            res["mean_dpd_12m"][i] = _share(np.bincount(seg[settled], settled_dpd[settled], minlength=k),
                                            np.bincount(seg[settled], minlength=k).astype(float))
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
