"""Simulator world: calendar, macro and industry factors, customer traits, latent quality, defaults.

Everything here is a pure function of its arguments and a ``numpy.random.Generator``;
the other ``sim_*`` modules turn the world into the six tables of the data contract.

The default process is a monthly three-state Markov chain per customer,
healthy (H) -> stressed (S) -> default (D), whose transition probabilities
depend on the customer's state that month (see :func:`transition_probs`):

* latent credit quality ``q`` (AR(1) around a customer mean) plus an industry
  shift (industry noise minus the macro / industry stress it carries);
* leverage (from the latent equity ratio) times stress: harmless in good
  times, dangerous in a downturn;
* a liquidity threshold: a latent current ratio below about 1 is sharply riskier;
* young firms are riskier; large firms slightly safer;
* a small group of fraudulent customers never goes through S: after a grace
  period they default suddenly with a high monthly hazard.

A stressed customer pays very late, buys less and draws lawsuits and tax
arrears; it may cure (back to H) or default.  Default is absorbing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from riskmodel.data import schemas as S

HORIZON_MONTHS = 12
"""Months simulated beyond the period so the oracle can look 12 months ahead."""

HEALTHY, STRESSED, DEFAULTED = 0, 1, 2

# per industry: sensitivity to the macro downturn, mean quality offset,
# asset turnover (revenue / total assets), current assets / total assets
INDUSTRY_TRAITS: dict[str, tuple[float, float, float, float]] = {
    "construction": (1.30, -0.30, 1.1, 0.65),
    "manufacturing": (0.90, 0.05, 1.0, 0.50),
    "wholesale": (0.80, 0.00, 2.2, 0.75),
    "retail": (1.00, -0.10, 2.0, 0.60),
    "transport": (1.00, -0.05, 0.9, 0.35),
    "hospitality": (1.20, -0.30, 0.8, 0.25),
    "services": (0.50, 0.15, 1.3, 0.60),
    "agriculture": (0.40, 0.05, 0.6, 0.40),
}
INDUSTRY_SHARES = (0.14, 0.16, 0.18, 0.14, 0.10, 0.08, 0.14, 0.06)
REGION_SHARES = (0.18, 0.22, 0.20, 0.18, 0.22)
REGION_QUALITY = (0.10, -0.08, -0.05, 0.08, 0.0)
# legal form: share, log-size shift, probability of never filing statements, probability unaudited
LEGAL_FORM_TRAITS: dict[str, tuple[float, float, float, float]] = {
    "sole_trader": (0.16, -1.2, 0.55, 0.95),
    "partnership": (0.10, -0.6, 0.35, 0.80),
    "ltd": (0.60, 0.0, 0.08, 0.40),
    "plc": (0.04, 1.8, 0.00, 0.00),
    "cooperative": (0.10, 0.0, 0.10, 0.30),
}
TERMS_DAYS = (14, 30, 45, 60, 90)
TERMS_SHARES = (0.04, 0.44, 0.22, 0.24, 0.06)


@dataclass(frozen=True)
class SimParams:
    """The simulator's structural parameters (fixed; documented here rather than in params.yaml)."""

    # population
    pre_start_share: float = 0.6  # customers already on the books at start_date
    max_pre_start_years: float = 12.0
    fraud_share: float = 0.01
    survivor_tilt: float = 0.25  # mean quality advantage of customers already on the books at start
    young_share: float = 0.22  # share of new customers founded less than 2 years before onboarding
    median_revenue: float = 2.5e6
    size_sd: float = 1.0  # of log revenue, on top of the legal-form shift
    # latent quality: AR(1) monthly around the customer's mean
    phi: float = 0.97
    q_sd: float = 0.55  # stationary sd of the deviation from the customer's mean
    # macro and industry
    downturn_start: float = 0.62  # fraction of the period where the downturn begins
    downturn_peak: float = 0.76
    downturn_plateau_end: float = 0.86
    downturn_tail: float = 0.45  # intensity left at the end of the period
    stress_quality_load: float = 0.25  # quality lost per unit of stress
    industry_noise_sd: float = 0.12
    n_industry_shocks: int = 2
    # hazard H -> S (logit scale)
    a_hs: float = -6.45
    b_q: float = 0.75
    b_lev: float = 0.15
    b_lev_stress: float = 0.8
    b_liq: float = 1.5
    liq_width: float = 0.035
    b_young: float = 1.0
    young_scale_years: float = 2.5
    b_size: float = 0.15
    b_stress: float = 0.2
    # management quality (a persistent trait seen in visits, not in the ledger or statements):
    # good managers keep a firm out of stress (Grunert, Norden and Weber 2005: management quality
    # predicts default beyond the financials); the intercept shift keeps the mean hazard unchanged
    b_mgmt: float = 0.4
    mgmt_in_mu: float = 0.35  # correlation of management quality with the long-run quality's own noise
    sudden_share: float = 0.10  # H -> D directly, as a share of the H -> S hazard
    # S -> D and S -> H (logit scale)
    a_sd: float = -2.0
    b_sd_q: float = 0.2
    b_sd_stress: float = 0.3
    a_sh: float = -2.5
    b_sh_q: float = 0.5
    # fraud: sudden default after a grace period
    fraud_hazard: float = 0.045
    fraud_grace_months: int = 6
    # latent balance-sheet ratios
    er0: float = 0.33
    er_q: float = 0.08
    er_sd: float = 0.12
    cr0: float = float(np.log(1.4))
    cr_q: float = 0.12
    cr_sd: float = 0.30


# ------------------------------------------------------------------ calendar
@dataclass(frozen=True)
class Calendar:
    """Monthly grid of the simulated period; days are integer days since 1970-01-01."""

    start: int
    end: int  # inclusive
    month_start: np.ndarray  # first day of each month, n_months + HORIZON_MONTHS + 1 entries
    month_of_year: np.ndarray  # 1..12 for each month of the grid
    n_months: int  # months overlapping [start, end]

    @property
    def n_total(self) -> int:
        """Months including the oracle horizon beyond the period."""
        return self.n_months + HORIZON_MONTHS

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Index of the month containing each day."""
        return np.searchsorted(self.month_start, days, side="right") - 1

    def quarter_end_months(self) -> np.ndarray:
        """Months whose last day is a calendar quarter end within [start, end]."""
        m = np.arange(self.n_months)
        last = self.month_start[1 : self.n_months + 1] - 1
        keep = (self.month_of_year[m] % 3 == 0) & (last >= self.start) & (last <= self.end)
        return m[keep]


def _day(d: dt.date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def make_calendar(start_date: dt.date, years: int) -> Calendar:
    """The monthly grid from ``start_date`` for ``years`` years (end inclusive)."""
    try:
        end_date = start_date.replace(year=start_date.year + years)
    except ValueError:  # 29 February: the period runs to the last day of February
        end_date = dt.date(start_date.year + years, 3, 1)
    start, end = _day(start_date), _day(end_date) - 1
    first = np.datetime64(start_date, "M")
    n_months = int((np.datetime64(end, "D").astype("datetime64[M]") - first).astype(int)) + 1
    months = first + np.arange(n_months + HORIZON_MONTHS + 1)
    month_start = months.astype("datetime64[D]").astype(np.int64)
    month_of_year = (months.astype(np.int64) % 12) + 1
    return Calendar(start, end, month_start, month_of_year, n_months)


# ----------------------------------------------------------------- systematic
@dataclass(frozen=True)
class Systematic:
    """Macro and industry paths over the grid (columns: months incl. the horizon)."""

    downturn: np.ndarray  # (T,) macro downturn intensity, 0 in good times, about 1 at the trough
    stress: np.ndarray  # (n_industries, T) stress felt by each industry
    shift: np.ndarray  # (n_industries, T) added to every customer's latent quality


def _ramp(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.clip((x - a) / max(b - a, 1e-9), 0.0, 1.0)


def make_systematic(cal: Calendar, p: SimParams, rng: np.random.Generator) -> Systematic:
    """A downturn in the later years plus random industry shocks and industry noise."""
    T = cal.n_total
    frac = (np.arange(T) + 0.5) / cal.n_months
    shape = _ramp(frac, p.downturn_start, p.downturn_peak)
    ease = _ramp(frac, p.downturn_plateau_end, 1.0)
    base = shape * (1.0 - (1.0 - p.downturn_tail) * ease)
    noise = np.zeros(T)
    eps = rng.normal(0.0, 0.05, T)
    for t in range(1, T):
        noise[t] = 0.8 * noise[t - 1] + eps[t]
    downturn = np.clip(base + noise, 0.0, None)

    K = len(S.INDUSTRIES)
    sens = np.array([INDUSTRY_TRAITS[k][0] for k in S.INDUSTRIES])
    stress = sens[:, None] * downturn[None, :]
    # industry-specific shocks in the first 60% of the period (training years)
    for _ in range(p.n_industry_shocks):
        k = rng.integers(K)
        begin = rng.uniform(0.1, 0.55) * cal.n_months
        length = rng.uniform(6, 12)
        size = rng.uniform(0.6, 1.0)
        months = np.arange(T)
        bump = np.clip(np.minimum(months - begin, begin + length - months) / 3.0, 0.0, 1.0)
        stress[k] += size * bump
    ind = np.zeros((K, T))
    e = rng.normal(0.0, p.industry_noise_sd * np.sqrt(1 - 0.95**2), (K, T))
    ind[:, 0] = rng.normal(0.0, p.industry_noise_sd, K)
    for t in range(1, T):
        ind[:, t] = 0.95 * ind[:, t - 1] + e[:, t]
    shift = ind - p.stress_quality_load * stress
    return Systematic(downturn, stress, shift)


# ----------------------------------------------------------------- population
@dataclass(frozen=True)
class Population:
    """Static traits of every customer (arrays of length n_customers)."""

    industry: np.ndarray  # int index into S.INDUSTRIES
    region: np.ndarray
    legal_form: np.ndarray
    log_revenue: np.ndarray  # log of annual revenue at start
    size_z: np.ndarray  # standardised size
    founded_day: np.ndarray
    onboarded_day: np.ndarray
    onboard_month: np.ndarray  # month index of onboarding (negative: before the period)
    fraud: np.ndarray  # bool
    mu: np.ndarray  # long-run latent quality
    mgmt: np.ndarray  # management quality (standard normal), a persistent risk driver
    habit: np.ndarray  # payment habit (lateness unrelated to risk)
    er_u: np.ndarray  # idiosyncratic equity-ratio component
    cr_v: np.ndarray  # idiosyncratic current-ratio component
    terms: np.ndarray  # payment terms (days)
    invoice_rate: np.ndarray  # expected invoices per month
    log_amount: np.ndarray  # log of the typical invoice amount
    credit_limit: np.ndarray
    registered_capital: np.ndarray
    paid_in_capital: np.ndarray
    scope_ok: np.ndarray
    address_ok: np.ndarray

    @property
    def n(self) -> int:
        return len(self.industry)


def make_population(n: int, cal: Calendar, p: SimParams, rng: np.random.Generator) -> Population:
    """Draw the customers' static traits."""
    industry = rng.choice(len(S.INDUSTRIES), n, p=INDUSTRY_SHARES)
    region = rng.choice(len(S.REGIONS), n, p=REGION_SHARES)
    lf_share = np.array([LEGAL_FORM_TRAITS[f][0] for f in S.LEGAL_FORMS])
    legal_form = rng.choice(len(S.LEGAL_FORMS), n, p=lf_share / lf_share.sum())
    lf_shift = np.array([LEGAL_FORM_TRAITS[f][1] for f in S.LEGAL_FORMS])
    log_revenue = np.log(p.median_revenue) + lf_shift[legal_form] + rng.normal(0, p.size_sd, n)
    size_z = (log_revenue - np.log(p.median_revenue)) / 1.2

    # onboarding: some before the period (survivors), the rest spread over it
    pre = rng.random(n) < p.pre_start_share
    span = cal.end - 90 - cal.start
    onboarded = np.where(
        pre,
        cal.start - 1 - np.floor(rng.random(n) * p.max_pre_start_years * 365.25),
        cal.start + np.floor(rng.random(n) * span),
    ).astype(np.int64)
    young = rng.random(n) < p.young_share
    age_at_onboard = np.where(
        young, rng.uniform(0.1, 2.0, n), np.minimum(1.0 + np.exp(rng.normal(2.0, 0.75, n)), 80.0)
    )
    founded = (onboarded - np.floor(age_at_onboard * 365.25)).astype(np.int64)
    onboard_month = np.where(
        onboarded >= cal.month_start[0],
        cal.month_index(np.maximum(onboarded, cal.month_start[0])),
        -1 - (cal.month_start[0] - onboarded) // 30,
    ).astype(np.int64)

    fraud = rng.random(n) < p.fraud_share
    survivor = np.where(pre, p.survivor_tilt, 0.0)  # the weakest pre-period customers have already gone
    ind_q = np.array([INDUSTRY_TRAITS[k][1] for k in S.INDUSTRIES])
    mu_noise = rng.normal(0, 1.0, n)
    mu = (ind_q[industry] + np.array(REGION_QUALITY)[region] + 0.1 * size_z
          - 0.15 * (legal_form == 0) + survivor + mu_noise)
    habit = rng.normal(0, 0.6, n)
    er_u = rng.normal(0, p.er_sd, n)
    cr_v = rng.normal(0, p.cr_sd, n)
    # fraudsters present healthy-looking balance sheets
    er_u = np.where(fraud, np.abs(er_u) + 0.05, er_u)
    cr_v = np.where(fraud, np.abs(cr_v) + 0.1, cr_v)

    terms = np.array(TERMS_DAYS)[rng.choice(len(TERMS_DAYS), n, p=TERMS_SHARES)]
    invoice_rate = np.clip(2.0 * np.exp(0.5 * (log_revenue - np.log(p.median_revenue))), 0.1, 40.0)
    log_amount = np.log(3000.0) + 0.5 * (log_revenue - np.log(p.median_revenue)) + rng.normal(0, 0.3, n)
    monthly_sales = invoice_rate * np.exp(log_amount + 0.5 * 0.6**2)
    limit = monthly_sales * (terms / 30.0 + 1.0) * np.exp(0.25 * (mu + rng.normal(0, 0.7, n)))
    credit_limit = np.maximum(1000.0, np.round(limit / 1000.0) * 1000.0)

    registered = np.exp(log_revenue - 2.8 + rng.normal(0, 0.6, n))
    registered = np.maximum(1000.0, np.round(registered / 1000.0) * 1000.0)
    fully_paid = rng.random(n) < expit(0.6 + 0.7 * mu) * ~fraud
    paid_ratio = np.where(fully_paid, 1.0, np.where(fraud, rng.beta(1.2, 5.0, n), rng.beta(2.5, 2.0, n)))
    paid_in = np.round(registered * paid_ratio, 0)
    scope_ok = rng.random(n) >= np.where(fraud, 0.35, expit(-3.4 - 0.5 * mu))
    address_ok = rng.random(n) >= np.where(fraud, 0.5, expit(-2.9 - 0.5 * mu))
    # drawn last so that every earlier trait keeps its stream; correlated with mu's own noise
    mgmt = p.mgmt_in_mu * mu_noise + math.sqrt(1.0 - p.mgmt_in_mu**2) * rng.normal(0, 1.0, n)
    return Population(
        industry=industry, region=region, legal_form=legal_form, log_revenue=log_revenue, size_z=size_z,
        founded_day=founded, onboarded_day=onboarded, onboard_month=onboard_month, fraud=fraud, mu=mu, mgmt=mgmt,
        habit=habit, er_u=er_u, cr_v=cr_v, terms=terms, invoice_rate=invoice_rate, log_amount=log_amount,
        credit_limit=credit_limit, registered_capital=registered, paid_in_capital=paid_in,
        scope_ok=scope_ok, address_ok=address_ok,
    )


# ---------------------------------------------------------------- the process
def latent_equity_ratio(p: SimParams, q: np.ndarray, er_u: np.ndarray) -> np.ndarray:
    """Latent equity / total assets."""
    return np.clip(p.er0 + p.er_q * q + er_u, -0.3, 0.9)


def latent_current_ratio(p: SimParams, q: np.ndarray, cr_v: np.ndarray) -> np.ndarray:
    """Latent current assets / current liabilities."""
    return np.exp(p.cr0 + p.cr_q * q + cr_v)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function; faster than ``scipy.special.expit`` on the oracle's hot path."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def transition_probs(
    p: SimParams,
    q: np.ndarray,
    shift: np.ndarray,
    stress: np.ndarray,
    er_u: np.ndarray,
    cr_v: np.ndarray,
    age_years: np.ndarray,
    size_z: np.ndarray,
    fraud: np.ndarray,
    months_on_book: np.ndarray,
    mgmt: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Monthly transition probabilities ``(p_hd, p_hs, p_sd, p_sh)`` from the state that month.

    ``q`` is the idiosyncratic latent quality, ``shift`` and ``stress`` the
    customer's industry shift and stress that month, ``mgmt`` its management
    quality (the part independent of ``q`` lowers the H -> S hazard); all
    arguments broadcast.
    """
    quality = q + shift
    lev_z = ((1.0 - latent_equity_ratio(p, q, er_u)) - 0.67) / 0.13
    cr = latent_current_ratio(p, q, cr_v)
    logit_hs = (
        p.a_hs
        - p.b_q * quality
        + p.b_lev * lev_z
        + p.b_lev_stress * stress * np.clip(lev_z, -1.0, 3.0)
        + p.b_liq * sigmoid((1.0 - cr) / p.liq_width)
        + p.b_young * np.exp(-np.maximum(age_years, 0.0) / p.young_scale_years)
        - p.b_size * size_z
        + p.b_stress * stress
        - p.b_mgmt * mgmt - 0.5 * p.b_mgmt**2  # mean-preserving over a standard normal trait
    )
    p_hs = sigmoid(logit_hs)
    fraud_on = fraud & (months_on_book > p.fraud_grace_months)
    p_hd = np.where(fraud, fraud_on.astype(p_hs.dtype) * p.fraud_hazard, p.sudden_share * p_hs)
    p_hs = np.where(fraud, 0.0, p_hs)
    p_sd = sigmoid(p.a_sd - p.b_sd_q * quality + p.b_sd_stress * stress)
    p_sh = sigmoid(p.a_sh + p.b_sh_q * quality)
    return p_hd, p_hs, p_sd, p_sh


@dataclass(frozen=True)
class History:
    """Realised latent paths and states over the period (rows: customers, columns: months)."""

    q: np.ndarray  # (n, n_months) idiosyncratic latent quality
    state: np.ndarray  # (n, n_months) int8: state at the end of each month (0 H, 1 S, 2 D)
    default_day: np.ndarray  # (n,) day of default, -1 when none
    default_month: np.ndarray  # (n,) month of default, -1 when none
    sudden: np.ndarray  # (n,) bool: defaulted straight from H (no stressed months before)


def firm_age_years(pop: Population, cal: Calendar, months: np.ndarray) -> np.ndarray:
    """Firm age in years at the middle of each month (broadcast: customers x months)."""
    mid = cal.month_start[months] + 15
    return (mid - pop.founded_day[:, None]) / 365.25


def step_quality(p: SimParams, q_prev: np.ndarray, mu: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """One monthly AR(1) step of the latent quality."""
    return mu + p.phi * (q_prev - mu) + p.q_sd * math.sqrt(1.0 - p.phi**2) * eps


def simulate_history(
    pop: Population, cal: Calendar, sysm: Systematic, p: SimParams, rng: np.random.Generator
) -> History:
    """Run the latent quality and the H/S/D chain month by month (vectorised over customers)."""
    n, M = pop.n, cal.n_months
    q = np.empty((n, M))
    state = np.zeros((n, M), dtype=np.int8)
    eps = rng.standard_normal((n, M))
    u = rng.random((n, M))
    u_day = rng.random(n)
    q_prev = pop.mu + p.q_sd * rng.standard_normal(n)
    cur = np.zeros(n, dtype=np.int8)
    default_month = np.full(n, -1, dtype=np.int64)
    sudden = np.zeros(n, dtype=bool)
    for m in range(M):
        qm = step_quality(p, q_prev, pop.mu, eps[:, m])
        q[:, m] = qm
        q_prev = qm
        active = (pop.onboard_month < m) & (cur != DEFAULTED)
        if m == 0 or active.any():
            age = (cal.month_start[m] + 15 - pop.founded_day) / 365.25
            p_hd, p_hs, p_sd, p_sh = transition_probs(
                p, qm, sysm.shift[pop.industry, m], sysm.stress[pop.industry, m], pop.er_u, pop.cr_v,
                age, pop.size_z, pop.fraud, m - pop.onboard_month, pop.mgmt,
            )
            if m == 0:  # customers already on the books start stressed in proportion to the chain
                pre = pop.onboard_month < 0
                pi_s = p_hs / (p_hs + p_sd + p_sh)
                cur = np.where(pre & (rng.random(n) < pi_s), STRESSED, cur).astype(np.int8)
            um = u[:, m]
            h, s = active & (cur == HEALTHY), active & (cur == STRESSED)
            to_d = (h & (um < p_hd)) | (s & (um < p_sd))
            to_s = h & ~to_d & (um < p_hd + p_hs)
            to_h = s & ~to_d & (um < p_sd + p_sh)
            sudden |= to_d & h
            default_month[to_d] = m
            cur = np.where(to_d, DEFAULTED, np.where(to_s, STRESSED, np.where(to_h, HEALTHY, cur)))
            cur = cur.astype(np.int8)
        state[:, m] = cur
    has = default_month >= 0
    dm = np.maximum(default_month, 0)
    lo = np.maximum(cal.month_start[dm], cal.start)
    hi = np.minimum(cal.month_start[dm + 1] - 1, cal.end)
    default_day = np.where(has, lo + np.floor(u_day * (hi - lo + 1)).astype(np.int64), -1)
    return History(q=q, state=state, default_day=default_day, default_month=default_month,
                   sudden=sudden & has)
