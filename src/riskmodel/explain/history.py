"""One customer's record as of a date, for the memo: payment history, statements, visits, freshness.

Pure and point in time: only records dated strictly before ``as_of`` are used,
an invoice paid on or after a month end counts as open at that month end, and
a statement counts only once published (period end + publication lag).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.features import names as N
from riskmodel.features.financials import statement_ratios

DAYS_PER_MONTH = 365.25 / 12
#: ratios shown in the memo's statement table and trend chart, with their labels
KEY_RATIOS: dict[str, str] = {
    N.FIN_EQUITY_RATIO: "Equity / assets",
    N.FIN_CURRENT_RATIO: "Current ratio",
    N.FIN_EBIT_MARGIN: "EBIT margin",
    N.FIN_INTEREST_COVER: "Interest cover",
    N.FIN_CFO_TO_DEBT: "Cash flow / debt",
    N.FIN_LEVERAGE: "Liabilities / assets",
}


#: statement columns the memo shows beside the ratios
TREND_COLUMNS: tuple[str, ...] = (S.PERIOD_END, S.REVENUE, S.EBIT, S.NET_INCOME, S.EQUITY, S.TOTAL_ASSETS, S.AUDITED)


def missing_periods(period_ends: pd.Series | list, max_gap_months: int = 15) -> list[pd.Timestamp]:
    """Fiscal period ends missing between consecutive statements (annual statements expected).

    Between two statements more than ``max_gap_months`` apart, every period end one year
    after the earlier one, until the later one, is missing: a gap a chart must not hide.
    """
    ends = sorted(pd.Timestamp(d) for d in period_ends)
    out: list[pd.Timestamp] = []
    for a, b in zip(ends, ends[1:]):
        if (b - a).days > max_gap_months * DAYS_PER_MONTH:
            k = 1
            while (nxt := a + pd.DateOffset(years=k)) < b - pd.Timedelta(days=92):  # a quarter short of the next
                out.append(pd.Timestamp(nxt))
                k += 1
    return out


def month_ends(as_of: pd.Timestamp, months: int = 24) -> pd.DatetimeIndex:
    """The ``months`` month ends up to ``as_of`` (``as_of`` itself last when it is a month end)."""
    as_of = pd.Timestamp(as_of).normalize()
    last = as_of if as_of.is_month_end else (as_of - pd.offsets.MonthEnd(1))
    return pd.date_range(end=last, periods=months, freq="ME")


def payment_history(invoices: pd.DataFrame, as_of: pd.Timestamp, months: int = 24) -> pd.DataFrame:
    """Monthly state of one customer's receivables, point in time.

    For each month end ``t`` (only records before ``t``, all before ``as_of``):
    ``open_amount`` (issued before t, not paid before t), ``overdue_amount``
    (of which due before t), ``max_dpd_open`` (days past due of the oldest
    overdue invoice at t), ``n_settled`` and ``mean_dpd_settled`` (days late of
    the invoices paid in the month, 0 when on time).
    """
    ends = month_ends(as_of, months)
    inv = invoices[invoices[S.INVOICE_DATE] < pd.Timestamp(as_of)]
    issued = inv[S.INVOICE_DATE].to_numpy(dtype="datetime64[ns]")
    due = inv[S.DUE_DATE].to_numpy(dtype="datetime64[ns]")
    paid = pd.to_datetime(inv[S.PAID_DATE]).to_numpy(dtype="datetime64[ns]")
    paid = np.where(paid >= np.datetime64(pd.Timestamp(as_of)), np.datetime64("NaT"), paid)
    amount = inv[S.AMOUNT].to_numpy(dtype=float)
    rows = []
    prev = ends[0] - pd.offsets.MonthEnd(1)
    for t in ends:
        t64 = np.datetime64(t)
        open_ = (issued < t64) & (np.isnat(paid) | (paid >= t64))
        overdue = open_ & (due < t64)
        dpd_open = (t64 - due[overdue]).astype("timedelta64[D]").astype(float)
        settled = ~np.isnat(paid) & (paid >= np.datetime64(prev)) & (paid < t64)
        late = np.maximum((paid[settled] - due[settled]).astype("timedelta64[D]").astype(float), 0.0)
        rows.append({
            "month_end": t,
            "open_amount": float(amount[open_].sum()),
            "overdue_amount": float(amount[overdue].sum()),
            "max_dpd_open": float(dpd_open.max()) if dpd_open.size else 0.0,
            "n_settled": int(settled.sum()),
            "mean_dpd_settled": float(late.mean()) if late.size else np.nan,
        })
        prev = t
    return pd.DataFrame(rows)


def published_statements(financials: pd.DataFrame, as_of: pd.Timestamp, publication_lag_months: int) -> pd.DataFrame:
    """Statements known at ``as_of``: period end + publication lag strictly before it (oldest first)."""
    published = financials[S.PERIOD_END] + pd.DateOffset(months=publication_lag_months)
    return financials[published < pd.Timestamp(as_of)].sort_values(S.PERIOD_END)


def financial_trend(financials: pd.DataFrame, as_of: pd.Timestamp, publication_lag_months: int,
                    last_n: int = 5) -> pd.DataFrame:
    """The customer's statements published before ``as_of`` (oldest first), with the key ratios."""
    fin = published_statements(financials, as_of, publication_lag_months).tail(last_n)
    if fin.empty:
        return pd.DataFrame(columns=[*TREND_COLUMNS, *KEY_RATIOS])
    ratios = statement_ratios(fin)
    out = fin[list(TREND_COLUMNS)].reset_index(drop=True)
    for name in KEY_RATIOS:
        out[name] = np.asarray(ratios[name], dtype=float)
    return out


def visit_log(visits: pd.DataFrame, as_of: pd.Timestamp, last_n: int = 4) -> pd.DataFrame:
    """The customer's latest visits before ``as_of`` (newest first): ratings, mean, flags, notes."""
    v = visits[visits[S.VISIT_DATE] < pd.Timestamp(as_of)].sort_values(S.VISIT_DATE, ascending=False).head(last_n)
    cols = [S.VISIT_DATE, *S.VISIT_RATINGS, S.LICENCE_CHECKED, S.LAVISH_OFFICE]
    out = v[cols].reset_index(drop=True)
    ratings = out[list(S.VISIT_RATINGS)].astype("Float64")
    out["mean_rating"] = ratings.mean(axis=1, skipna=True).astype(float)
    out[S.NOTES] = v[S.NOTES].reset_index(drop=True) if S.NOTES in v.columns else None
    return out


def _months(a: pd.Timestamp, b: pd.Timestamp) -> float:
    return (pd.Timestamp(b) - pd.Timestamp(a)).days / DAYS_PER_MONTH


def freshness(invoices: pd.DataFrame, financials: pd.DataFrame, visits: pd.DataFrame, events: pd.DataFrame,
              as_of: pd.Timestamp, publication_lag_months: int) -> dict[str, object]:
    """How old the evidence is at ``as_of``: latest statement, visit, invoice and external event."""
    as_of = pd.Timestamp(as_of)
    out: dict[str, object] = {}
    fin = published_statements(financials, as_of, publication_lag_months)
    if len(fin):
        pe = fin[S.PERIOD_END].max()
        out["statement_period_end"] = pe
        out["statement_age_months"] = _months(pe, as_of)
    else:
        out["statement_period_end"], out["statement_age_months"] = None, None
    for key, frame, col in (("visit", visits, S.VISIT_DATE), ("invoice", invoices, S.INVOICE_DATE),
                            ("event", events, S.EVENT_DATE)):
        before = frame.loc[frame[col] < as_of, col]
        last = before.max() if len(before) else None
        out[f"{key}_date"] = last
        out[f"{key}_age_months"] = None if last is None else _months(last, as_of)
    return out
