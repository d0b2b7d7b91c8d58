"""The built-in simulated customer base: six tables in the data contract plus the true PDs (the oracle).

A credit analyst should find the base plausible (DESIGN section 8): latent
credit quality per customer drifting monthly, firm size driving invoice
frequency and amounts, a macro downturn in the later years and industry
shocks, a monthly healthy -> stressed -> default chain with non-linear and
interaction effects (leverage x downturn, a liquidity threshold at a current
ratio of about 1, young firms, a lavish-office fraud pattern), payment
behaviour that deteriorates before a default, annual statements, visit
reports biased by the visitor, external events and collateral.

The pieces live in ``sim_world`` (calendar, factors, population, the default
process), ``sim_ledger`` (invoices and defaults), ``sim_reports`` (financials,
visits, events, collateral), ``sim_history`` (the dated history of limits,
terms, capital and checks, solved together with the ledger so that the
default definition holds on the final due dates) and ``sim_oracle`` (true 12-month PDs; see its
docstring for exactly how they are computed).  Everything is vectorised numpy
and driven by one ``numpy.random.default_rng(seed)`` (split into independent
child streams with ``Generator.spawn``), so a seed gives the same base.

Examples
--------
>>> import datetime as dt
>>> res = simulate(200, dt.date(2019, 1, 1), 3, seed=1)
>>> len(res.tables.invoices) > 10 * len(res.tables.customers)
True
>>> bool(res.oracle["true_pd_12m"].between(0, 1).all())
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.default_definition import Materiality
from riskmodel.data.sim_frames import id_width, make_ids, to_category, to_dates
from riskmodel.data.sim_history import solve_terms, terms_on, with_current_values
from riskmodel.data.sim_ledger import Ledger, draw_invoices, settle_ledger
from riskmodel.data.sim_oracle import oracle_pd
from riskmodel.data.sim_reports import plan_collateral, simulate_events, simulate_financials, simulate_visits
from riskmodel.data.sim_world import (
    Population,
    SimParams,
    make_calendar,
    make_population,
    make_systematic,
    simulate_history,
)
from riskmodel.data.tables import Tables
from riskmodel.exceptions import ConfigError

ORACLE_DIR = "oracle"
ORACLE_FILE = "true_pd_12m.parquet"


@dataclass(frozen=True)
class SimulationResult:
    """The simulated tables and the oracle (customer_id, snapshot_date, true_pd_12m)."""

    tables: Tables
    oracle: pd.DataFrame


#: spawn-key namespace of the partitions' seeds (``partition_seed``), apart from the whole book's streams
PARTITION_SPAWN_KEY = 14_001


def partition_seed(seed: int, part: int) -> np.random.SeedSequence:
    """The seed of customer partition ``part`` (>= 1) of the book of ``seed``: independent of every other."""
    return np.random.SeedSequence(seed, spawn_key=(PARTITION_SPAWN_KEY, part))


def oracle_path_for(data_dir: Path) -> Path:
    """Where the oracle of the base in ``data_dir`` lives: ``<data_dir>/oracle/true_pd_12m.parquet``.

    The oracle sits in a subfolder of the folder the user chose (``simulate
    --out DIR`` writes nothing outside DIR); no stage reads it as input because
    the loaders read only the six table files at the top of the folder.  Only
    evaluation against the truth looks it up here, for the same ``--data DIR``.
    """
    return Path(data_dir).resolve() / ORACLE_DIR / ORACLE_FILE


def simulate(
    n_customers: int, start_date: dt.date, years: int, seed: int, materiality: Materiality = Materiality(),
    *, part: int = 0, first_customer: int = 1, customer_id_width: int | None = None,
) -> SimulationResult:
    """Simulate ``n_customers`` business customers from ``start_date`` for ``years`` years.

    Parameters
    ----------
    n_customers : int
        Number of customers (some onboarded before ``start_date``, the rest during the period).
    start_date : datetime.date
        First day of the ledger; the period ends the day before ``start_date + years``.
    years : int
        Length of the period in years.
    seed : int
        Seed of the only random generator used; the same seed gives identical tables.
    materiality : Materiality
        The default definition the ledger agrees with (params.yaml ``default_definition``).
    part, first_customer, customer_id_width : int
        For one customer partition of a larger book (``sim_partitioned``): partition
        ``part`` > 0 draws its customers from its own seed (``partition_seed``) in the
        world (macro and industry path) of ``seed``; its customers are numbered from
        ``first_customer`` with ``customer_id_width`` digits. The defaults are the whole book.

    Returns
    -------
    SimulationResult
        ``tables`` in the data contract and ``oracle`` with the true 12-month PD of every
        customer onboarded before and not in default at each quarter end of the period.
    """
    if int(n_customers) < 1:
        raise ConfigError(f"simulate: n_customers must be at least 1, got {n_customers}")
    if int(years) < 1:
        raise ConfigError(f"simulate: years must be at least 1, got {years}")
    if isinstance(start_date, dt.datetime):
        start_date = start_date.date()
    p = SimParams()
    rng = np.random.default_rng(seed)
    (r_sys, r_pop, r_hist, r_coll, r_ledger, r_fin, r_vis, r_evt, r_oracle) = rng.spawn(9)
    if part:  # issue 14: the world of ``seed``, this partition's customers from a seed of its own
        rng = np.random.default_rng(partition_seed(seed, part))
        (_, r_pop, r_hist, r_coll, r_ledger, r_fin, r_vis, r_evt, r_oracle) = rng.spawn(9)

    cal = make_calendar(start_date, int(years))
    sysm = make_systematic(cal, p, r_sys)
    pop = make_population(int(n_customers), cal, p, r_pop)
    hist = simulate_history(pop, cal, sysm, p, r_hist)
    # customer numbers follow the order in which customers were opened
    rank = np.empty(pop.n, dtype=np.int64)
    rank[np.argsort(pop.onboarded_day, kind="stable")] = np.arange(pop.n)
    customer_ids = make_ids("C", rank + first_customer, customer_id_width or id_width(pop.n, 6))

    collateral = plan_collateral(pop, cal, hist, r_coll)
    at_default = collateral.net_at(pop.n, np.where(hist.default_day >= 0, hist.default_day, cal.end))
    # the ledger and the dated history of limits, terms, capital and checks, solved together: the
    # credit control reads the ledger it observes, its terms set later invoices' due dates, and the
    # default definition is applied to the final due dates (sim_history.solve_terms, sim_ledger.settle_ledger)
    drawn = draw_invoices(pop, cal, sysm, hist, r_ledger)
    inv_ids = customer_ids.to_numpy(dtype=object)[drawn.cust]
    inv_dates = drawn.inv_day.astype("datetime64[D]")

    def under_terms(terms: pd.DataFrame) -> Ledger:
        days = terms_on(terms, inv_ids, inv_dates)
        due = np.where(np.isnan(days), drawn.base_due, drawn.inv_day + np.nan_to_num(days).astype(np.int64))
        return settle_ledger(drawn, due, pop, cal, hist, customer_ids, at_default, materiality=materiality)

    (r_terms,) = rng.spawn(1)
    first = settle_ledger(drawn, drawn.base_due, pop, cal, hist, customer_ids, at_default, materiality=materiality)
    terms, ledger = solve_terms(pop, cal, customer_ids, first, lambda led: (led.invoices, led.defaults),
                                under_terms, r_terms)
    # the recorded default day: where the ledger first crosses the default definition (same month)
    hist = replace(hist, default_day=ledger.default_day)
    tables = Tables(
        customers=with_current_values(_customers_frame(pop, customer_ids, rank), terms),
        invoices=ledger.invoices,
        financials=simulate_financials(pop, cal, sysm, hist, p, customer_ids, r_fin),
        visits=simulate_visits(pop, cal, sysm, hist, customer_ids, r_vis, p),
        events=simulate_events(pop, cal, sysm, hist, ledger, collateral, customer_ids, r_evt),
        defaults=ledger.defaults,
        customer_terms=terms,
    )
    oracle = oracle_pd(pop, cal, sysm, hist, p, customer_ids, r_oracle)
    oracle = oracle.sort_values([S.SNAPSHOT_DATE, S.CUSTOMER_ID], kind="stable", ignore_index=True)
    return SimulationResult(tables=tables, oracle=oracle)


def _customers_frame(pop: Population, customer_ids: pd.Series, rank: np.ndarray) -> pd.DataFrame:
    order = np.argsort(rank)
    return pd.DataFrame({
        S.CUSTOMER_ID: customer_ids.iloc[order].reset_index(drop=True),
        S.INDUSTRY: to_category(pop.industry[order], S.INDUSTRIES),
        S.REGION: to_category(pop.region[order], S.REGIONS),
        S.LEGAL_FORM: to_category(pop.legal_form[order], S.LEGAL_FORMS),
        S.FOUNDED_DATE: to_dates(pop.founded_day[order]),
        S.REGISTERED_CAPITAL: pop.registered_capital[order].astype(float),
        S.PAID_IN_CAPITAL: pop.paid_in_capital[order].astype(float),
        S.ONBOARDED_DATE: to_dates(pop.onboarded_day[order]),
        S.BUSINESS_SCOPE_OK: pop.scope_ok[order].astype(bool),
        S.ADDRESS_VERIFIED: pop.address_ok[order].astype(bool),
        S.PAYMENT_TERMS_DAYS: pop.terms[order].astype(np.int64),
        S.CREDIT_LIMIT: pop.credit_limit[order].astype(float),
    })


def summarise(result: SimulationResult) -> dict[str, Any]:
    """Headline figures of a simulated base (counts, default rate per year, lateness, write-offs).

    The annual default rate of year Y is the share of customers performing on
    1 January of Y (onboarded before, not in default) that default during Y.
    """
    t = result.tables
    cust, inv, dfl = t.customers, t.invoices, t.defaults
    onb = cust.set_index(S.CUSTOMER_ID)[S.ONBOARDED_DATE]
    dday = dfl.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE].reindex(onb.index)
    years = sorted(result.oracle[S.SNAPSHOT_DATE].dt.year.unique())  # the period (opening items are older)
    rates = {}
    for y in years:
        jan1 = pd.Timestamp(year=int(y), month=1, day=1)
        cohort = (onb < jan1) & (dday.isna() | (dday >= jan1))
        if cohort.sum() == 0:
            continue
        hit = cohort & (dday < pd.Timestamp(year=int(y) + 1, month=1, day=1))
        rates[int(y)] = round(float(hit.sum() / cohort.sum()), 4)
    paid = inv[inv[S.PAID_DATE].notna()]
    late_days = (paid[S.PAID_DATE] - paid[S.DUE_DATE]).dt.days
    is_late = late_days > 0
    lost = (inv[S.AMOUNT] - inv[S.PAID_AMOUNT]).where(inv[S.PAID_AMOUNT].notna(), 0.0).clip(lower=0).sum()
    defaulted_open = inv[S.PAID_DATE].isna() & inv[S.CUSTOMER_ID].isin(dfl[S.CUSTOMER_ID])
    lost += inv.loc[defaulted_open, S.AMOUNT].sum()
    return {
        "customers": len(cust),
        "invoices": len(inv),
        "defaults": len(dfl),
        "default_rate_by_year": rates,
        "late_share": round(float(is_late.mean()), 4),
        "mean_days_late": round(float(late_days.clip(lower=0).mean()), 2),
        "mean_days_late_when_late": round(float(late_days[is_late].mean()), 2),
        "share_late_over_60": round(float((late_days[is_late] > 60).mean()), 4),
        "open_invoices": int(inv[S.PAID_DATE].isna().sum()),
        "loss_share_of_invoiced": round(float(lost / inv[S.AMOUNT].sum()), 4),
        "oracle_mean_pd": round(float(result.oracle[S.TRUE_PD].mean()), 4),
        "default_kinds": {str(k): int(v) for k, v in dfl[S.KIND].value_counts().items()},
    }
