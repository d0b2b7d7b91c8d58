"""Simulator evidence beyond the ledger: financial statements, visit reports, external events, collateral.

Each is a noisy view of the customer's latent state (quality, stress, the
latent equity and current ratios that drive the hazard):

* financials: annual statements at 31 December, for the two years before
  onboarding onwards; some customers never file (mostly sole traders), some
  years are missing (more often while stressed), a share is unaudited and
  noisier and flattered; fraudsters file flattering unaudited statements.  The
  balance sheet holds exactly (assets = liabilities + equity), current assets
  cover cash + inventory + receivables, retained earnings = equity - paid-in capital.
* visits: 0-4 a year (more for large customers and while stressed), site
  visits or phone calls (no premises / inventory / morale rating on a call),
  eight 1..5 ratings, each reading its own aspect of the firm (operations,
  outlook, management quality, liquidity, stress; see :data:`VISIT_LOADS`)
  through noise, a small per-customer halo and the visitor's leniency; lavish
  offices mark fraudsters.
* events: lawsuits and tax arrears (more likely under distress), bank and trade
  references (1..5), agency ratings (1..10), collateral pledged at onboarding or
  when payments slip, sometimes released; our own lawsuit at a legal-collection default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from riskmodel.data import schemas as S
from riskmodel.data.sim_frames import id_width, make_ids, take_ids, to_category, to_dates, to_rating
from riskmodel.data.sim_ledger import KIND_LEGAL, Ledger, activity_window
from riskmodel.data.sim_world import (
    INDUSTRY_TRAITS,
    LEGAL_FORM_TRAITS,
    STRESSED,
    Calendar,
    History,
    Population,
    SimParams,
    Systematic,
    latent_current_ratio,
    latent_equity_ratio,
)

EVT = {name: S.EVENT_TYPES.index(name) for name in S.EVENT_TYPES}


# ------------------------------------------------------------------ helpers
def _monthly_draws(
    rate: np.ndarray, lo: np.ndarray, days: np.ndarray, month_len: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts per customer-month (rate per full month) -> (customer, month, day) per draw."""
    M = rate.shape[1]
    counts = rng.poisson(rate * np.clip(days, 0, None) / month_len[None, :]).ravel()
    flat = np.repeat(np.arange(rate.size, dtype=np.int64), counts)
    day = lo.ravel()[flat] + np.floor(rng.random(len(flat)) * days.ravel()[flat]).astype(np.int64)
    return flat // M, flat % M, day


def _quality(
    hist: History, sysm: Systematic, pop: Population, cust: np.ndarray, mon: np.ndarray
) -> np.ndarray:
    return hist.q[cust, mon] + sysm.shift[pop.industry[cust], mon]


def _round_rating(x: np.ndarray, top: int) -> np.ndarray:
    return np.clip(np.round(x), 1, top).astype(np.int64)


# --------------------------------------------------------------- collateral
@dataclass(frozen=True)
class Collateral:
    """Collateral pledges (value > 0) and releases as event rows."""

    cust: np.ndarray
    day: np.ndarray
    value: np.ndarray
    released: np.ndarray  # bool: a release rather than a pledge

    def net_at(self, n: int, day: np.ndarray) -> np.ndarray:
        """Net collateral held for each customer on the day before ``day`` (per customer)."""
        before = self.day < day[self.cust]
        signed = np.where(self.released, -self.value, self.value)
        return np.maximum(0.0, np.bincount(self.cust[before], weights=signed[before], minlength=n))


def plan_collateral(pop: Population, cal: Calendar, hist: History, rng: np.random.Generator) -> Collateral:
    """Pledges at onboarding (more for risky and young firms), when payments slip, and some releases."""
    n, M = pop.n, cal.n_months
    young = (pop.onboarded_day - pop.founded_day) < 3 * 365
    at_onboard = rng.random(n) < expit(-1.7 - 0.5 * pop.mu + 0.8 * young)
    v0 = np.round(pop.credit_limit * rng.uniform(0.3, 1.5, n), -2)
    lo, days = activity_window(pop, cal, hist)
    month_len = np.diff(cal.month_start[: M + 1]).astype(float)
    rate = np.where(hist.state == STRESSED, 0.03, 0.0)
    c1, _, d1 = _monthly_draws(rate, lo, days, month_len, rng)
    v1 = np.round(pop.credit_limit[c1] * rng.uniform(0.2, 0.8, len(c1)), -2)
    # releases of onboarding pledges, while still performing
    end_perf = np.where(hist.default_day >= 0, hist.default_day - 1, cal.end)
    first = np.maximum(pop.onboarded_day, cal.start) + 30
    rel = at_onboard & (rng.random(n) < 0.2) & (end_perf > first)
    rel_day = first + np.floor(rng.random(n) * np.maximum(end_perf - first, 1)).astype(np.int64)
    c0 = np.flatnonzero(at_onboard)
    c2 = np.flatnonzero(rel)
    return Collateral(
        cust=np.concatenate([c0, c1, c2]),
        day=np.concatenate([pop.onboarded_day[c0], d1, rel_day[c2]]),
        value=np.concatenate([v0[c0], v1, v0[c2]]),
        released=np.concatenate([np.zeros(len(c0) + len(c1), bool), np.ones(len(c2), bool)]),
    )


# --------------------------------------------------------------- financials
def simulate_financials(
    pop: Population, cal: Calendar, sysm: Systematic, hist: History, p: SimParams,
    customer_ids: pd.Series, rng: np.random.Generator,
) -> pd.DataFrame:
    """Annual statements at 31 December from the latent state, with noise, gaps and audit status."""
    n, M = pop.n, cal.n_months
    y0 = int(np.datetime64(cal.start, "D").astype("datetime64[Y]").astype(int)) + 1970
    y1 = int(np.datetime64(cal.end, "D").astype("datetime64[Y]").astype(int)) + 1970
    never = np.array([LEGAL_FORM_TRAITS[f][2] for f in S.LEGAL_FORMS])[pop.legal_form]
    unaudited_p = np.array([LEGAL_FORM_TRAITS[f][3] for f in S.LEGAL_FORMS])[pop.legal_form]
    files = (rng.random(n) >= never) | pop.fraud
    audited_cust = (rng.random(n) >= unaudited_p) & ~pop.fraud
    onboard_year = pop.onboarded_day.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    turnover = np.array([INDUSTRY_TRAITS[k][2] for k in S.INDUSTRIES])[pop.industry]
    ca_share = np.array([INDUSTRY_TRAITS[k][3] for k in S.INDUSTRIES])[pop.industry]
    # persistent firm-specific structure: asset intensity, current-asset share, working-capital mix, margin
    firm = rng.standard_normal((6, n))
    frames = []
    for year in range(y0 - 2, y1 + 1):
        pe = int(np.datetime64(f"{year}-12-31", "D").astype(np.int64))
        if pe + 90 > cal.end:
            break
        m = int(np.clip(cal.month_index(np.array([pe]))[0], 0, M - 1))
        gap = max(0, (cal.month_start[0] - pe) // 30)
        q = hist.q[:, m]
        if gap > 0:  # years before the period: step the AR(1) back with fresh noise
            phi_g = p.phi**gap
            q = pop.mu + phi_g * (q - pop.mu) + p.q_sd * np.sqrt(1 - phi_g**2) * rng.standard_normal(n)
        stressed = (hist.state[:, m] == STRESSED) if gap == 0 else np.zeros(n, bool)
        stress = np.minimum(sysm.stress[pop.industry, m], 2.0)
        quality = q + sysm.shift[pop.industry, m]
        alive = (hist.default_day < 0) | (hist.default_day > pe + 120)
        keep = (files & alive & (pop.founded_day <= pe - 180) & (year >= onboard_year - 2)
                & (rng.random(n) >= 0.07 + 0.25 * stressed))
        z = rng.standard_normal((12, n))
        audited = (audited_cust ^ (rng.random(n) < 0.05)) & ~pop.fraud
        noise = np.where(audited, 1.0, 2.5)
        flatter = (~audited) * (quality < -0.5) * 0.02 + pop.fraud * 0.05

        revenue = np.exp(pop.log_revenue + 0.03 * (year - y0) + 0.08 * quality + 0.05 * noise * z[0]) \
            * (1 - 0.1 * stress) * np.where(stressed, 0.85, 1.0) * np.where(pop.fraud, 1.4, 1.0)
        margin = (0.045 + 0.015 * firm[5] + 0.03 * quality - 0.03 * stress - 0.04 * stressed
                  + 0.02 * noise * z[1] + flatter)
        assets = revenue / turnover * np.exp(0.25 * firm[0] + 0.04 * noise * z[2])
        er = latent_equity_ratio(p, q, pop.er_u) + 0.02 * noise * z[3] + 0.5 * flatter
        cr = latent_current_ratio(p, q, pop.cr_v) * np.exp(0.05 * noise * z[4]) * (1 + 2 * flatter)
        ca = assets * np.clip(ca_share * np.exp(0.15 * firm[1] + 0.03 * z[5]), 0.05, 0.95)
        cl = ca / cr
        tl = np.maximum((1.0 - er) * assets, cl / 0.95)
        equity = assets - tl
        cash_s = np.clip(0.12 + 0.04 * quality + 0.03 * firm[2] + 0.02 * z[6] - 0.05 * stressed, 0.01, 0.5)
        inv_s = np.clip(0.30 + 0.08 * firm[3] + 0.03 * z[7], 0.0, 0.6)
        rec_s = np.clip(0.35 + 0.08 * firm[4] + 0.03 * z[8], 0.05, 0.6)
        scale = np.minimum(1.0, 0.97 / (cash_s + inv_s + rec_s))
        rate = np.clip(0.045 + 0.02 * stressed + 0.01 * stress - 0.005 * quality, 0.01, 0.15)
        interest = rate * 0.4 * tl
        ebit = margin * revenue
        pre_tax = ebit - interest
        net = np.where(pre_tax > 0, 0.78 * pre_tax, pre_tax)
        ocf = net + 0.04 * assets + 0.04 * revenue * z[9] - 0.05 * revenue * stressed
        tl_r, eq_r = np.round(tl), np.round(equity)
        idx = np.flatnonzero(keep)
        frames.append(pd.DataFrame({
            "_i": idx,
            S.PERIOD_END: np.full(len(idx), pe, dtype=np.int64),
            S.REVENUE: np.round(revenue[idx]),
            S.EBIT: np.round(ebit[idx]),
            S.NET_INCOME: np.round(net[idx]),
            S.INTEREST_EXPENSE: np.round(interest[idx]),
            S.OPERATING_CASH_FLOW: np.round(ocf[idx]),
            S.TOTAL_ASSETS: (tl_r + eq_r)[idx],
            S.CURRENT_ASSETS: np.round(ca[idx]),
            S.CASH: np.floor((ca * cash_s * scale)[idx]),
            S.INVENTORY: np.floor((ca * inv_s * scale)[idx]),
            S.RECEIVABLES: np.floor((ca * rec_s * scale)[idx]),
            S.TOTAL_LIABILITIES: tl_r[idx],
            S.CURRENT_LIABILITIES: np.round(np.minimum(cl, tl)[idx]),
            S.EQUITY: eq_r[idx],
            S.RETAINED_EARNINGS: (eq_r - pop.paid_in_capital)[idx],
            S.AUDITED: audited[idx],
        }))
    fin = pd.concat(frames, ignore_index=True).sort_values(["_i", S.PERIOD_END], kind="stable")
    out = {S.CUSTOMER_ID: take_ids(customer_ids, fin["_i"].to_numpy())}
    out[S.PERIOD_END] = to_dates(fin[S.PERIOD_END].to_numpy())
    for col in S.FINANCIALS_SPEC.column_names[2:]:
        out[col] = fin[col].to_numpy()
    return pd.DataFrame(out)


# ------------------------------------------------------------------- visits
# Each visit rating observes its own aspect of the firm (seed 000, "visitas in situ"): the office
# and plant show current profitability, inventory the future cash flow, senior managers the level
# and quality of management, ordinary staff whether wages are paid on time (liquidity), and
# reluctance to disclose marks bad credit or a financial crisis.  Per rating: centre, then loads on
# operations (current quality), outlook (expected quality in 12 months), management quality,
# liquidity (latent current ratio), stressed state, payment habit and size (standardised drivers).
VISIT_ASPECTS = ("operations", "outlook", "management", "liquidity", "stressed", "habit", "size")
VISIT_LOADS: dict[str, tuple[float, tuple[float, ...]]] = {
    S.CORRESPONDENCE: (3.5, (0.15, 0.0, 0.15, 0.0, -0.6, -0.45, 0.0)),
    S.RESPONSIVENESS: (3.6, (0.0, 0.0, 0.35, 0.0, -0.5, 0.0, 0.1)),
    S.EXPERTISE: (3.4, (0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.2)),
    S.PREMISES: (3.4, (0.55, 0.0, 0.15, 0.0, -0.3, 0.0, 0.0)),
    S.INVENTORY_RATING: (3.2, (0.0, 0.5, 0.2, 0.0, -0.5, 0.0, 0.0)),
    S.MANAGEMENT: (3.3, (0.15, 0.0, 0.7, 0.0, 0.0, 0.0, 0.0)),
    S.STAFF_MORALE: (3.5, (0.0, 0.0, 0.1, 0.55, -0.8, 0.0, 0.0)),
    S.DISCLOSURE: (3.4, (0.1, 0.0, 0.25, 0.0, -0.9, 0.0, 0.0)),
}
VISIT_NOISE_SD = 0.55  # the visitor's reading of one visit
VISITOR_LENIENCY_SD = 0.2  # a visitor rates everyone higher or lower
CUSTOMER_HALO_SD = 0.15  # a customer's charm, the same on every rating
ON_SITE_ONLY = (S.PREMISES, S.INVENTORY_RATING, S.STAFF_MORALE)
_OPENING = {
    (0, 0): "Site visit: premises run down, little stock moving, managers evasive.",
    (0, 1): "Site visit: operations normal, nothing notable.",
    (0, 2): "Site visit: tidy premises, busy floor, management well informed.",
    (1, 0): "Phone call: hard to reach, promised to settle next week.",
    (1, 1): "Phone call: routine contact.",
    (1, 2): "Phone call: prompt answers, orders steady.",
}


def _notes_table() -> np.ndarray:
    """All note texts indexed by code = ((phone * 3 + bucket) * 2 + lavish) * 2 + licence."""
    out = []
    for phone in (0, 1):
        for bucket in (0, 1, 2):
            for lavish in (0, 1):
                for licence in (0, 1):
                    text = _OPENING[(phone, bucket)]
                    if lavish:
                        text += " Office very lavish for the size of the business."
                    if licence:
                        text += " Licence and asset documents checked."
                    out.append(text)
    return np.array(out, dtype=object)


def visit_drivers(
    pop: Population, sysm: Systematic, hist: History, p: SimParams, cust: np.ndarray, mon: np.ndarray
) -> np.ndarray:
    """The latent aspects a visit observes, one column per :data:`VISIT_ASPECTS` (about unit scale).

    operations: current latent quality; outlook: the quality expected 12 months
    ahead (the AR(1) pulls it towards the customer's mean); management: the
    management-quality trait; liquidity: the latent current ratio (log, centred);
    stressed: 1 in the stressed state; habit: the payment habit; size: firm size.
    """
    q = _quality(hist, sysm, pop, cust, mon)
    shift = sysm.shift[pop.industry[cust], mon]
    outlook = pop.mu[cust] + p.phi**12 * (hist.q[cust, mon] - pop.mu[cust]) + shift
    log_cr = np.log(latent_current_ratio(p, hist.q[cust, mon], pop.cr_v[cust]))
    return np.column_stack([
        q, outlook, pop.mgmt[cust], (log_cr - p.cr0) / 0.33,
        (hist.state[cust, mon] != 0).astype(float), pop.habit[cust] / 0.6, pop.size_z[cust],
    ])


def simulate_visits(
    pop: Population, cal: Calendar, sysm: Systematic, hist: History,
    customer_ids: pd.Series, rng: np.random.Generator, p: SimParams = SimParams(),
) -> pd.DataFrame:
    """Irregular visit and contact reports with visitor-biased 1..5 ratings."""
    n, M = pop.n, cal.n_months
    lo, days = activity_window(pop, cal, hist)
    month_len = np.diff(cal.month_start[: M + 1]).astype(float)
    per_year = np.clip(1.1 * np.exp(0.35 * pop.size_z), 0.3, 3.5)
    rate = per_year[:, None] / 12.0 * np.where(hist.state == STRESSED, 1.6, 1.0)
    cust, mon, day = _monthly_draws(rate, lo, days, month_len, rng)
    k = len(cust)
    n_visitors = max(4, round(n / 120))
    leniency = rng.normal(0.0, VISITOR_LENIENCY_SD, n_visitors)
    manager = rng.integers(0, n_visitors, n)
    halo = rng.normal(0.0, CUSTOMER_HALO_SD, n)
    visitor = np.where(rng.random(k) < 0.75, manager[cust], rng.integers(0, n_visitors, k))
    phone = rng.random(k) < 0.35
    fraud = pop.fraud[cust]
    drivers = visit_drivers(pop, sysm, hist, p, cust, mon)
    bias = leniency[visitor] + halo[cust]
    out: dict[str, object] = {}
    ratings = {}
    for col in S.VISIT_RATINGS:
        centre, loads = VISIT_LOADS[col]
        r = centre + drivers @ np.asarray(loads) + bias + VISIT_NOISE_SD * rng.standard_normal(k)
        if col == S.PREMISES:
            r = np.where(fraud, 4.6 + 0.4 * rng.random(k), r)
        elif col in (S.CORRESPONDENCE, S.MANAGEMENT):
            r = np.where(fraud, r + 1.0, r)
        elif col == S.DISCLOSURE:
            r = np.where(fraud, 1.0 + rng.random(k), r)
        missing = rng.random(k) < (0.08 if col == S.DISCLOSURE else 0.04)
        if col in ON_SITE_ONLY:
            missing |= phone
        ratings[col] = to_rating(_round_rating(r, 5), missing)
    licence = ~phone & (rng.random(k) < np.where(fraud, 0.25, 0.55))
    lavish = ~phone & (rng.random(k) < np.where(fraud, 0.75, 0.012 + 0.02 * (pop.size_z[cust] > 1.5)))
    stack = np.vstack([ratings[c].to_numpy(dtype=float, na_value=np.nan) for c in S.VISIT_RATINGS])
    seen = (~np.isnan(stack)).sum(axis=0)
    mean_r = np.where(seen > 0, np.nansum(stack, axis=0) / np.maximum(seen, 1), 3.0)
    bucket = np.where(mean_r < 2.6, 0, np.where(mean_r < 3.9, 1, 2))
    code = ((phone * 3 + bucket) * 2 + lavish) * 2 + licence
    notes = _notes_table()[code]
    notes[rng.random(k) < 0.2] = None

    order = np.argsort(day * n + cust, kind="stable")
    out[S.VISIT_ID] = make_ids("VIS", np.arange(1, k + 1), id_width(k, 7))
    out[S.CUSTOMER_ID] = take_ids(customer_ids, cust[order])
    out[S.VISIT_DATE] = to_dates(day[order])
    out[S.VISITOR_ID] = make_ids("V", visitor[order] + 1, id_width(n_visitors, 3))
    for col in S.VISIT_RATINGS:
        out[col] = ratings[col][order]
    out[S.LICENCE_CHECKED] = licence[order]
    out[S.LAVISH_OFFICE] = lavish[order]
    out[S.NOTES] = pd.Series(notes[order], dtype="str")
    return pd.DataFrame(out)


# ------------------------------------------------------------------- events
def simulate_events(
    pop: Population, cal: Calendar, sysm: Systematic, hist: History, ledger: Ledger,
    collateral: Collateral, customer_ids: pd.Series, rng: np.random.Generator,
) -> pd.DataFrame:
    """Lawsuits, tax arrears, references, agency ratings and collateral as event rows."""
    n, M = pop.n, cal.n_months
    lo, days = activity_window(pop, cal, hist)
    month_len = np.diff(cal.month_start[: M + 1]).astype(float)
    state_s = hist.state == STRESSED
    q_all = hist.q + sysm.shift[pop.industry, :M]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # cust, day, type, value

    def add(kind: str, cust: np.ndarray, day: np.ndarray, value: np.ndarray) -> None:
        parts.append((cust, day, np.full(len(cust), EVT[kind]), value))

    # distress events
    for kind, base, slope, in_s, scale in (("lawsuit", 0.0012, 0.8, 0.03, 4.5),
                                           ("tax_arrears", 0.0008, 1.0, 0.04, 5.0)):
        rate = base * np.exp(-slope * q_all) + in_s * state_s
        c, m, d = _monthly_draws(rate, lo, days, month_len, rng)
        value = np.round(np.exp(pop.log_revenue[c] - scale + 0.9 * rng.standard_normal(len(c))), -2)
        add(kind, c, d, np.maximum(value, 100.0))
    # references and agency ratings
    covered = rng.random(n) < expit(0.3 + 0.8 * pop.size_z)
    for kind, per_month, centre, load, s_pen, sd, top, fraud_val in (
        ("bank_reference", 0.35 / 12, 3.1, 0.8, 0.9, 0.8, 5, 4.5),
        ("trade_reference", 0.8 / 12, 3.3, 0.6, 1.0, 1.0, 5, 5.0),
        ("agency_rating", 0.3, 5.5, 1.4, 1.2, 0.9, 10, 7.0),
    ):
        rate = np.full((n, M), per_month)
        if kind == "agency_rating":
            rate = rate * covered[:, None]
        c, m, d = _monthly_draws(rate, lo, days, month_len, rng)
        x = centre + load * q_all[c, m] - s_pen * state_s[c, m] + sd * rng.standard_normal(len(c))
        x = np.where(pop.fraud[c], fraud_val - 0.6 * rng.random(len(c)), x)
        add(kind, c, d, _round_rating(x, top).astype(float))
    # a reference taken when a new customer is opened during the period
    new = np.flatnonzero(pop.onboarded_day >= cal.start)
    x = 3.1 + 0.8 * pop.mu[new] + 0.8 * rng.standard_normal(len(new))
    add("bank_reference", new, pop.onboarded_day[new], _round_rating(x, 5).astype(float))
    # collateral
    pledged = ~collateral.released
    add("collateral_pledged", collateral.cust[pledged], collateral.day[pledged], collateral.value[pledged])
    released = collateral.released
    add("collateral_released", collateral.cust[released], collateral.day[released], collateral.value[released])
    # our own claim when a defaulter is handed to legal collection
    legal = np.flatnonzero(ledger.kind == KIND_LEGAL)
    add("lawsuit", legal, hist.default_day[legal], np.round(ledger.exposure[legal], 2))

    cust = np.concatenate([p_[0] for p_ in parts])
    day = np.concatenate([p_[1] for p_ in parts])
    etype = np.concatenate([p_[2] for p_ in parts])
    value = np.concatenate([p_[3] for p_ in parts])
    order = np.lexsort((etype, cust, day))
    k = len(cust)
    return pd.DataFrame({
        S.EVENT_ID: make_ids("EVT", np.arange(1, k + 1), id_width(k, 7)),
        S.CUSTOMER_ID: take_ids(customer_ids, cust[order]),
        S.EVENT_DATE: to_dates(day[order]),
        S.EVENT_TYPE: to_category(etype[order], S.EVENT_TYPES),
        S.VALUE: value[order].astype(float),
    })
