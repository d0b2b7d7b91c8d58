"""Simulator ledger: the invoices a customer receives and pays, and the defaults they end in.

Invoices per customer and month are Poisson with a rate that scales with firm
size (amounts too), falls while the customer is stressed or its industry is
under stress, and rises for fraudsters building up exposure.  Each invoice's
payment delay is drawn from the customer's state at the due date:

* healthy: late with a probability that rises as latent quality falls (plus a
  customer habit unrelated to risk and a downturn effect); most late invoices
  are a few days late (exponential), some months late (lognormal tail);
  on-time invoices are paid on the due date or some days early;
* stressed: nearly always late, typically 1-3 months;
* fraudulent (before the bust-out): paid early, flatteringly.

The draws (:func:`draw_invoices`) are separate from the settlement under given
due dates (:func:`settle_ledger`): the due dates follow the terms the credit
control sets from this very ledger (``sim_history.solve_terms``), and the
default definition is applied to the final due dates, so the ledger, the terms
history and the recorded defaults agree.  A payment is kept as days beyond its
due date when the terms change (the customer's payment habit).

Customers already on the books when the ledger starts bring their opening items:
invoices issued before the start and still unpaid on it.

At the default date every invoice not yet paid stays unpaid: it remains open
or is written off later with a partial recovery (``paid_amount < amount``,
higher when collateral covers the exposure).  Invoices still unpaid at the end
of the period are open (no paid_date, no paid_amount).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from riskmodel.data import schemas as S
from riskmodel.data.default_definition import Materiality
from riskmodel.data.sim_frames import id_width, make_ids, take_ids, to_category, to_dates
from riskmodel.data.sim_world import HEALTHY, STRESSED, Calendar, History, Population, Systematic

KIND_DPD90, KIND_WRITE_OFF, KIND_INSOLVENCY, KIND_LEGAL = (S.DEFAULT_KINDS.index(k) for k in (
    "dpd90", "write_off", "insolvency", "legal_collection"))


@dataclass(frozen=True)
class LedgerParams:
    """Invoice volume and payment behaviour."""

    season_amp: float = 0.08
    # a stressed customer leans on supplier credit when bank credit dries up (Petersen and Rajan,
    # "Trade credit: theories and evidence", RFS 10, 1997; Garcia-Appendini and Montoriol-Garriga,
    # JFE 109, 2013): it buys more on credit, not less, before it fails
    stressed_volume: float = 1.25
    stress_volume: float = 0.15
    fraud_volume: float = 3.0
    amount_sd: float = 0.6
    inflation: float = 0.02
    late_a: float = -0.4
    late_b_q: float = 0.9
    late_b_downturn: float = 0.35
    short_mean_days: float = 4.5
    short_b_q: float = 0.25
    long_share: float = 0.10
    long_median_days: float = 30.0
    long_sd: float = 0.7
    stressed_late: float = 0.92
    stressed_median_days: float = 45.0
    stressed_sd: float = 0.6
    stalled_share: float = 0.55  # invoices a stressed customer lets slide for months
    stalled_median_days: float = 120.0
    on_time_share: float = 0.55
    early_max_share: float = 0.6
    fraud_late: float = 0.03
    short_pay_share: float = 0.01
    # disputed invoices (quality claims, wrong deliveries): settled 30 to 90 days after the due
    # date for part of the amount, the rest credited and written off.  Insolvency is the main
    # reason for write-offs, not the only one (DESIGN section 8: about 1-2% of receivables
    # written off); a disputed amount is not past due in the sense of the default definition
    opening_days: int = 183  # window before the start from which opening items are drawn
    dispute_share: float = 0.01
    dispute_recovered_max: float = 0.8  # share of the amount finally paid: uniform on [0, this]
    resolved_share: float = 0.65  # unpaid invoices of a defaulter written off later (else they stay open)
    # unsecured creditors of an insolvent company usually get nothing: in 86% of the creditors'
    # voluntary liquidations the UK Insolvency Service sampled (review published December 2024)
    # no creditor was paid anything
    insolvency_nil_share: float = 0.86


@dataclass(frozen=True)
class Ledger:
    """The invoices and defaults tables, plus per-customer facts the other tables need."""

    invoices: pd.DataFrame
    defaults: pd.DataFrame
    kind: np.ndarray  # (n,) index into S.DEFAULT_KINDS, -1 when no default
    exposure: np.ndarray  # (n,) amount unpaid at the default date
    default_day: np.ndarray  # (n,) the recorded default day (same month as the chain's), -1 when none


def activity_window(pop: Population, cal: Calendar, hist: History) -> tuple[np.ndarray, np.ndarray]:
    """First day and number of days each customer is an active, performing customer in each month.

    Returns ``(lo, days)`` of shape (n, n_months); ``days <= 0`` means inactive.
    """
    M = cal.n_months
    ms = cal.month_start
    lo = np.maximum(np.maximum(ms[:M], cal.start)[None, :], pop.onboarded_day[:, None])
    last = np.where(hist.default_day >= 0, hist.default_day - 1, cal.end)
    hi = np.minimum(np.minimum(ms[1 : M + 1] - 1, cal.end)[None, :], last[:, None])
    return lo, hi - lo + 1


@dataclass(frozen=True)
class DrawnInvoices:
    """Every invoice and every random number of the ledger, drawn before the due dates are known.

    The due dates depend on the terms valid on each invoice date, which the
    company's credit control (``sim_history``) sets from the ledger it observes;
    so the draws are made once, here, and :func:`settle_ledger` turns them into
    the ledger under any given due dates.  A payment is held as days beyond the
    due date (``delay``): a customer's days beyond terms is its payment habit,
    the measure trade-credit agencies rate payers on (e.g. Dun & Bradstreet's
    Paydex), so a change of terms moves the payment with the due date.
    """

    cust: np.ndarray  # (k,) customer index of each invoice
    inv_day: np.ndarray
    base_due: np.ndarray  # due date under the onboarding terms
    amount: np.ndarray
    delay: np.ndarray  # paid = max(due + delay, inv_day) before the default definition is applied
    paid_amount: np.ndarray
    opening: np.ndarray  # issued before the extract starts (kept only when still unpaid on its first day)
    u_agree: np.ndarray  # (k,) where in 60..90 days late a capped payment falls
    u_kind: np.ndarray  # (n,) the per-customer draws of the default kind and the recoveries
    beta_write_off: np.ndarray
    beta_other: np.ndarray
    u_nil: np.ndarray
    u_resolve: np.ndarray
    resolve_lag: np.ndarray


def simulate_ledger(
    pop: Population,
    cal: Calendar,
    sysm: Systematic,
    hist: History,
    customer_ids: pd.Series,
    collateral_at_default: np.ndarray,
    rng: np.random.Generator,
    lp: LedgerParams = LedgerParams(),
    materiality: Materiality = Materiality(),
) -> Ledger:
    """Draw every invoice, its payment, and each defaulter's default kind and recoveries, under the onboarding terms.

    The ledger agrees with the default definition (:mod:`riskmodel.data.default_definition`):
    no customer carries a material amount more than ``materiality.dpd_days`` past due
    while performing (see :func:`agree_with_default_definition`).
    """
    drawn = draw_invoices(pop, cal, sysm, hist, rng, lp)
    return settle_ledger(drawn, drawn.base_due, pop, cal, hist, customer_ids, collateral_at_default, lp, materiality)


def draw_invoices(
    pop: Population, cal: Calendar, sysm: Systematic, hist: History, rng: np.random.Generator,
    lp: LedgerParams = LedgerParams(),
) -> DrawnInvoices:
    """Draw every invoice, its payment habit and the defaulters' kinds and recoveries (see :class:`DrawnInvoices`).

    A payment delay is drawn from the customer's state at the due date under the
    onboarding terms and then kept as days beyond whatever the due date becomes.
    """
    n, M = pop.n, cal.n_months
    lo, days = activity_window(pop, cal, hist)
    month_len = np.diff(cal.month_start[: M + 1]).astype(float)
    moy = cal.month_of_year[:M]
    season = 1.0 + lp.season_amp * np.cos(2 * np.pi * (moy - 5) / 12.0) - 0.1 * np.isin(moy, (8, 12))
    prev_state = np.concatenate([hist.state[:, :1], hist.state[:, :-1]], axis=1)
    on_book = np.arange(M)[None, :] - pop.onboard_month[:, None]
    rate = (
        pop.invoice_rate[:, None] * season[None, :]
        * np.where(prev_state == STRESSED, lp.stressed_volume, 1.0)
        * (1.0 - lp.stress_volume * np.minimum(sysm.stress[pop.industry, :M], 2.0))
        * np.where(pop.fraud[:, None] & (on_book > 6), lp.fraud_volume, 1.0)
        * np.clip(days, 0, None) / month_len[None, :]
    )
    counts = rng.poisson(rate).ravel()
    del rate, prev_state, on_book
    flat = np.repeat(np.arange(n * M, dtype=np.int64), counts)
    cust, mon = flat // M, flat % M
    k = len(flat)
    inv_day = lo.ravel()[flat] + np.floor(rng.random(k) * days.ravel()[flat]).astype(np.int64)
    del flat, lo, days
    # ---- opening items: an open-items extract also carries the invoices of customers already on
    # the books that were issued before its first day and are still unpaid on it.  They are drawn
    # over the lp.opening_days before the start (terms of up to 90 days plus at most 90 days late:
    # nothing older can still be open) with the customer's first-month state, and kept below only
    # when paid on or after the start.
    pre_lo = np.maximum(pop.onboarded_day, cal.start - lp.opening_days)
    pre_days = np.where(pop.onboarded_day < cal.start, cal.start - pre_lo, 0)
    pre_rate = (pop.invoice_rate * np.where(hist.state[:, 0] == STRESSED, lp.stressed_volume, 1.0)
                * pre_days / month_len[0])
    pcust = np.repeat(np.arange(n, dtype=np.int64), rng.poisson(pre_rate))
    pday = pre_lo[pcust] + np.floor(rng.random(len(pcust)) * pre_days[pcust]).astype(np.int64)
    opening = np.concatenate([np.zeros(k, dtype=bool), np.ones(len(pcust), dtype=bool)])
    cust = np.concatenate([cust, pcust])
    mon = np.concatenate([mon, np.zeros(len(pcust), dtype=mon.dtype)])
    inv_day = np.concatenate([inv_day, pday])
    k = len(cust)
    amount = np.round(np.maximum(
        10.0,
        np.exp(pop.log_amount[cust] + lp.amount_sd * rng.standard_normal(k) - 0.5 * lp.amount_sd**2)
        * (1.0 + lp.inflation) ** (mon / 12.0)), 2)
    terms = pop.terms[cust]
    due = inv_day + terms

    # ---- payment delay from the state at the due date
    dm = np.clip(cal.month_index(due), 0, M - 1)
    ind = pop.industry[cust]
    quality = hist.q[cust, dm] + sysm.shift[ind, dm]
    stressed = hist.state[cust, dm] != HEALTHY
    fraud = pop.fraud[cust] & ~stressed
    p_late = np.where(
        stressed, lp.stressed_late,
        np.where(fraud, lp.fraud_late,
                 expit(lp.late_a - lp.late_b_q * quality + pop.habit[cust]
                       + lp.late_b_downturn * sysm.downturn[dm])))
    u1, u2, u3 = rng.random(k), rng.random(k), rng.random(k)
    z = rng.standard_normal(k)
    late = u1 < p_late
    long = u2 < np.minimum(lp.long_share * np.exp(-0.4 * quality), 0.6)
    short_days = np.ceil(-np.log1p(-u3) * lp.short_mean_days * np.exp(-lp.short_b_q * quality))
    long_days = np.round(np.exp(np.log(lp.long_median_days) - 0.15 * quality + lp.long_sd * z))
    stressed_median = np.where(u2 < lp.stalled_share, lp.stalled_median_days, lp.stressed_median_days)
    stressed_days = np.round(np.exp(np.log(stressed_median) + lp.stressed_sd * z))
    late_days = np.maximum(1.0, np.where(stressed, stressed_days, np.where(long, long_days, short_days)))
    early_days = np.where(
        fraud, np.floor((0.3 + 0.5 * u3) * terms),
        np.where(u2 < lp.on_time_share, np.floor(u3 * 3.0), np.floor(u3 * lp.early_max_share * terms)))
    delay = np.where(late, late_days, -early_days).astype(np.int64)
    del quality, p_late, u1, u2, z, long, short_days, long_days, stressed_days, stressed_median
    del late_days, early_days, late, dm
    paid_amount = amount.copy()
    short_pay = rng.random(k) < lp.short_pay_share
    paid_amount[short_pay] = np.round(amount[short_pay] * (0.85 + 0.14 * u3[short_pay]), 2)
    dispute = ~pop.fraud[cust] & ~short_pay & (rng.random(k) < lp.dispute_share)
    nd = int(dispute.sum())
    delay[dispute] = 30 + rng.integers(0, 61, nd)
    paid_amount[dispute] = np.round(amount[dispute] * rng.uniform(0.0, lp.dispute_recovered_max, nd), 2)
    del u3, short_pay, dispute
    u_agree = rng.random(k)
    u_kind = rng.random(n)
    beta_write_off, beta_other = rng.beta(1.0, 8.0, n), rng.beta(1.0, 5.0, n)
    u_nil = rng.random(n)
    u_resolve, resolve_lag = rng.random(n), rng.integers(60, 541, n)
    return DrawnInvoices(
        cust=cust, inv_day=inv_day, base_due=due, amount=amount, delay=delay, paid_amount=paid_amount,
        opening=opening, u_agree=u_agree, u_kind=u_kind, beta_write_off=beta_write_off, beta_other=beta_other,
        u_nil=u_nil, u_resolve=u_resolve, resolve_lag=resolve_lag)


def settle_ledger(
    drawn: DrawnInvoices,
    due: np.ndarray,
    pop: Population,
    cal: Calendar,
    hist: History,
    customer_ids: pd.Series,
    collateral_at_default: np.ndarray,
    lp: LedgerParams = LedgerParams(),
    materiality: Materiality = Materiality(),
) -> Ledger:
    """The ledger and the defaults of ``drawn`` when the invoices fall due on ``due``.

    Payments follow the due dates (``delay`` days beyond them); then the
    default definition is applied to these final due dates
    (:func:`agree_with_default_definition`), so whatever terms the due dates
    come from, no performing customer carries a material amount more than
    ``materiality.dpd_days`` past due and every ``dpd90`` default is recorded on
    the ledger's first material crossing, inside the latent chain's default month.
    Deterministic: every random number is in ``drawn``.
    """
    n = pop.n
    cust, inv_day, amount = drawn.cust, drawn.inv_day, drawn.amount
    paid = np.maximum(due + drawn.delay, inv_day)
    paid_amount = drawn.paid_amount.copy()

    # ---- the ledger agrees with the default definition: dpd90 defaults where it first crosses
    paid, dday, crossed = agree_with_default_definition(
        pop, cal, hist, cust, inv_day, due, amount, paid, drawn.u_agree, materiality)
    keep = ~((dday[cust] >= 0) & (inv_day >= dday[cust]))  # nothing is invoiced on or after the default
    keep &= ~(drawn.opening & (paid < cal.start))  # settled before the extract starts: not in it
    if not keep.all():
        cust, inv_day, due = cust[keep], inv_day[keep], due[keep]
        amount, paid, paid_amount = amount[keep], paid[keep], paid_amount[keep]
    k = len(cust)

    # ---- defaults: everything not paid by the default date stays unpaid
    has = dday >= 0
    unpaid = has[cust] & (paid >= dday[cust])
    uc = cust[unpaid]
    exposure = np.bincount(uc, weights=amount[unpaid], minlength=n)
    u = drawn.u_kind
    kind = np.where(
        pop.fraud, np.where(u < 0.6, KIND_LEGAL, KIND_INSOLVENCY),
        np.where(crossed, KIND_DPD90,
                 np.where(u < 0.55, KIND_INSOLVENCY, np.where(u < 0.85, KIND_LEGAL, KIND_WRITE_OFF))))
    kind = np.where(exposure > 0, kind, KIND_INSOLVENCY)
    kind = np.where(has, kind, -1)

    # recoveries: a written-off account is settled for a share of what it owed
    base = np.where(kind == KIND_WRITE_OFF, drawn.beta_write_off, drawn.beta_other)
    base = np.where((kind == KIND_INSOLVENCY) & (drawn.u_nil < lp.insolvency_nil_share), 0.0, base)
    cover = np.minimum(1.0, collateral_at_default / np.maximum(exposure, 1.0))
    recovery = np.minimum(0.95, base + (1.0 - base) * 0.85 * cover)
    resolve = np.where(
        kind == KIND_WRITE_OFF, dday,
        np.where(drawn.u_resolve < lp.resolved_share, dday + drawn.resolve_lag, -1))
    resolved = has & (resolve >= 0) & (resolve <= cal.end)
    ru = unpaid & resolved[cust]
    paid[unpaid] = -1
    paid[ru] = resolve[cust[ru]]
    paid_amount[ru] = np.round(amount[ru] * recovery[cust[ru]], 2)
    is_open = (paid < 0) | (paid > cal.end)
    paid_amount[is_open] = np.nan

    order = np.argsort(inv_day * n + cust, kind="stable")
    invoices = pd.DataFrame({
        S.INVOICE_ID: make_ids("INV", np.arange(1, k + 1), id_width(k, 7)),
        S.CUSTOMER_ID: take_ids(customer_ids, cust[order]),
        S.INVOICE_DATE: to_dates(inv_day[order]),
        S.DUE_DATE: to_dates(due[order]),
        S.AMOUNT: amount[order],
        S.PAID_DATE: to_dates(np.where(is_open, 0, paid)[order], is_open[order]),
        S.PAID_AMOUNT: paid_amount[order],
    })
    didx = np.flatnonzero(has)
    didx = didx[np.argsort(dday[didx] * n + didx, kind="stable")]
    defaults = pd.DataFrame({
        S.CUSTOMER_ID: take_ids(customer_ids, didx),
        S.DEFAULT_DATE: to_dates(dday[didx]),
        S.KIND: to_category(kind[didx], S.DEFAULT_KINDS),
    })
    return Ledger(invoices=invoices, defaults=defaults, kind=kind, exposure=exposure, default_day=dday)


def agree_with_default_definition(
    pop: Population,
    cal: Calendar,
    hist: History,
    cust: np.ndarray,
    inv_day: np.ndarray,
    due: np.ndarray,
    amount: np.ndarray,
    paid: np.ndarray,
    u: np.ndarray,
    materiality: Materiality,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make payments and default days agree with "a material amount 90+ days past due is a default".

    Returns ``(paid, default_day, crossed)``:

    * A customer that goes through the stressed state to default (not sudden,
      not a fraudster) defaults on the first day of its default month (the
      chain's) on which the invoices more than ``dpd_days`` past due are material
      (both thresholds, on the outstanding invoices that day): a ``dpd90`` default
      recorded when the ledger crosses the definition (``crossed``).  Without a
      material crossing in that month it keeps the chain's day (an unlikeliness to
      pay default: insolvency, legal collection or a write-off).  The day stays in
      the chain's month, so the oracle's monthly default probabilities still hold.
    * Before its default (or ever, when it never defaults) a customer pays every
      invoice before it is more than ``dpd_days`` past due: an invoice drawn later
      than that is paid 60 to 90 days late instead.  Firms in difficulty stretch
      suppliers up to the point where the supplier would declare them in default
      and send the account to collection, and a customer past it is in default
      under the EU definition (EBA/GL/2016/07), not performing.
    """
    n, dpd = pop.n, materiality.dpd_days
    cross = due + dpd + 1  # first day on which the invoice is more than dpd days past due
    chain = hist.default_day
    has = chain >= 0
    dm = np.maximum(hist.default_month, 0)
    a = np.where(has, np.maximum(cal.month_start[dm], cal.start), -1)
    b = np.where(has, np.minimum(cal.month_start[dm + 1] - 1, cal.end), -1)
    path = has & ~hist.sudden & ~pop.fraud  # through the stressed state: may cross in its default month
    # pay before crossing, up to the start of the default month (stressed path) or the default day
    limit = np.where(path, a, np.where(has, chain, np.iinfo(np.int64).max))
    cap = (paid >= cross) & (cross < limit[cust])
    paid = paid.copy()
    paid[cap] = due[cap] + 60 + np.floor(u[cap] * (dpd - 59)).astype(np.int64)

    # first material crossing day in the default month
    sel = path[cust] & (inv_day <= b[cust]) & (paid >= a[cust])
    c, inv_c, cross_c, amt_c, paid_c = cust[sel], inv_day[sel], cross[sel], amount[sel], paid[sel]
    a_c = a[c]
    first = np.full(n, -1, dtype=np.int64)
    for off in range(31):
        d = a_c + off
        live = d <= b[c]
        out_ = live & (inv_c <= d) & (paid_c >= d)
        exposure = np.bincount(c[out_], weights=amt_c[out_], minlength=n)
        late = out_ & (cross_c <= d)
        past_due = np.bincount(c[late], weights=amt_c[late], minlength=n)
        hit = materiality.is_material(past_due, exposure) & (first < 0) & path
        first[hit] = a[hit] + off
    crossed = first >= 0
    dday = np.where(crossed, first, chain)
    return paid, dday, crossed
