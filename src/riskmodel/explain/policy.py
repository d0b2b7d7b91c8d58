"""Credit policy of a grade: recommended limit, payment terms, prepayment and review, with the calculation.

The rule is :func:`riskmodel.grades.recommended_limit` (limit = min(share of
equity, share of revenue) of the latest statement; the receivable implied by
the last 12 months' invoices without a statement).  :func:`policy_for` gives
one customer's policy with the calculation in words; :func:`policy_frame`
applies the same rule to many customers at once (no calculation text, but a
``limit_basis`` column saying which rule applied).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from riskmodel.config import MasterScaleSettings
from riskmodel.grades import DAYS_PER_YEAR, grade_policy, recommended_limit

LIMIT_BASES: tuple[str, ...] = (
    "no_credit_grade",  # the grade's policy allows no unsecured credit
    "negative_equity",  # equity zero or negative
    "equity_and_revenue",  # min of the two shares
    "equity",  # equity only (no revenue figure)
    "revenue",  # revenue only (no equity figure)
    "invoices",  # no statement: last 12 months' invoices x terms / 365
    "committee",  # nothing to compute from: the committee sets it
)


@dataclass(frozen=True)
class Policy:
    """One customer's credit policy."""

    grade: str
    description: str
    limit: float
    limit_basis: str
    calculation: str
    terms_days: int
    prepayment_share: float
    review_months: int

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["limit"] = None if np.isnan(self.limit) else float(self.limit)
        return d

    @property
    def terms_text(self) -> str:
        """Payment terms in words, e.g. "30 days net, 10% prepayment, review every 3 months"."""
        terms = "cash in advance" if self.prepayment_share >= 1 else (
            "payment on delivery" if self.terms_days == 0 else f"{self.terms_days} days net")
        parts = [terms]
        if 0 < self.prepayment_share < 1:
            parts.append(f"{self.prepayment_share:.0%} prepayment")
        parts.append("review every month" if self.review_months == 1 else f"review every {self.review_months} months")
        return ", ".join(parts)


def _basis(limit_pct_equity: float, limit_pct_revenue: float, equity: float, revenue: float,
           invoiced: float) -> str:
    if limit_pct_equity == 0 and limit_pct_revenue == 0:
        return "no_credit_grade"
    if not np.isnan(equity) and equity <= 0:
        return "negative_equity"
    if not np.isnan(equity) and not np.isnan(revenue):
        return "equity_and_revenue"
    if not np.isnan(equity):
        return "equity"
    if not np.isnan(revenue):
        return "revenue"
    return "committee" if np.isnan(invoiced) else "invoices"


def _float(x: float | None) -> float:
    return float("nan") if x is None or pd.isna(x) else float(x)


def policy_for(grade: str, equity: float | None, revenue: float | None, master_scale: MasterScaleSettings,
               invoiced_12m: float | None = None) -> Policy:
    """The policy of one customer, with the limit calculation in words."""
    g = grade_policy(grade, master_scale)
    limit, text = recommended_limit(grade, equity, revenue, master_scale, invoiced_12m)
    basis = _basis(g.limit_pct_equity, g.limit_pct_revenue, _float(equity), _float(revenue), _float(invoiced_12m))
    return Policy(grade=g.grade, description=g.description, limit=float(limit), limit_basis=basis,
                  calculation=text, terms_days=g.terms_days, prepayment_share=g.prepayment_share,
                  review_months=g.review_months)


def policy_frame(grades: np.ndarray, equity: np.ndarray, revenue: np.ndarray, invoiced_12m: np.ndarray,
                 master_scale: MasterScaleSettings, current_limit: np.ndarray | None = None,
                 max_increase_share: float | None = None) -> pd.DataFrame:
    """Vectorised :func:`policy_for` without the text: limit, limit_basis, terms, prepayment, review.

    ``grades`` may hold None / "" for rows without a grade; their policy columns are missing.
    With ``current_limit`` and ``max_increase_share`` (params.yaml ``limit_review``) the limit is
    capped as in :func:`review_limit`: at most ``current x (1 + share)`` where a current limit exists.
    """
    grades = np.asarray(grades, dtype=object)
    n = len(grades)
    table = {g.grade: g for g in master_scale.grades}
    table[master_scale.default_grade] = grade_policy(master_scale.default_grade, master_scale)
    names = list(table)
    code = pd.Categorical(grades, categories=names).codes
    unknown = (code < 0) & pd.notna(pd.Series(grades, dtype=object)).to_numpy() & (grades != "")
    if unknown.any():
        raise KeyError(f"unknown grades {sorted(set(grades[unknown]))[:5]}; the master scale has {names}")
    has = code >= 0
    safe = np.where(has, code, 0)

    def col(attr: str) -> np.ndarray:
        return np.array([getattr(table[g], attr) for g in names], dtype=float)[safe]

    pe, pr, terms = col("limit_pct_equity"), col("limit_pct_revenue"), col("terms_days")
    pre, review = col("prepayment_share"), col("review_months")
    eq = np.asarray(equity, dtype=float)
    rev = np.asarray(revenue, dtype=float)
    inv = np.asarray(invoiced_12m, dtype=float)
    with np.errstate(invalid="ignore"):
        by_eq = np.where(np.isnan(eq), np.inf, pe * eq)
        by_rev = np.where(np.isnan(rev), np.inf, pr * np.maximum(rev, 0.0))
        limit = np.minimum(by_eq, by_rev)
        no_stmt = np.isnan(eq) & np.isnan(rev)
        limit = np.where(no_stmt, np.maximum(inv, 0.0) * terms / DAYS_PER_YEAR, limit)
        limit = np.where(~np.isnan(eq) & (eq <= 0), 0.0, limit)
    no_credit = (pe == 0) & (pr == 0)
    limit = np.where(no_credit, 0.0, limit)
    # the basis as codes into LIMIT_BASES (no array of n strings to hash into the categorical)
    basis = np.select(
        [no_credit, ~np.isnan(eq) & (eq <= 0), ~np.isnan(eq) & ~np.isnan(rev), ~np.isnan(eq), ~np.isnan(rev),
         np.isnan(inv)],
        [LIMIT_BASES.index(b) for b in ("no_credit_grade", "negative_equity", "equity_and_revenue", "equity",
                                        "revenue", "committee")],
        default=LIMIT_BASES.index("invoices"),
    )
    limit = np.where(basis == LIMIT_BASES.index("committee"), np.nan, limit)
    if current_limit is not None and max_increase_share is not None:
        cur = np.asarray(current_limit, dtype=float)
        with np.errstate(invalid="ignore"):
            cap = np.where(cur > 0, cur * (1.0 + max_increase_share), np.inf)
            limit = np.where(np.isnan(limit), limit, np.minimum(limit, cap))
    out = pd.DataFrame({
        "limit": np.where(has, limit, np.nan),
        "limit_basis": pd.Categorical.from_codes(np.where(has, basis, -1), categories=list(LIMIT_BASES)),
        "terms_days": pd.array(np.where(has, terms, np.nan), dtype="Float64").astype("Int64"),
        "prepayment_share": np.where(has, pre, np.nan),
        "review_months": pd.array(np.where(has, review, np.nan), dtype="Float64").astype("Int64"),
    })
    assert len(out) == n
    return out


# ------------------------------------------------------------------ committee memo: calculation and limit review
def limit_calculation(grade: str, equity: float | None, revenue: float | None, master_scale: MasterScaleSettings,
                      invoiced_12m: float | None = None) -> dict[str, object]:
    """The limit calculation of :func:`policy_for` as numbers (no text), for the JSON memo.

    Keys: ``basis`` (one of :data:`LIMIT_BASES`), the grade's ``pct_equity`` / ``pct_revenue``,
    ``equity``, ``revenue``, ``invoiced_12m``, ``terms_days`` and the candidate limits
    ``by_equity`` / ``by_revenue`` / ``by_invoices`` (None where they do not apply), and
    ``limit`` (None when the committee sets it).  Amounts are in the reporting currency.
    """
    g = grade_policy(grade, master_scale)
    eq, rev, inv = _float(equity), _float(revenue), _float(invoiced_12m)
    basis = _basis(g.limit_pct_equity, g.limit_pct_revenue, eq, rev, inv)
    limit, _ = recommended_limit(grade, equity, revenue, master_scale, invoiced_12m)

    def num(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    by_equity = g.limit_pct_equity * eq if basis in ("equity_and_revenue", "equity") else np.nan
    by_revenue = g.limit_pct_revenue * max(rev, 0.0) if basis in ("equity_and_revenue", "revenue") else np.nan
    by_invoices = max(inv, 0.0) * g.terms_days / DAYS_PER_YEAR if basis == "invoices" else np.nan
    return {"basis": basis, "grade": g.grade, "pct_equity": float(g.limit_pct_equity),
            "pct_revenue": float(g.limit_pct_revenue), "equity": num(eq), "revenue": num(rev),
            "invoiced_12m": num(inv), "terms_days": int(g.terms_days), "by_equity": num(by_equity),
            "by_revenue": num(by_revenue), "by_invoices": num(by_invoices), "limit": num(float(limit))}


#: codes of the limit-review flags (:func:`review_limit`)
LIMIT_FLAGS: tuple[str, ...] = (
    "capped",  # the grade's rule gives more than the policy allows at one review: capped
    "raise_with_material_delay",  # the limit goes up although the customer paid very late recently
    "raise_with_loss",  # the limit goes up although the latest statement shows a loss
    "new_limit",  # no current limit: a first limit needs the committee's approval
)


@dataclass(frozen=True)
class LimitReview:
    """The recommended limit after the review policy, with what the committee must look at."""

    rule_limit: float | None  # what the grade's rule gives (None: the committee sets it)
    current_limit: float
    cap: float | None  # at most this without approval (None: no cap applies)
    limit: float | None  # recommended: min(rule_limit, cap)
    capped: bool
    change_share: float | None  # (limit - current) / current; None when current is 0 or no limit
    flags: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d


def review_limit(rule_limit: float | None, current_limit: float, max_increase_share: float,
                 worst_delay_days: float | None, material_delay_days: int, latest_loss: bool | None) -> LimitReview:
    """Cap the grade's limit by the review policy and flag a raise that moves against the risk.

    The recommended limit is at most ``current_limit x (1 + max_increase_share)`` (params.yaml
    ``limit_review``); more needs the committee's approval.  A raise (recommended above current)
    is flagged when the worst delay reaches ``material_delay_days`` or the latest statement
    shows a loss: the rating may allow it, but the evidence points the other way.
    """
    current = max(float(current_limit), 0.0)
    rule = None if rule_limit is None or pd.isna(rule_limit) else float(rule_limit)
    cap = current * (1.0 + max_increase_share) if current > 0 else None
    if rule is None:
        limit, capped = None, False
    elif cap is not None and rule > cap:
        limit, capped = cap, True
    else:
        limit, capped = rule, False
    flags: list[str] = []
    if capped:
        flags.append("capped")
    raising = limit is not None and limit > current
    if raising and worst_delay_days is not None and worst_delay_days >= material_delay_days:
        flags.append("raise_with_material_delay")
    if raising and latest_loss:
        flags.append("raise_with_loss")
    if current <= 0 and limit is not None and limit > 0:
        flags.append("new_limit")
    change = None if limit is None or current <= 0 else (limit - current) / current
    return LimitReview(rule_limit=rule, current_limit=current, cap=cap, limit=limit, capped=capped,
                       change_share=change, flags=tuple(flags))
