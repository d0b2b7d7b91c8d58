"""Book-level checks of a simulated (or real) base against DESIGN.md section 8.

Used by ``benchmarks/realism.py`` and the plausibility tests; pure functions of the tables.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables


def ledger_years(t: Tables) -> list[int]:
    """Years the ledger covers from January to December (a partial first year of opening items is left out)."""
    d = t.invoices[S.INVOICE_DATE]
    months = d.dt.month.groupby(d.dt.year).agg(["min", "max"])
    return [int(y) for y, r in months.iterrows() if r["min"] == 1 and r["max"] == 12]


def _losses(t: Tables) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(lost by defaulters by default year, lost on settled invoices by paid year, invoiced by year)."""
    inv = t.invoices
    dday = inv[S.CUSTOMER_ID].map(t.defaults.groupby(S.CUSTOMER_ID, observed=True)[S.DEFAULT_DATE].min())
    unpaid_at_default = dday.notna() & (inv[S.PAID_DATE].isna() | (inv[S.PAID_DATE] >= dday))
    unrecovered = (inv[S.AMOUNT] - inv[S.PAID_AMOUNT].fillna(0.0)).clip(lower=0)
    settled = ~unpaid_at_default & inv[S.PAID_AMOUNT].notna()
    lost_default = unrecovered.where(unpaid_at_default, 0.0).groupby(dday.dt.year).sum()
    lost_settled = unrecovered.where(settled, 0.0).groupby(inv[S.PAID_DATE].dt.year).sum()
    invoiced = inv.groupby(inv[S.INVOICE_DATE].dt.year)[S.AMOUNT].sum()
    return lost_default, lost_settled, invoiced


def write_off_rate(t: Tables, years: Iterable[int]) -> float:
    """Write-offs over ``years`` as a share of the amount invoiced in them (DESIGN section 8 band 1-2%).

    Written off in year Y: what was never recovered of the invoices a customer
    left unpaid at its default (default date in Y; still open: the whole amount),
    plus what was never paid of invoices settled in Y for less than their amount
    (disputes, deductions).  Divided by the amount invoiced in Y.
    """
    lost_default, lost_settled, invoiced = _losses(t)
    ys = [int(y) for y in years]
    lost = sum(float(lost_default.get(y, 0.0)) + float(lost_settled.get(y, 0.0)) for y in ys)
    total = sum(float(invoiced.get(y, 0.0)) for y in ys)
    return lost / total if total > 0 else float("nan")


def write_off_rate_by_year(t: Tables) -> dict[int, float]:
    """:func:`write_off_rate` of each invoiced year, rounded to 4 digits."""
    return {y: round(write_off_rate(t, [y]), 4) for y in ledger_years(t)}


def default_rate_by_year(t: Tables) -> dict[int, float]:
    """Share of the customers performing on 1 January (onboarded before) that default during the year."""
    onb = t.customers.set_index(S.CUSTOMER_ID)[S.ONBOARDED_DATE]
    dday = t.defaults.groupby(S.CUSTOMER_ID, observed=True)[S.DEFAULT_DATE].min().reindex(onb.index)
    out = {}
    for y in ledger_years(t):
        jan1, next1 = pd.Timestamp(int(y), 1, 1), pd.Timestamp(int(y) + 1, 1, 1)
        cohort = (onb < jan1) & (dday.isna() | (dday >= jan1))
        if cohort.sum():
            out[int(y)] = round(float((cohort & (dday < next1)).sum() / cohort.sum()), 4)
    return out


def visitor_share_of_variance(visits: pd.DataFrame, rating: str) -> float:
    """One-way ANOVA R^2 of a rating on visitor_id: the share of its variance the visitor explains."""
    x = visits[[S.VISITOR_ID, rating]].dropna()
    y = x[rating].astype(float)
    fitted = y.groupby(x[S.VISITOR_ID].astype(str)).transform("mean")
    return float(((fitted - y.mean()) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def visit_figures(visits: pd.DataFrame) -> dict[str, object]:
    """Mean of each rating, mean and max pairwise correlation, visitor share of variance per rating."""
    r = visits[list(S.VISIT_RATINGS)].astype(float)
    corr = r.corr().to_numpy()
    off = corr[~np.eye(len(corr), dtype=bool)]
    return {
        "means": {c: round(float(r[c].mean()), 2) for c in S.VISIT_RATINGS},
        "mean_pairwise_corr": round(float(off.mean()), 3),
        "max_pairwise_corr": round(float(off.max()), 3),
        "visitor_share_of_variance": {c: round(visitor_share_of_variance(visits, c), 4) for c in S.VISIT_RATINGS},
    }
