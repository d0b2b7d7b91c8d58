"""The dated history of the customer facts (``customer_terms``): limits, terms, capital, checks.

The customers table holds credit limit, payment terms, paid-in capital and the
two registration checks as of the extract.  A real book changes them over
time, and mostly *because of* how the customer behaves, which is why a value as
of the extract is look-ahead for any earlier snapshot.  This module writes the
change log a credit department would keep, driven only by what the company
observes at each decision date:

* **onboarding**: the first row, on ``onboarded_date``, holds the onboarding
  limit (expected monthly sales x (terms / 30 + 1), scaled by the onboarding
  assessment; set in ``sim_world.make_population``), the agreed terms, the
  registered paid-in capital and the first registration checks;
* **monthly credit control** at every month end ``d`` (DESIGN.md section 2:
  "ratings are re-evaluated periodically and whenever payment behaviour
  changes"): from the ledger *as observed at d* (invoices issued before d,
  unpaid at d) the team sees the amount more than 30 and more than 90 days
  past due.  Material 90+ arrears freeze the limit (0: no new credit, terms kept;
  in the simulated base a material 90+ arrear is a default, so this fires only
  on ledgers that disagree with the definition, e.g. real data);
  material 30+ arrears at two month ends in a row cut it by half and shorten
  the terms one step (90 -> 60 -> 45 -> 30 -> 14 days).  The decision takes
  effect 5 to 25 days after the month end (the credit committee's lag);
* **recovery**: twelve month ends in a row without material 30+ arrears
  restore three quarters of the limit held before the cut and lengthen the
  terms one step (never beyond the onboarding terms);
* **annual review** on the onboarding anniversary (once 12 months of ledger
  are observed): the sales invoiced in the last 12 months are compared with
  those at the last change of the limit (the first review only records them);
  the limit grows with them when they grew by 25% or more (at most doubled per
  review) and shrinks with them when they halved;
* **default**: the limit is frozen within 14 days of the recognised default;
* **registry**: paid-in capital increases (3% of the under-paid firms a year,
  paying in 30 to 100% of what is missing) and, at half of the annual reviews,
  a new registration check whose result can differ from the last one (a firm
  found trading outside its scope or not at its address at the rate of the
  onboarding checks; a failed check is remedied with probability 0.5).

How it meets the ledger: the decisions read the ledger and the terms set the
due dates of later invoices, so :func:`solve_terms` iterates to a fixed point.
The simulator passes a ledger that is re-settled under each pass's due dates
(``sim_ledger.settle_ledger``: payments keep their days beyond terms, then the
default definition is applied to those due dates and the ``dpd90`` default is
recorded on the first material crossing), so the final ledger, the history,
the recorded defaults and the oracle agree: no performing customer shows a
material 90+ dpd under the final due dates, and a recorded default stays in
the latent chain's month.  The alternative, deciding the terms on the ledger
before the default definition caps its payments, was rejected: the company
would act on arrears its final ledger never shows.  :func:`simulate_customer_terms`
keeps a given ledger's defaults and only re-dates it (for ledgers given as
records, as in the tests).

Anchors: terms of 30 to 60 days are the norm, the EU Late Payment Directive
caps them at 60 unless agreed (DESIGN.md section 8), hence the ladder; the
periodic and behaviour-driven review (DESIGN.md section 2); the freeze of
customers 90+ days past due follows the usual 90-day definition of default.
The 50% cut, the 25%/50% review bands, the lags and the registry rates are
this simulator's assumptions (no published figure), stated here and in the
README.  All random numbers are drawn up front, one per customer and month,
so a decision at month end ``d`` depends only on records dated up to ``d``
(tests/test_sim_history.py checks this by truncating the ledger).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.partition import customer_codes
from riskmodel.data.ranges import expand_ranges
from riskmodel.data.sim_frames import to_dates
from riskmodel.data.sim_world import Calendar, Population, sigmoid

TERMS_LADDER: tuple[int, ...] = (14, 30, 45, 60, 90)


@dataclass(frozen=True)
class TermsParams:
    """Credit-control rules and registry rates of the simulated company (see the module docstring)."""

    material_abs: float = 500.0  # arrears below this amount are not acted upon
    material_30_share: float = 0.10  # 30+ arrears of at least this share of the limit are material
    material_90_share: float = 0.05  # 90+ arrears of at least this share of the limit are material
    cut_factor: float = 0.5
    lag_min_days: int = 5
    lag_max_days: int = 25
    default_lag_max_days: int = 14
    recovery_months: int = 12
    raise_ratio: float = 1.25
    max_raise: float = 2.0
    lower_ratio: float = 0.5
    paid_in_rate_per_year: float = 0.03
    recheck_share: float = 0.5
    remedy_prob: float = 0.5


def _round_limit(x: np.ndarray) -> np.ndarray:
    return np.maximum(1000.0, np.round(x / 1000.0) * 1000.0)


def _step_terms(terms: np.ndarray, step: int, cap: np.ndarray | None = None) -> np.ndarray:
    """Terms moved ``step`` rungs along TERMS_LADDER (clipped), and at most ``cap``."""
    ladder = np.array(TERMS_LADDER)
    pos = np.clip(np.searchsorted(ladder, terms) + step, 0, len(ladder) - 1)
    out = ladder[pos]
    # a customer whose terms are off the ladder keeps them unless a step moves them
    out = np.where(np.isin(terms, ladder), out, np.where(step < 0, np.minimum(out, terms), terms))
    return out if cap is None else np.minimum(out, cap)


#: months of the grid expanded at once by :func:`_intervals_to_grid` (bounds its memory, see there)
GRID_BLOCK_MONTHS = 6


def _intervals_to_grid(start: np.ndarray, stop: np.ndarray, codes: np.ndarray, weights: np.ndarray,
                       n_months: int, n: int, block: int = GRID_BLOCK_MONTHS) -> np.ndarray:
    """``(M, n)`` totals of ``weights`` over the months ``start <= m < stop`` of each record.

    Each record is expanded into one entry per month it covers and the entries are summed per
    (month, customer), ``block`` months of the grid at a time: expanding all months at once took
    four 8-byte arrays of about 12 entries an invoice (2.1 GB for a 50,000-customer partition, the
    simulator's peak, issue 14). Within a block the entries keep the record order, so every cell adds
    the same records in the same order as one expansion would: the totals are identical, bit for bit.
    """
    out = np.zeros((n_months, n))
    for m0 in range(0, n_months, max(1, block)):
        m1 = min(n_months, m0 + max(1, block))
        rec, m = expand_ranges(np.maximum(start, m0) - m0, np.minimum(stop, m1) - m0)
        if not rec.size:
            continue
        out[m0:m1] = np.bincount(m * n + codes[rec], weights=weights[rec],
                                 minlength=(m1 - m0) * n).reshape(m1 - m0, n)
    return out


def observed_arrears(invoices: pd.DataFrame, codes: np.ndarray, month_end: np.ndarray, n: int,
                     days_past_due: int) -> np.ndarray:
    """``(M, n)``: amount more than ``days_past_due`` days past due and unpaid at each month end.

    Only what the ledger shows at the month end ``d``: an invoice counts when
    ``d - due_date > days_past_due`` and it is not settled on or before ``d``.
    """
    due = invoices[S.DUE_DATE].to_numpy().astype("datetime64[D]").astype(np.int64)
    paid_raw = invoices[S.PAID_DATE].to_numpy().astype("datetime64[D]")
    paid = paid_raw.astype(np.int64)
    paid = np.where(np.isnat(paid_raw), np.iinfo(np.int64).max, paid)
    first = np.searchsorted(month_end, due + days_past_due, side="right")  # d > due + dpd
    stop = np.searchsorted(month_end, paid, side="left")  # d < paid
    amount = invoices[S.AMOUNT].to_numpy(dtype=np.float64)
    return _intervals_to_grid(first, stop, codes, amount, len(month_end), n)


def observed_sales_12m(invoices: pd.DataFrame, codes: np.ndarray, month_end: np.ndarray,
                       n: int) -> np.ndarray:
    """``(M, n)``: amount invoiced in the 12 months up to each month end (issued on or before it)."""
    issued = invoices[S.INVOICE_DATE].to_numpy().astype("datetime64[D]").astype(np.int64)
    first = np.searchsorted(month_end, issued, side="left")  # d >= issued
    last_day = issued + 365
    stop = np.searchsorted(month_end, last_day, side="left")  # d < issued + 365
    amount = invoices[S.AMOUNT].to_numpy(dtype=np.float64)
    return _intervals_to_grid(first, stop, codes, amount, len(month_end), n)


MAX_PASSES = 16


def _month_ends(cal: Calendar) -> np.ndarray:
    month_end = (cal.month_start[1 : cal.n_months + 1] - 1).astype(np.int64)
    return month_end[month_end <= cal.end]


@dataclass(frozen=True)
class _Draws:
    """Every random number of the history, one per customer and month end, drawn before any record is read."""

    lag: np.ndarray
    u_paid: np.ndarray
    f_paid: np.ndarray
    u_check: np.ndarray
    u_scope: np.ndarray
    u_addr: np.ndarray
    default_lag: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, M: int, n: int, p: TermsParams) -> _Draws:
        return cls(
            lag=rng.integers(p.lag_min_days, p.lag_max_days + 1, size=(M, n)),
            u_paid=rng.random((M, n)),
            f_paid=rng.uniform(0.3, 1.0, size=(M, n)),
            u_check=rng.random((M, n)),
            u_scope=rng.random((M, n)),
            u_addr=rng.random((M, n)),
            default_lag=rng.integers(0, p.default_lag_max_days + 1, size=n),
        )


def terms_on(terms: pd.DataFrame, customer_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The payment terms valid on each ``days[i]`` for ``customer_ids[i]`` (NaN before the first row).

    A row applies from its ``valid_from`` day on (that day included).
    """
    hist = terms[[S.CUSTOMER_ID, S.VALID_FROM, S.PAYMENT_TERMS_DAYS]].astype({S.CUSTOMER_ID: "str"})
    hist = hist.sort_values(S.VALID_FROM, kind="stable")
    q = pd.DataFrame({S.CUSTOMER_ID: pd.Series(np.asarray(customer_ids, dtype=object), dtype="str"),
                      S.INVOICE_DATE: np.asarray(days).astype("datetime64[D]").astype("datetime64[ns]"),
                      "_row": np.arange(len(days))})
    q = q.sort_values(S.INVOICE_DATE, kind="stable")
    hit = pd.merge_asof(q, hist, left_on=S.INVOICE_DATE, right_on=S.VALID_FROM, by=S.CUSTOMER_ID,
                        direction="backward", allow_exact_matches=True).sort_values("_row")
    return hit[S.PAYMENT_TERMS_DAYS].to_numpy(dtype=np.float64)


def apply_terms_to_invoices(invoices: pd.DataFrame, terms: pd.DataFrame) -> pd.DataFrame:
    """Invoices whose due date is the invoice date + the terms valid on the invoice date.

    An invoice issued on or after a change of terms falls due under the new
    terms, and a settled one is paid as many days beyond (or before) its new
    due date as it was beyond the old one: a customer's days beyond terms is
    its payment habit (the measure trade-credit agencies rate payers on, e.g.
    Dun & Bradstreet's Paydex), and keeping it keeps the ledger in agreement
    with the default definition that ``sim_ledger`` enforces (a shorter term
    must not push an invoice past 90 days without a recorded default).
    """
    days = terms_on(terms, invoices[S.CUSTOMER_ID].to_numpy(dtype=object), invoices[S.INVOICE_DATE].to_numpy())
    due = invoices[S.DUE_DATE].to_numpy().copy()
    known = ~np.isnan(days)
    due[known] = (invoices[S.INVOICE_DATE].to_numpy()[known]
                  + days[known].astype(np.int64).astype("timedelta64[D]"))
    out = invoices.copy()
    shift = due.astype("datetime64[ns]") - invoices[S.DUE_DATE].to_numpy().astype("datetime64[ns]")
    paid = invoices[S.PAID_DATE].to_numpy().astype("datetime64[ns]")
    moved = np.maximum(paid + shift, invoices[S.INVOICE_DATE].to_numpy().astype("datetime64[ns]"))
    out[S.DUE_DATE] = due.astype("datetime64[ns]")
    out[S.PAID_DATE] = np.where(np.isnat(paid), paid, moved)
    return out


def simulate_customer_terms(
    pop: Population,
    cal: Calendar,
    customer_ids: pd.Series,
    invoices: pd.DataFrame,
    defaults: pd.DataFrame,
    rng: np.random.Generator,
    params: TermsParams | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``customer_terms`` change log of every customer, and a fixed ledger re-dated under those terms.

    For a ledger given as records (the tests' synthetic ledgers): later
    invoices fall due under the new terms and settled ones keep their days
    beyond terms (:func:`apply_terms_to_invoices`); the defaults stay as given.
    The simulator solves the terms and its own ledger together with
    :func:`solve_terms`, where the default definition is applied to the final
    due dates.

    Parameters
    ----------
    pop, cal
        The population (onboarding values) and the calendar of the simulation.
    customer_ids : pandas.Series
        The id of each customer of ``pop``, in population order.
    invoices, defaults
        The ledger (due dates under the onboarding terms) and the default events:
        the only behaviour the company observes.
    rng : numpy.random.Generator
        Used once, up front, for every draw (so a decision never depends on later records).

    Returns
    -------
    terms : pandas.DataFrame
        The ``customer_terms`` columns, one row per customer and change date
        (first row on ``onboarded_date``), sorted by customer and date; no row
        after the end of the period.
    invoices : pandas.DataFrame
        ``invoices`` with each due date = invoice date + the terms valid on it.
    """
    terms, (adjusted, _) = solve_terms(
        pop, cal, customer_ids, (invoices, defaults), lambda led: led,
        lambda t: (apply_terms_to_invoices(invoices, t), defaults), rng, params)
    return terms, adjusted


LedgerT = TypeVar("LedgerT")


def solve_terms(
    pop: Population,
    cal: Calendar,
    customer_ids: pd.Series,
    ledger: LedgerT,
    observe: Callable[[LedgerT], tuple[pd.DataFrame, pd.DataFrame]],
    under_terms: Callable[[pd.DataFrame], LedgerT],
    rng: np.random.Generator,
    params: TermsParams | None = None,
) -> tuple[pd.DataFrame, LedgerT]:
    """The change log and the ledger under it, solved together to a fixed point.

    The decisions read the ledger (``observe`` gives its invoices and defaults
    tables) and new terms change the due dates of later invoices
    (``under_terms`` gives the ledger under a change log, starting from
    ``ledger`` under the onboarding terms), so the history is recomputed from
    the ledger under the previous pass's history until it no longer changes.
    It settles: a decision at a month end reads only invoices issued before it,
    whose due dates follow earlier decisions, so each pass settles at least the
    next decision of every customer (a few passes in practice).  The returned
    ledger is ``under_terms(terms)`` of the returned ``terms``.
    """
    p = params or TermsParams()
    draws = _Draws.draw(rng, len(_month_ends(cal)), pop.n, p)
    last: pd.DataFrame | None = None
    for _ in range(MAX_PASSES):
        invoices, defaults = observe(ledger)
        terms = customer_terms_from_ledger(pop, cal, customer_ids, invoices, defaults, draws, p)
        if last is not None and terms.equals(last):
            return terms, ledger
        ledger, last = under_terms(terms), terms
    raise RuntimeError(f"customer terms and due dates did not settle in {MAX_PASSES} passes")


def customer_terms_from_ledger(
    pop: Population,
    cal: Calendar,
    customer_ids: pd.Series,
    invoices: pd.DataFrame,
    defaults: pd.DataFrame,
    draws: _Draws,
    p: TermsParams,
) -> pd.DataFrame:
    """One pass: the change log decided from ``invoices`` and ``defaults`` as observed at each month end."""
    n = pop.n
    ids = pd.Index(np.asarray(customer_ids, dtype=object))
    month_end = _month_ends(cal)
    M = len(month_end)
    lag, u_paid, f_paid, u_check = draws.lag, draws.u_paid, draws.f_paid, draws.u_check
    u_scope, u_addr, default_lag = draws.u_scope, draws.u_addr, draws.default_lag

    inv_codes = customer_codes(invoices[S.CUSTOMER_ID], ids)  # Arrow's hash: no object copy of the ids
    if (inv_codes < 0).any():
        raise ValueError("invoices name customers that are not in the population")
    od30 = observed_arrears(invoices, inv_codes, month_end, n, 30)
    od90 = observed_arrears(invoices, inv_codes, month_end, n, 90)
    sales = observed_sales_12m(invoices, inv_codes, month_end, n)
    default_day = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    if len(defaults):
        d_codes = ids.get_indexer(defaults[S.CUSTOMER_ID].astype(object))
        d_days = defaults[S.DEFAULT_DATE].to_numpy().astype("datetime64[D]").astype(np.int64)
        np.minimum.at(default_day, d_codes, d_days)

    # --- onboarding state
    onboarded = pop.onboarded_day.astype(np.int64)
    limit0 = pop.credit_limit.astype(float)
    terms0 = pop.terms.astype(np.int64)
    sales_ref = np.full(n, np.nan)  # sales of the 12 months before the last change of the limit
    limit_before_cut = limit0.copy()
    limit, terms = limit0.copy(), terms0.copy()
    paid_in = pop.paid_in_capital.astype(float).copy()
    scope, addr = pop.scope_ok.astype(bool).copy(), pop.address_ok.astype(bool).copy()
    p_scope_bad = np.where(pop.fraud, 0.35, sigmoid(-3.4 - 0.5 * pop.mu))  # rates of the onboarding checks
    p_addr_bad = np.where(pop.fraud, 0.5, sigmoid(-2.9 - 0.5 * pop.mu))
    stage = np.zeros(n, dtype=np.int8)  # 0 normal, 1 cut, 2 frozen
    good_run = np.zeros(n, dtype=np.int64)
    bad30_prev = np.zeros(n, dtype=bool)
    last_day = onboarded.copy()
    rows: list[tuple[np.ndarray, ...]] = [(np.arange(n), onboarded, limit.copy(), terms.copy(), paid_in.copy(),
                                           scope.copy(), addr.copy())]
    ledger_start_m = 0

    for m in range(M):
        d = month_end[m]
        active = (onboarded < d) & (default_day > d)
        ref = np.maximum(limit0, 1000.0)
        bad90 = active & (od90[m] >= np.maximum(p.material_abs, p.material_90_share * ref))
        material = np.maximum(p.material_abs, p.material_30_share * ref)
        bad30 = active & (od30[m] >= material)
        new_limit, new_terms = limit.copy(), terms.copy()
        new_paid, new_scope, new_addr = paid_in.copy(), scope.copy(), addr.copy()

        freeze = bad90 & (stage < 2)
        cut = ~freeze & bad30 & bad30_prev & (stage == 0)
        limit_before_cut = np.where((freeze | cut) & (stage == 0), limit, limit_before_cut)
        new_limit[freeze] = 0.0  # no new credit; the terms of what is already owed stay
        new_limit[cut] = _round_limit(limit[cut] * p.cut_factor)
        new_terms[cut] = _step_terms(terms[cut], -1)
        stage = np.where(freeze, 2, np.where(cut, 1, stage)).astype(np.int8)

        good_run = np.where(active & ~bad30, good_run + 1, 0)
        recover = active & (stage > 0) & (good_run >= p.recovery_months) & ~freeze & ~cut
        new_limit[recover] = _round_limit(0.75 * limit_before_cut[recover])
        new_terms[recover] = _step_terms(terms[recover], +1, cap=terms0[recover])
        stage = np.where(recover, 0, stage).astype(np.int8)

        months_on = (d - onboarded) // 30
        anniversary = active & (months_on >= 12) & (np.abs((d - onboarded) % 365.25) < 31) \
            & (m - ledger_start_m >= 11)
        review = anniversary & (stage == 0) & ~freeze & ~cut & ~recover
        first_review = review & np.isnan(sales_ref)
        sales_ref[first_review] = sales[m, first_review]
        growth = np.full(n, 1.0)
        np.divide(sales[m], sales_ref, out=growth, where=review & ~first_review & (sales_ref > 0))
        up = review & (growth >= p.raise_ratio)
        down = review & (growth <= p.lower_ratio)
        new_limit[up] = _round_limit(limit[up] * np.minimum(growth[up], p.max_raise))
        new_limit[down] = _round_limit(limit[down] * growth[down])
        sales_ref[up | down] = sales[m, up | down]

        under_paid = active & (paid_in < pop.registered_capital - 0.5)
        pay = under_paid & (u_paid[m] < p.paid_in_rate_per_year / 12.0)
        new_paid[pay] = np.round(paid_in[pay] + f_paid[m, pay] * (pop.registered_capital[pay] - paid_in[pay]), 0)
        recheck = anniversary & (u_check[m] < p.recheck_share)
        new_scope[recheck] = np.where(scope[recheck], u_scope[m, recheck] >= p_scope_bad[recheck],
                                      u_scope[m, recheck] < p.remedy_prob)
        new_addr[recheck] = np.where(addr[recheck], u_addr[m, recheck] >= p_addr_bad[recheck],
                                     u_addr[m, recheck] < p.remedy_prob)

        changed = ((new_limit != limit) | (new_terms != terms) | (new_paid != paid_in)
                   | (new_scope != scope) | (new_addr != addr))
        if changed.any():
            c = np.flatnonzero(changed)
            day = np.maximum(d + lag[m, c], last_day[c] + 1)
            rows.append((c, day, new_limit[c], new_terms[c], new_paid[c], new_scope[c], new_addr[c]))
            last_day[c] = day
        limit, terms, paid_in, scope, addr = new_limit, new_terms, new_paid, new_scope, new_addr
        bad30_prev = bad30

    # --- the recognised default freezes the limit
    hit = (default_day <= cal.end) & (limit > 0)
    c = np.flatnonzero(hit)
    if len(c):
        day = np.maximum(default_day[c] + default_lag[c], last_day[c] + 1)
        rows.append((c, day, np.zeros(len(c)), terms[c], paid_in[c], scope[c], addr[c]))

    cols = [np.concatenate(x) for x in zip(*rows, strict=True)]
    code, day = cols[0], cols[1]
    keep = day <= cal.end
    frame = pd.DataFrame({
        S.CUSTOMER_ID: pd.Series(ids[code[keep]], dtype="str"),
        S.VALID_FROM: to_dates(day[keep]),
        S.CREDIT_LIMIT: cols[2][keep].astype(float),
        S.PAYMENT_TERMS_DAYS: cols[3][keep].astype(np.int64),
        S.PAID_IN_CAPITAL: cols[4][keep].astype(float),
        S.BUSINESS_SCOPE_OK: cols[5][keep].astype(bool),
        S.ADDRESS_VERIFIED: cols[6][keep].astype(bool),
    })
    frame = frame.sort_values([S.CUSTOMER_ID, S.VALID_FROM], kind="stable")
    frame = frame.drop_duplicates([S.CUSTOMER_ID, S.VALID_FROM], keep="last")
    return frame.reset_index(drop=True)[list(S.CUSTOMER_TERMS_SPEC.column_names)]


def with_current_values(customers: pd.DataFrame, terms: pd.DataFrame) -> pd.DataFrame:
    """``customers`` with the five history facts set to each customer's latest history row."""
    last = terms.sort_values([S.CUSTOMER_ID, S.VALID_FROM], kind="stable").drop_duplicates(
        S.CUSTOMER_ID, keep="last").set_index(S.CUSTOMER_ID)
    out = customers.copy()
    key = out[S.CUSTOMER_ID].astype(object)
    for col in S.HISTORY_FACTS:
        values = last[col].reindex(key)
        if values.isna().any():  # every customer has its onboarding row, unless onboarded after the period
            values = values.fillna(pd.Series(out[col].to_numpy(), index=values.index))
        out[col] = values.to_numpy().astype(out[col].dtype)
    return out
