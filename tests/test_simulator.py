"""The simulator: deterministic, in the data contract, plausible, and its oracle is a real probability."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import f_oneway
from sklearn.metrics import roc_auc_score

from riskmodel.config import load_settings
from riskmodel.data import schemas as S
from riskmodel.data.default_definition import (
    Materiality,
    material_performing_past_due,
    past_due_at,
    performing_past_due,
)
from riskmodel.data.sim_reports import CUSTOMER_HALO_SD, VISIT_LOADS, VISITOR_LENIENCY_SD
from riskmodel.data.sim_world import SimParams, make_calendar, make_population, make_systematic, simulate_history
from riskmodel.data.simulator import SimulationResult, oracle_path_for, simulate, summarise
from riskmodel.data.tables import Tables
from riskmodel.data.validation import LEDGER_DEFAULT, validate_tables
from riskmodel.io import read_frame
from riskmodel.pipeline import run_simulate

START = dt.date(2019, 1, 1)


@pytest.fixture(scope="module")
def small() -> SimulationResult:
    return simulate(600, START, 4, seed=11)


@pytest.fixture(scope="module")
def base() -> SimulationResult:
    """Big enough for stable rates, still about a second."""
    return simulate(3000, START, 6, seed=5)


# ------------------------------------------------------------ contract check
def _dtype_ok(s: pd.Series, col: S.Column) -> bool:
    if col.kind == "string":
        return pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype)
    if col.kind == "date":
        return str(s.dtype) == "datetime64[ns]"
    if col.kind == "float":
        return str(s.dtype) == "float64"
    if col.kind == "int":
        return str(s.dtype) == ("Int64" if col.nullable else "int64")
    if col.kind == "bool":
        return str(s.dtype) == "bool"
    return isinstance(s.dtype, pd.CategoricalDtype) and tuple(s.cat.categories) == col.allowed


def contract_problems(tables: Tables) -> list[str]:
    """Every contract rule checked directly with pandas; returns the broken ones."""
    out: list[str] = []
    frames = tables.as_dict()
    known = set(frames[S.CUSTOMERS][S.CUSTOMER_ID])
    lo, hi = pd.Timestamp(S.MIN_DATE), pd.Timestamp(S.MAX_DATE)
    for name, spec in S.SPECS.items():
        if name not in frames and spec.optional:
            continue
        df = frames[name]
        if tuple(df.columns) != spec.column_names:
            out.append(f"{name}: columns {list(df.columns)}")
            continue
        for col in spec.columns:
            s = df[col.name]
            if not _dtype_ok(s, col):
                out.append(f"{name}.{col.name}: dtype {s.dtype}")
                continue
            if not col.nullable and s.isna().any():
                out.append(f"{name}.{col.name}: missing values")
            v = s.dropna()
            if col.min is not None and (v < col.min).any():
                out.append(f"{name}.{col.name}: below {col.min}")
            if col.max is not None and (v > col.max).any():
                out.append(f"{name}.{col.name}: above {col.max}")
            if col.kind == "date" and ((v < lo) | (v > hi)).any():
                out.append(f"{name}.{col.name}: date out of range")
            if col.kind == "category" and not v.isin(col.allowed).all():
                out.append(f"{name}.{col.name}: unknown values")
        if df.duplicated(list(spec.key)).any():
            out.append(f"{name}: duplicate key {spec.key}")
        if name != S.CUSTOMERS and not df[S.CUSTOMER_ID].isin(known).all():
            out.append(f"{name}: unknown customer_id")
        for chk in spec.checks:
            failing = df.eval(chk.rows_failing, engine="python").fillna(False).astype(bool)
            if failing.any():
                out.append(f"{name}: {chk.name} fails on {int(failing.sum())} rows")
    return out


def test_contract_checker_catches_broken_tables(small: SimulationResult) -> None:
    t = small.tables
    inv = t.invoices.copy()
    inv.loc[0, S.PAID_AMOUNT] = inv.loc[0, S.AMOUNT] + 5.0
    inv.loc[1, S.INVOICE_ID] = inv.loc[2, S.INVOICE_ID]
    vis = t.visits.copy()
    vis[S.PREMISES] = vis[S.PREMISES].fillna(6)
    evt = t.events.copy()
    evt.loc[0, S.CUSTOMER_ID] = "C999999"
    cust = t.customers.copy()
    cust[S.PAYMENT_TERMS_DAYS] = cust[S.PAYMENT_TERMS_DAYS].astype(float)
    broken = Tables(customers=cust, invoices=inv, financials=t.financials, visits=vis, events=evt,
                    defaults=t.defaults)
    problems = "\n".join(contract_problems(broken))
    assert "paid_amount_not_above_amount" in problems
    assert "invoices: duplicate key" in problems
    assert "visits.premises: above 5" in problems
    assert "events: unknown customer_id" in problems
    assert "customers.payment_terms_days: dtype float64" in problems


def test_tables_satisfy_the_contract(small: SimulationResult) -> None:
    assert contract_problems(small.tables) == []


def test_tables_validate_without_errors_or_warnings(small: SimulationResult) -> None:
    typed, report = validate_tables(small.tables.as_dict())
    assert report.ok, report.to_text()
    assert report.warnings == [], report.to_text()
    assert typed is not None and len(typed.invoices) == len(small.tables.invoices)


def test_ids_and_ledger_rules(small: SimulationResult) -> None:
    t = small.tables
    assert t.customers[S.CUSTOMER_ID].str.fullmatch(r"C\d{6}").all()
    assert t.invoices[S.INVOICE_ID].str.fullmatch(r"INV\d{7}").all()
    assert t.visits[S.VISIT_ID].str.fullmatch(r"VIS\d{7}").all()
    assert t.events[S.EVENT_ID].str.fullmatch(r"EVT\d{7}").all()
    inv = t.invoices
    paid = inv[S.PAID_DATE].notna()
    assert (inv[S.DUE_DATE] >= inv[S.INVOICE_DATE]).all()
    assert (inv.loc[paid, S.PAID_DATE] >= inv.loc[paid, S.INVOICE_DATE]).all()
    assert (inv[S.PAID_AMOUNT].notna() == paid).all()
    assert (inv.loc[paid, S.PAID_AMOUNT] <= inv.loc[paid, S.AMOUNT]).all()
    assert 0 < (~paid).sum() < 0.1 * len(inv)  # some invoices still open at the end
    # due = invoice date + the terms valid on the invoice date (customer_terms: terms change over time)
    hist = t.customer_terms.sort_values(S.VALID_FROM)
    at = pd.merge_asof(inv.sort_values(S.INVOICE_DATE), hist, left_on=S.INVOICE_DATE, right_on=S.VALID_FROM,
                       by=S.CUSTOMER_ID, direction="backward")
    assert at[S.PAYMENT_TERMS_DAYS].notna().all()
    assert ((at[S.DUE_DATE] - at[S.INVOICE_DATE]).dt.days == at[S.PAYMENT_TERMS_DAYS]).all()
    onb = inv[S.CUSTOMER_ID].map(t.customers.set_index(S.CUSTOMER_ID)[S.ONBOARDED_DATE])
    assert (inv[S.INVOICE_DATE] >= onb).all()
    onboarded = t.customers.set_index(S.CUSTOMER_ID)[S.ONBOARDED_DATE]
    for frame, col in ((t.visits, S.VISIT_DATE), (t.events, S.EVENT_DATE)):
        assert (frame[col] >= frame[S.CUSTOMER_ID].map(onboarded)).all()
    assert (t.customers[S.FOUNDED_DATE] < t.customers[S.ONBOARDED_DATE]).all()
    end = pd.Timestamp(2022, 12, 31)
    for frame, col in ((inv, S.INVOICE_DATE), (inv, S.PAID_DATE), (t.visits, S.VISIT_DATE),
                       (t.events, S.EVENT_DATE), (t.defaults, S.DEFAULT_DATE)):
        assert frame[col].max() <= end


def test_default_is_absorbing_and_kinds_match_the_ledger(small: SimulationResult) -> None:
    t = small.tables
    d = t.defaults
    assert d[S.CUSTOMER_ID].is_unique
    dday = t.invoices[S.CUSTOMER_ID].map(d.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE])
    assert not (t.invoices[S.INVOICE_DATE] >= dday).any()  # no new invoices after the default
    for frame, col in ((t.visits, S.VISIT_DATE), (t.financials, S.PERIOD_END)):
        after = frame[col] > frame[S.CUSTOMER_ID].map(d.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE])
        assert not after.any()
    inv = t.invoices.merge(d, on=S.CUSTOMER_ID)
    unpaid = inv[inv[S.PAID_DATE].isna() | (inv[S.PAID_DATE] >= inv[S.DEFAULT_DATE])]
    # what was unpaid at the default is never collected in full
    assert (unpaid[S.PAID_AMOUNT].isna() | (unpaid[S.PAID_AMOUNT] < unpaid[S.AMOUNT])).all()
    max_dpd = (unpaid[S.DEFAULT_DATE] - unpaid[S.DUE_DATE]).dt.days.groupby(unpaid[S.CUSTOMER_ID]).max()
    dpd90 = d.loc[d[S.KIND] == "dpd90", S.CUSTOMER_ID]
    assert len(dpd90) > 0 and (max_dpd.reindex(dpd90) > 90).all()
    write_off = d.loc[d[S.KIND] == "write_off", S.CUSTOMER_ID]
    assert write_off.isin(unpaid[S.CUSTOMER_ID]).all()


def test_financials_hold_the_balance_sheet_and_look_like_smes(small: SimulationResult) -> None:
    f = small.tables.financials
    assert (f[S.PERIOD_END].dt.strftime("%m-%d") == "12-31").all()
    assert np.allclose(f[S.TOTAL_ASSETS], f[S.TOTAL_LIABILITIES] + f[S.EQUITY], atol=1.0)
    assert (f[S.CASH] + f[S.INVENTORY] + f[S.RECEIVABLES] <= f[S.CURRENT_ASSETS]).all()
    # statements use the paid-in capital at onboarding (the first customer_terms row; sim_reports)
    first = small.tables.customer_terms.drop_duplicates(S.CUSTOMER_ID, keep="first")
    paid_in = f[S.CUSTOMER_ID].map(first.set_index(S.CUSTOMER_ID)[S.PAID_IN_CAPITAL])
    assert np.allclose(f[S.RETAINED_EARNINGS], f[S.EQUITY] - paid_in, atol=1.0)
    assert 0.2 < (f[S.EQUITY] / f[S.TOTAL_ASSETS]).median() < 0.5
    assert 1.1 < (f[S.CURRENT_ASSETS] / f[S.CURRENT_LIABILITIES]).median() < 2.0
    assert 0.0 < (f[S.EBIT] / f[S.REVENUE]).median() < 0.12
    assert 0.2 < (~f[S.AUDITED]).mean() < 0.8
    never = ~small.tables.customers[S.CUSTOMER_ID].isin(f[S.CUSTOMER_ID])
    assert 0.05 < never.mean() < 0.4


def test_visits_ratings_are_biased_by_visitor_and_nulls_on_calls(small: SimulationResult) -> None:
    v = small.tables.visits
    for col in S.VISIT_RATINGS:
        r = v[col].dropna()
        assert r.between(1, 5).all() and r.nunique() == 5
    phone = v[S.NOTES].str.startswith("Phone call", na=False)
    assert v.loc[phone, S.PREMISES].isna().all() and not v.loc[phone, S.LICENCE_CHECKED].any()
    # the visitor matters: ratings differ between visitors far beyond chance
    groups = [g.dropna().to_numpy(dtype=float) for _, g in v[S.MANAGEMENT].groupby(v[S.VISITOR_ID])]
    assert len(groups) >= 4 and f_oneway(*groups).pvalue < 1e-6
    assert 0 < v[S.LAVISH_OFFICE].mean() < 0.05


# ----------------------------------------------- ledger and default definition
def test_ledger_agrees_with_the_default_definition(small: SimulationResult) -> None:
    """No performing customer carries a material 90+ dpd amount at any month end; every dpd90
    default is recorded on the day the ledger first crosses the definition."""
    t = small.tables
    ends = pd.date_range("2019-01-31", "2022-12-31", freq="ME")
    perf = performing_past_due(t.invoices, t.defaults, t.customers, ends, Materiality())
    assert len(perf) > 10_000 and perf["material"].mean() < 0.003
    assert (perf["exposure"] > 0).mean() > 0.5  # most performing customers have open invoices to check
    d = t.defaults.set_index(S.CUSTOMER_ID)
    dpd90 = d[d[S.KIND] == "dpd90"]
    assert len(dpd90) >= 10
    for cid, row in dpd90.head(25).iterrows():
        inv = t.invoices[t.invoices[S.CUSTOMER_ID] == cid]
        on = past_due_at(inv, [row[S.DEFAULT_DATE]])
        before = past_due_at(inv, [row[S.DEFAULT_DATE] - pd.Timedelta(days=1)])
        assert on["material"].all(), cid
        assert not before["material"].any(), cid


def test_recorded_defaults_stay_in_the_latent_chains_month(small: SimulationResult) -> None:
    """The ledger, the terms history and the default definition move a default's day only inside
    the month the latent chain chose, so the oracle's true PDs still describe the recorded defaults."""
    p = SimParams()
    r_sys, r_pop, r_hist, *_ = np.random.default_rng(11).spawn(9)  # the streams simulate(seed=11) uses
    cal = make_calendar(START, 4)
    pop = make_population(600, cal, p, r_pop)
    hist = simulate_history(pop, cal, make_systematic(cal, p, r_sys), p, r_hist)
    order = np.argsort(pop.onboarded_day, kind="stable")  # customer numbers follow the onboarding order
    chain = pd.Series(hist.default_day[order], index=small.tables.customers[S.CUSTOMER_ID].to_numpy())
    chain = chain[chain >= 0]
    d = small.tables.defaults.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE]
    assert len(d) > 20 and set(d.index) == set(chain.index)
    chain_dates = pd.to_datetime(chain.reindex(d.index).to_numpy(), unit="D")
    assert (d.dt.to_period("M").to_numpy() == chain_dates.to_period("M").to_numpy()).all()
    assert (d.to_numpy() != chain_dates.to_numpy()).any()  # some were moved to the ledger's crossing day


def test_materiality_is_configurable_and_the_absolute_threshold_binds() -> None:
    strict = simulate(400, START, 3, seed=3, materiality=Materiality(absolute=1e12))
    assert "dpd90" not in set(strict.tables.defaults[S.KIND].astype(str))
    usual = simulate(400, START, 3, seed=3)
    assert "dpd90" in set(usual.tables.defaults[S.KIND].astype(str))


def test_validation_warns_when_the_ledger_shows_an_unrecorded_default(small: SimulationResult) -> None:
    t = small.tables
    _, clean = validate_tables(t.as_dict())
    assert not [v for v in clean.warnings if v.rule == LEDGER_DEFAULT]
    cid = t.defaults.loc[t.defaults[S.KIND] == "dpd90", S.CUSTOMER_ID].iloc[0]
    dropped = t.defaults[t.defaults[S.CUSTOMER_ID] != cid]
    frames = {**t.as_dict(), S.DEFAULTS: dropped}
    _, report = validate_tables(frames)
    hits = [v for v in report.warnings if v.rule == LEDGER_DEFAULT]
    assert len(hits) == 1 and hits[0].count >= 1 and any(cid in e for e in hits[0].examples)
    assert report.ok  # a warning, the tables still validate


@pytest.mark.parametrize("mat", [Materiality(), Materiality(absolute=0.0, relative=0.0),
                                 Materiality(dpd_days=30, absolute=100.0, relative=0.05)],
                         ids=["eu", "no-thresholds", "dpd30"])
def test_the_ledger_checks_late_invoice_path_equals_the_full_mask(small: SimulationResult, mat: Materiality) -> None:
    """material_performing_past_due (the validation's fast path) gives exactly the flagged rows of
    performing_past_due (every invoice masked at every date), figures bit for bit, on a book where
    half the defaults are missing (so there is something to flag) and on the full one."""
    t = small.tables
    ends = pd.date_range(t.invoices[S.INVOICE_DATE].min(), t.invoices[S.INVOICE_DATE].max(), freq="ME")
    for defaults in (t.defaults, t.defaults.iloc[::2]):
        full = performing_past_due(t.invoices, defaults, t.customers, ends, mat)
        want = full[full["material"]].sort_values(["date", S.CUSTOMER_ID], kind="stable", ignore_index=True)
        got = material_performing_past_due(t.invoices, defaults, t.customers, ends, mat)
        assert len(got) == len(want)
        if len(want):
            assert got["material"].all()
            for col in (S.CUSTOMER_ID, "date", "past_due", "exposure"):
                assert (got[col].to_numpy() == want[col].astype(got[col].dtype).to_numpy()).all(), col
    assert len(want) > 50  # half the defaults missing: the ledger shows many unrecorded ones


def test_visit_ratings_observe_different_aspects_with_small_visitor_bias(base: SimulationResult) -> None:
    v = base.tables.visits
    r = v[list(S.VISIT_RATINGS)].astype(float)
    corr = r.corr().to_numpy()
    off = corr[~np.eye(len(corr), dtype=bool)]
    assert off.max() < 0.7 and off.mean() < 0.4  # not one rating written eight times
    assert r.mean().max() - r.mean().min() > 0.2  # the dimensions do not share one mean
    for col in S.VISIT_RATINGS:  # the visitor explains a small share of each rating's variance
        x = v[[S.VISITOR_ID, col]].dropna()
        y = x[col].astype(float)
        fitted = y.groupby(x[S.VISITOR_ID]).transform("mean")
        assert ((fitted - y.mean()) ** 2).sum() / ((y - y.mean()) ** 2).sum() < 0.1, col
    # by design the visitor's leniency moves a rating less than the firm does
    for col, (_, loads) in VISIT_LOADS.items():
        assert np.linalg.norm(loads) > VISITOR_LENIENCY_SD + CUSTOMER_HALO_SD, col


def test_tenure_reaches_before_the_extract(small: SimulationResult) -> None:
    cust = small.tables.customers
    before = cust[S.ONBOARDED_DATE] < pd.Timestamp(START)
    assert 0.4 < before.mean() < 0.8
    years = (pd.Timestamp(START) - cust.loc[before, S.ONBOARDED_DATE]).dt.days / 365.25
    assert years.max() > 8 and years.median() > 3  # spread over years, not piled on the start date
    # opening items: invoices issued before the extract's start that are still unpaid on it
    inv = small.tables.invoices
    old = inv[inv[S.INVOICE_DATE] < pd.Timestamp(START)]
    assert old[S.CUSTOMER_ID].nunique() > 0.5 * before.sum()
    assert (old[S.PAID_DATE].isna() | (old[S.PAID_DATE] >= pd.Timestamp(START))).all()
    assert old[S.CUSTOMER_ID].isin(cust.loc[before, S.CUSTOMER_ID]).all()
    assert old[S.INVOICE_DATE].min() >= pd.Timestamp(START) - pd.Timedelta(days=183)


# -------------------------------------------------------------- determinism
def test_same_seed_same_base_other_seed_other_base() -> None:
    a, b = simulate(250, START, 3, seed=3), simulate(250, START, 3, seed=3)
    for name in S.ALL_TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(a.tables, name), getattr(b.tables, name))
    pd.testing.assert_frame_equal(a.oracle, b.oracle)
    c = simulate(250, START, 3, seed=4)
    assert not a.tables.invoices[S.AMOUNT].head(100).equals(c.tables.invoices[S.AMOUNT].head(100))
    assert len(a.tables.invoices) != len(c.tables.invoices)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="n_customers"):
        simulate(0, START, 3, seed=1)
    with pytest.raises(ValueError, match="years"):
        simulate(10, START, 0, seed=1)


# ------------------------------------------------------------- plausibility
def test_annual_default_rate_in_band_and_higher_in_the_downturn(base: SimulationResult) -> None:
    rates = summarise(base)["default_rate_by_year"]
    assert set(rates) == set(range(2019, 2025))
    assert all(0.02 <= r <= 0.08 for r in rates.values()), rates
    assert np.mean([rates[2023], rates[2024]]) > 1.2 * np.mean([rates[2020], rates[2021]]), rates


def test_invoice_volume_late_share_and_tail(base: SimulationResult) -> None:
    s = summarise(base)
    assert 3000 * 75 < s["invoices"] < 3000 * 125  # 400k-600k for 5,000 customers
    assert 0.35 <= s["late_share"] <= 0.55
    assert 2 <= s["mean_days_late"] <= 10
    assert 0.01 < s["share_late_over_60"] < 0.15  # most late invoices a few days late, some months
    assert 0.004 < s["loss_share_of_invoiced"] < 0.03
    # bigger firms buy more often and in bigger amounts
    inv, fin = base.tables.invoices, base.tables.financials
    revenue = fin.groupby(S.CUSTOMER_ID)[S.REVENUE].median()
    per_cust = inv.groupby(S.CUSTOMER_ID).agg(n=(S.AMOUNT, "size"), amt=(S.AMOUNT, "median"))
    j = per_cust.join(revenue, how="inner")
    assert j[S.REVENUE].corr(j["amt"], method="spearman") > 0.3


def test_payment_deteriorates_before_default(base: SimulationResult) -> None:
    inv = base.tables.invoices
    d = base.tables.defaults.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE]
    paid = inv[inv[S.PAID_DATE].notna() & inv[S.CUSTOMER_ID].isin(d.index)]
    late = (paid[S.PAID_DATE] - paid[S.DUE_DATE]).dt.days.clip(lower=0)
    before = (paid[S.CUSTOMER_ID].map(d) - paid[S.PAID_DATE]).dt.days
    recent = late[(before > 0) & (before <= 182)].mean()
    earlier = late[before > 365].mean()
    assert recent > 3 * earlier and recent - earlier > 15, (recent, earlier)


def test_distress_shows_in_events_and_references(base: SimulationResult) -> None:
    e = base.tables.events
    d = base.tables.defaults.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE]
    defaulter = e[S.CUSTOMER_ID].isin(d.index)
    n_def, n_ok = d.size, len(base.tables.customers) - d.size
    for kind in ("lawsuit", "tax_arrears"):
        hit = e[S.EVENT_TYPE] == kind
        assert (hit & defaulter).sum() / n_def > 3 * (hit & ~defaulter).sum() / n_ok
    trade = e[e[S.EVENT_TYPE] == "trade_reference"]
    assert trade[S.VALUE].isin([1, 2, 3, 4, 5]).all()
    assert trade.loc[trade[S.CUSTOMER_ID].isin(d.index), S.VALUE].mean() < trade[S.VALUE].mean() - 0.2
    agency = e.loc[e[S.EVENT_TYPE] == "agency_rating", S.VALUE]
    assert agency.between(1, 10).all() and agency.nunique() >= 8
    assert (e[S.EVENT_TYPE] == "collateral_pledged").any()
    assert (e[S.EVENT_TYPE] == "collateral_released").any()


# -------------------------------------------------------------------- oracle
def _labelled_oracle(res: SimulationResult, last: str) -> pd.DataFrame:
    o = res.oracle
    d = o[S.CUSTOMER_ID].map(res.tables.defaults.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE])
    y = (d > o[S.SNAPSHOT_DATE]) & (d <= o[S.SNAPSHOT_DATE] + pd.DateOffset(months=12))
    return o.assign(y=y.astype(int))[o[S.SNAPSHOT_DATE] <= pd.Timestamp(last)]


def test_oracle_is_a_calibrated_probability(base: SimulationResult) -> None:
    o = _labelled_oracle(base, "2023-12-31")  # outcomes fully observed
    assert o[S.TRUE_PD].between(0, 1).all()
    assert abs(o[S.TRUE_PD].mean() - o["y"].mean()) < 0.1 * o["y"].mean() + 0.002
    by_year = o.groupby(o[S.SNAPSHOT_DATE].dt.year)[[S.TRUE_PD, "y"]].mean()
    assert (by_year[S.TRUE_PD] - by_year["y"]).abs().max() < 0.3 * by_year["y"].mean()
    assert 0.8 < roc_auc_score(o["y"], o[S.TRUE_PD]) < 0.95
    # the test period (2023 snapshots) is riskier than training (2020-2022)
    assert by_year.loc[2023, S.TRUE_PD] > 1.2 * by_year.loc[[2020, 2021], S.TRUE_PD].mean()


def test_oracle_covers_performing_customers_at_each_quarter_end(small: SimulationResult) -> None:
    o, t = small.oracle, small.tables
    assert list(o.columns) == [S.CUSTOMER_ID, S.SNAPSHOT_DATE, S.TRUE_PD]
    quarter_ends = pd.date_range("2019-03-31", "2022-12-31", freq="QE")
    assert list(np.sort(o[S.SNAPSHOT_DATE].unique())) == list(quarter_ends)
    assert not o.duplicated([S.CUSTOMER_ID, S.SNAPSHOT_DATE]).any()
    dday = o[S.CUSTOMER_ID].map(t.defaults.set_index(S.CUSTOMER_ID)[S.DEFAULT_DATE])
    assert not (dday <= o[S.SNAPSHOT_DATE]).any()  # nobody already in default
    onb = o[S.CUSTOMER_ID].map(t.customers.set_index(S.CUSTOMER_ID)[S.ONBOARDED_DATE])
    assert (onb < o[S.SNAPSHOT_DATE]).all()  # the feature builder's population: onboarded strictly before
    # every performing customer is there
    last = pd.Timestamp("2022-12-31")
    alive = t.customers[(t.customers[S.ONBOARDED_DATE] < last)
                        & ~t.customers[S.CUSTOMER_ID].isin(t.defaults[S.CUSTOMER_ID])]
    assert set(alive[S.CUSTOMER_ID]) <= set(o.loc[o[S.SNAPSHOT_DATE] == last, S.CUSTOMER_ID])


# ------------------------------------------------------------------ pipeline
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_run_simulate_writes_tables_and_a_separate_oracle(tmp_path: Path, fmt: str) -> None:
    settings = load_settings(overrides={"simulation": {"n_customers": 150, "years": 2, "seed": 9}})
    out = run_simulate(settings, out_dir=tmp_path / "raw", fmt=fmt)
    assert out == (tmp_path / "raw").resolve()
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{n}.{fmt}" for n in S.ALL_TABLE_NAMES), "oracle"])
    oracle = oracle_path_for(out)
    # the oracle lands inside the folder the user chose, nothing is written beside it
    assert oracle == (tmp_path / "raw" / "oracle" / "true_pd_12m.parquet").resolve() and oracle.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
    expected = simulate(150, settings.simulation.start_date, 2, seed=9)
    pd.testing.assert_frame_equal(read_frame(oracle), expected.oracle, check_dtype=False)
    raw = {n: read_frame(out / f"{n}.{fmt}") for n in S.ALL_TABLE_NAMES}
    typed, report = validate_tables(raw)
    assert report.ok, report.to_text()
    assert len(typed.invoices) == len(expected.tables.invoices)
    if fmt == "csv":
        text = (out / "customers.csv").read_text().splitlines()
        assert text[0].split(",") == list(S.CUSTOMERS_SPEC.column_names)
        row = text[1].split(",")
        assert row[4].count("-") == 2 and len(row[4]) == 10  # YYYY-MM-DD
        assert row[8] in ("true", "false") and row[9] in ("true", "false")


def test_the_oracle_refuses_a_horizon_it_was_not_computed_for() -> None:
    from riskmodel.data.sim_oracle import ORACLE_HORIZON_MONTHS, check_oracle_horizon, oracle_horizon_refusal
    from riskmodel.exceptions import ConfigError

    assert oracle_horizon_refusal(ORACLE_HORIZON_MONTHS) is None
    check_oracle_horizon(ORACLE_HORIZON_MONTHS)  # its own horizon passes
    with pytest.raises(ConfigError, match=r"12-month PDs and cannot be compared with 6-month labels"):
        check_oracle_horizon(6)
