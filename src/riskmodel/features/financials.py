"""Financial-statement features: the latest statement published strictly before the snapshot.

A statement for the period ending ``period_end`` is known from
``period_end + publication_lag_months`` (calendar months); it is visible at a
snapshot S when that date is strictly before S.  Every ratio is clipped to a
documented cap, so the output never holds inf.  A zero denominator gives NaN,
except where zero is good news and the ratio takes its cap with the
numerator's sign: no current liabilities (current, quick, cash ratios), no
interest expense (interest cover), no liabilities (cash flow to debt, Altman X4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.features import names as N
from riskmodel.features._util import bool_column, date_days, float_column, safe_ratio
from riskmodel.features.snapshots import Grid, customer_codes, months_between, to_days

LIQUIDITY_CAP = 100.0  # current, quick and cash ratios; equity / liabilities in Altman X4
COVER_CAP = 100.0  # interest cover and cash flow to debt
MARGIN_CAP = 10.0  # margins, ROA, balance-sheet shares
GROWTH_CAP = 100.0  # revenue growth (x 100 at most)


def statement_ratios(fin: pd.DataFrame) -> dict[str, np.ndarray]:
    """Ratios of each statement (one value per row of ``fin``), without the point-in-time part."""
    g = {
        c: float_column(fin, c)
        for c in (
            S.REVENUE,
            S.EBIT,
            S.NET_INCOME,
            S.INTEREST_EXPENSE,
            S.OPERATING_CASH_FLOW,
            S.TOTAL_ASSETS,
            S.CURRENT_ASSETS,
            S.CASH,
            S.INVENTORY,
            S.TOTAL_LIABILITIES,
            S.CURRENT_LIABILITIES,
            S.EQUITY,
            S.RETAINED_EARNINGS,
        )
    }
    ta, tl, cl = g[S.TOTAL_ASSETS], g[S.TOTAL_LIABILITIES], g[S.CURRENT_LIABILITIES]
    x1 = safe_ratio(g[S.CURRENT_ASSETS] - cl, ta, MARGIN_CAP)
    x2 = safe_ratio(g[S.RETAINED_EARNINGS], ta, MARGIN_CAP)
    x3 = safe_ratio(g[S.EBIT], ta, MARGIN_CAP)
    x4 = safe_ratio(g[S.EQUITY], tl, LIQUIDITY_CAP, zero_to_cap=True)
    z2 = 6.56 * x1 + 3.26 * x2 + 6.72 * x3 + 1.05 * x4
    z2[~(ta > 0)] = np.nan
    return {
        N.FIN_LEVERAGE: safe_ratio(tl, ta, MARGIN_CAP),
        N.FIN_EQUITY_RATIO: safe_ratio(g[S.EQUITY], ta, MARGIN_CAP),
        N.FIN_CURRENT_RATIO: safe_ratio(g[S.CURRENT_ASSETS], cl, LIQUIDITY_CAP, zero_to_cap=True),
        N.FIN_QUICK_RATIO: safe_ratio(
            g[S.CURRENT_ASSETS] - g[S.INVENTORY], cl, LIQUIDITY_CAP, zero_to_cap=True
        ),
        N.FIN_CASH_RATIO: safe_ratio(g[S.CASH], cl, LIQUIDITY_CAP, zero_to_cap=True),
        N.FIN_INTEREST_COVER: safe_ratio(
            g[S.EBIT], g[S.INTEREST_EXPENSE], COVER_CAP, zero_to_cap=True
        ),
        N.FIN_EBIT_MARGIN: safe_ratio(g[S.EBIT], g[S.REVENUE], MARGIN_CAP),
        N.FIN_NET_MARGIN: safe_ratio(g[S.NET_INCOME], g[S.REVENUE], MARGIN_CAP),
        N.FIN_ROA: safe_ratio(g[S.NET_INCOME], ta, MARGIN_CAP),
        N.FIN_CFO_TO_DEBT: safe_ratio(g[S.OPERATING_CASH_FLOW], tl, COVER_CAP, zero_to_cap=True),
        N.FIN_ALTMAN_Z2: z2,
        N.FIN_LOG_REVENUE: np.log1p(np.maximum(g[S.REVENUE], 0.0)),
        N.FIN_LOG_TOTAL_ASSETS: np.log1p(np.maximum(ta, 0.0)),
        N.FIN_AUDITED: bool_column(fin, S.AUDITED),
    }


def build_financial_features(
    financials: pd.DataFrame, grid: Grid, publication_lag_months: int
) -> dict[str, np.ndarray]:
    """Financial features at the grid's rows (NaN where no statement is published yet).

    ``fin_revenue_growth`` compares the latest visible statement with the
    customer's previous statement (by period end).
    """
    t = S.FINANCIALS
    codes = customer_codes(financials[S.CUSTOMER_ID], grid.customers, t)
    period_end = date_days(financials, S.PERIOD_END, t)
    order = np.lexsort((period_end, codes))  # by customer, then period end
    fin = financials.iloc[order]
    codes, period_end = codes[order], period_end[order]
    known = to_days(
        pd.DatetimeIndex(fin[S.PERIOD_END]) + pd.DateOffset(months=publication_lag_months)
    )
    ratios = statement_ratios(fin)

    revenue = float_column(fin, S.REVENUE)
    m = len(fin)
    prev_same = np.zeros(m, dtype=bool)
    prev_same[1:] = codes[1:] == codes[:-1]
    prev_rev = np.full(m, np.nan)
    prev_rev[1:] = np.where(prev_same[1:], revenue[:-1], np.nan)
    ratios[N.FIN_REVENUE_GROWTH] = safe_ratio(revenue - prev_rev, prev_rev, GROWTH_CAP)

    latest = grid.latest_index(grid.snap_count(known), codes, np.arange(m)).reshape(-1)[grid.rows]
    has = latest >= 0
    idx = np.where(has, latest, 0)
    out: dict[str, np.ndarray] = {}
    for name, ratio in ratios.items():
        vals = ratio[idx] if m else np.zeros(len(idx))
        out[name] = np.where(has, vals, np.nan)
    pe = np.where(has, period_end[idx] if m else 0, np.iinfo(np.int64).min)
    out[N.FIN_STATEMENT_AGE_MONTHS] = months_between(pe, grid.row_snapshot_days())
    out[N.FIN_HAS_STATEMENT] = has.astype(np.float64)
    return out
