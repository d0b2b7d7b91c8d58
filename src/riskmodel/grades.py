"""The master scale: probability of default -> rating grade -> credit policy (limit, terms).

Grades come from params.yaml (``master_scale``), best first; a grade's band is
``(previous max_pd, max_pd]`` so a PD exactly at a band's upper bound falls in
that band.  Customers already in default get ``default_grade`` ("D"), whose
policy is no unsecured credit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.config import Grade, MasterScaleSettings

#: without a statement the limit is invoiced_12m x terms_days / DAYS_PER_YEAR: the receivable the
#: customer carries when it buys as in the last 12 months and pays on the grade's terms
DAYS_PER_YEAR = 365.0


def assign_grades(pd_values: np.ndarray, master_scale: MasterScaleSettings) -> np.ndarray:
    """Grade of each PD (vectorised with ``searchsorted``).

    Raises ValueError for missing PDs or PDs outside [0, 1] (with their count and positions).
    """
    p = np.asarray(pd_values, dtype=float)
    bad = np.isnan(p) | (p < 0) | (p > 1)
    if bad.any():
        where = np.flatnonzero(bad)
        raise ValueError(
            f"assign_grades: {len(where)} PD value(s) missing or outside [0, 1] at positions "
            f"{where[:5].tolist()} (values {p[where[:5]].tolist()})"
        )
    bounds = np.array([g.max_pd for g in master_scale.grades])
    names = np.array([g.grade for g in master_scale.grades], dtype=object)
    idx = np.searchsorted(bounds, p, side="left")
    return names[np.minimum(idx, len(names) - 1)].astype(str)


def default_policy(master_scale: MasterScaleSettings) -> Grade:
    """The policy of the default grade: no unsecured limit, full prepayment, monthly review."""
    return Grade(grade=master_scale.default_grade, max_pd=1.0, description="in default",
                 limit_pct_equity=0.0, limit_pct_revenue=0.0, terms_days=0, prepayment_share=1.0,
                 review_months=1)


def grade_policy(grade: str, master_scale: MasterScaleSettings) -> Grade:
    """The :class:`~riskmodel.config.Grade` (band and policy) of a grade name."""
    for g in master_scale.grades:
        if g.grade == grade:
            return g
    if grade == master_scale.default_grade:
        return default_policy(master_scale)
    known = [g.grade for g in master_scale.grades] + [master_scale.default_grade]
    raise KeyError(f"unknown grade {grade!r}; the master scale has {known}")


def _missing(x: float | None) -> bool:
    return bool(pd.isna(x))


def _money(x: float) -> str:
    return f"{x:,.0f}"


def recommended_limit(
    grade: str,
    equity: float | None,
    revenue: float | None,
    master_scale: MasterScaleSettings,
    invoiced_12m: float | None = None,
) -> tuple[float, str]:
    """Recommended credit limit for a grade, and the calculation in words.

    Rule: ``min(limit_pct_equity x equity, limit_pct_revenue x revenue)`` from
    the latest statement (either alone when the other is missing).  Zero when
    equity is zero or negative, and for grades whose policy allows no credit.
    Without a statement the limit falls back to the receivable implied by the
    customer's own purchases and the grade's terms:
    ``invoiced_12m x terms_days / 365``.  With neither, the limit is NaN and
    the explanation says the committee must set it.
    """
    g = grade_policy(grade, master_scale)
    head = f"Grade {g.grade}"
    if g.limit_pct_equity == 0 and g.limit_pct_revenue == 0:
        return 0.0, f"{head}: the policy allows no unsecured credit (prepayment {g.prepayment_share:.0%}); limit 0"
    eq_missing, rev_missing = _missing(equity), _missing(revenue)
    equity, revenue = (np.nan if equity is None else equity), (np.nan if revenue is None else revenue)
    if not eq_missing and float(equity) <= 0:
        return 0.0, f"{head}: equity is {_money(float(equity))} (zero or negative), so no unsecured limit; limit 0"
    parts: list[tuple[float, str]] = []
    if not eq_missing:
        v = g.limit_pct_equity * float(equity)
        parts.append((v, f"{g.limit_pct_equity:.0%} of equity {_money(float(equity))} = {_money(v)}"))
    if not rev_missing:
        r = max(float(revenue), 0.0)
        v = g.limit_pct_revenue * r
        parts.append((v, f"{g.limit_pct_revenue:.0%} of revenue {_money(r)} = {_money(v)}"))
    if parts:
        limit = min(v for v, _ in parts)
        if len(parts) == 2:
            text = f"{head}: min({parts[0][1]}; {parts[1][1]}) = {_money(limit)}"
        else:
            which = "equity" if eq_missing else "revenue"
            text = f"{head}: {parts[0][1]} (no {which} figure in the latest statement)"
        return float(limit), text
    if invoiced_12m is not None and not _missing(invoiced_12m):
        inv = max(float(invoiced_12m), 0.0)
        limit = inv * g.terms_days / DAYS_PER_YEAR
        return float(limit), (
            f"{head}: no financial statement, so the limit is the receivable implied by the last 12 months' "
            f"invoices at the grade's terms: {_money(inv)} x {g.terms_days} / 365 days = {_money(limit)}"
        )
    return float("nan"), f"{head}: no financial statement and no invoice history; the committee sets the limit"
