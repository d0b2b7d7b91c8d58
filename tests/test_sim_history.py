"""The simulated history of customer facts (sim_history): consistent, and driven only by what was observed."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import schemas as S
from riskmodel.data.sim_history import TermsParams, simulate_customer_terms
from riskmodel.data.sim_world import SimParams, make_calendar, make_population
from riskmodel.data.simulator import SimulationResult, simulate
from riskmodel.data.validation import validate_tables

START = dt.date(2019, 1, 1)
P = TermsParams()


@pytest.fixture(scope="module")
def base() -> SimulationResult:
    return simulate(600, START, 4, seed=5)


def _days(s: pd.Series) -> np.ndarray:
    return s.to_numpy().astype("datetime64[D]").astype(np.int64)


def _arrears_at(invoices: pd.DataFrame, cid: str, day: int, dpd: int) -> float:
    """Amount more than ``dpd`` days past due and unpaid at the end of ``day``, computed directly."""
    inv = invoices[invoices[S.CUSTOMER_ID] == cid]
    due, paid = _days(inv[S.DUE_DATE]), _days(inv[S.PAID_DATE])
    unpaid = inv[S.PAID_DATE].isna().to_numpy() | (paid > day)
    return float(inv[S.AMOUNT].to_numpy()[(day - due > dpd) & unpaid].sum())


# ---------------------------------------------------------------- consistency
def test_history_validates_and_customers_hold_the_latest_row(base: SimulationResult) -> None:
    t = base.tables
    _, report = validate_tables(t.as_dict())
    assert report.ok and report.warnings == [], report.to_text()  # includes latest_row_matches_customers
    th = t.customer_terms
    last = th.sort_values(S.VALID_FROM).drop_duplicates(S.CUSTOMER_ID, keep="last").set_index(S.CUSTOMER_ID)
    cust = t.customers.set_index(S.CUSTOMER_ID)
    assert set(last.index) == set(cust.index)  # every customer has a history
    for fact in S.HISTORY_FACTS:
        assert (cust[fact] == last[fact].reindex(cust.index)).all(), fact
    first = th.drop_duplicates(S.CUSTOMER_ID, keep="first").set_index(S.CUSTOMER_ID)
    assert (first[S.VALID_FROM] == cust[S.ONBOARDED_DATE].reindex(first.index)).all()
    assert th[S.VALID_FROM].max() <= pd.Timestamp(START.replace(year=START.year + 4)) - pd.Timedelta(days=1)


def test_the_book_changes_in_every_direction(base: SimulationResult) -> None:
    th = base.tables.customer_terms
    g = th.groupby(S.CUSTOMER_ID)
    prev = {f: g[f].shift() for f in S.HISTORY_FACTS}
    lim = th[S.CREDIT_LIMIT]
    assert (lim > prev[S.CREDIT_LIMIT]).sum() > 20  # raised with growth
    assert ((lim < prev[S.CREDIT_LIMIT]) & (lim > 0)).sum() > 20  # cut
    assert ((lim == 0) & (prev[S.CREDIT_LIMIT] > 0)).sum() > 20  # frozen
    assert (th[S.PAYMENT_TERMS_DAYS] < prev[S.PAYMENT_TERMS_DAYS]).sum() > 20  # terms shortened
    assert (th[S.PAID_IN_CAPITAL] > prev[S.PAID_IN_CAPITAL]).sum() > 0  # capital paid in
    assert (th[S.BUSINESS_SCOPE_OK] != prev[S.BUSINESS_SCOPE_OK]).sum() - prev[S.BUSINESS_SCOPE_OK].isna().sum() > 0
    assert th[S.PAYMENT_TERMS_DAYS].max() <= 90 and (th[S.PAYMENT_TERMS_DAYS] >= 14).all()


def _check_decisions_follow_arrears(invoices: pd.DataFrame, rows: pd.DataFrame, dpd: int) -> None:
    """Each row had material ``dpd``+ arrears at the month end (5..25 days before it) it was decided on."""
    month_ends = pd.date_range("2018-12-31", periods=80, freq="ME")
    for r in rows.itertuples(index=False):
        vf = pd.Timestamp(r.valid_from)
        d = [m for m in month_ends if P.lag_min_days <= (vf - m).days <= P.lag_max_days]
        assert d, (r.customer_id, vf)
        day = int(np.datetime64(d[-1].date(), "D").astype(np.int64))
        assert _arrears_at(invoices, r.customer_id, day, dpd) >= P.material_abs, (r.customer_id, vf, dpd)


def _cuts_and_early_freezes(th: pd.DataFrame, defaults: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cuts (limit down, terms shorter) and freezes not explained by a recognised default."""
    g = th.groupby(S.CUSTOMER_ID)
    prev_lim, prev_terms = g[S.CREDIT_LIMIT].shift(), g[S.PAYMENT_TERMS_DAYS].shift()
    first_default = defaults.groupby(S.CUSTOMER_ID)[S.DEFAULT_DATE].min()
    cuts = th[(th[S.CREDIT_LIMIT] < prev_lim) & (th[S.CREDIT_LIMIT] > 0) & (th[S.PAYMENT_TERMS_DAYS] < prev_terms)]
    frozen = th[(th[S.CREDIT_LIMIT] == 0) & (prev_lim > 0)]
    frozen = frozen[~(frozen[S.VALID_FROM] >= frozen[S.CUSTOMER_ID].map(first_default))]
    return cuts, frozen


def test_cuts_follow_arrears_observed_before_the_decision_and_freezes_the_default(base: SimulationResult) -> None:
    """Every cut had material 30+ arrears at the month end before it, on the final ledger.  In the
    simulated base a material 90+ arrear *is* a default (the ledger agrees with the default definition),
    so no limit is frozen before the recorded default, and every default freezes it within 14 days."""
    t = base.tables
    th = t.customer_terms
    cuts, frozen = _cuts_and_early_freezes(th, t.defaults)
    assert len(cuts) > 20
    _check_decisions_follow_arrears(t.invoices, cuts, 30)
    assert frozen.empty, frozen
    end = pd.Timestamp(START.replace(year=START.year + 4)) - pd.Timedelta(days=1)
    dfl = t.defaults[t.defaults[S.DEFAULT_DATE] <= end - pd.Timedelta(days=P.default_lag_max_days)]
    zero = th[th[S.CREDIT_LIMIT] == 0].groupby(S.CUSTOMER_ID)[S.VALID_FROM].min().reindex(dfl[S.CUSTOMER_ID])
    lag = (zero.to_numpy() - dfl[S.DEFAULT_DATE].to_numpy()) / np.timedelta64(1, "D")
    # within 14 days, or the day after a change decided before the default and dated after it
    before = th[th[S.CREDIT_LIMIT] > 0].groupby(S.CUSTOMER_ID)[S.VALID_FROM].max().reindex(dfl[S.CUSTOMER_ID])
    bumped = (zero - before).dt.days.to_numpy() == 1
    assert len(dfl) > 20 and ((lag >= 0) & ((lag <= P.default_lag_max_days) | bumped)).all()
    # observed behaviour, not the future: most cut customers do not default in the next 12 months
    first_default = t.defaults.groupby(S.CUSTOMER_ID)[S.DEFAULT_DATE].min()
    later = cuts[S.CUSTOMER_ID].map(first_default) - cuts[S.VALID_FROM]
    assert (later.dt.days.between(0, 365)).mean() < 0.5


def test_freezes_follow_material_90_arrears_on_a_ledger_that_shows_them() -> None:
    """On a ledger with 90+ arrears and no recorded default (real data can disagree with the definition),
    the limit is frozen after material 90+ arrears observed at the month end before the freeze."""
    pop, cal, ids, invoices, defaults = _synthetic()
    th, inv = simulate_customer_terms(pop, cal, ids, invoices, defaults, np.random.default_rng(7))
    cuts, frozen = _cuts_and_early_freezes(th, defaults)
    assert len(frozen) > 5
    _check_decisions_follow_arrears(inv, frozen, 90)
    _check_decisions_follow_arrears(inv, cuts, 30)


def test_due_dates_follow_the_terms_valid_on_the_invoice_date(base: SimulationResult) -> None:
    t = base.tables
    hist = t.customer_terms.sort_values(S.VALID_FROM)
    at = pd.merge_asof(t.invoices.sort_values(S.INVOICE_DATE), hist, left_on=S.INVOICE_DATE,
                       right_on=S.VALID_FROM, by=S.CUSTOMER_ID, direction="backward")
    assert ((at[S.DUE_DATE] - at[S.INVOICE_DATE]).dt.days == at[S.PAYMENT_TERMS_DAYS]).all()
    changed = at[S.VALID_FROM] > at[S.CUSTOMER_ID].map(hist.groupby(S.CUSTOMER_ID)[S.VALID_FROM].min())
    assert changed.any()  # some invoices fall due under changed terms


# ------------------------------------------------------- no future, no latent
def _synthetic(n: int = 150, seed: int = 0):
    """A population and a hand-rolled ledger (monthly invoices, some paid very late or never)."""
    cal = make_calendar(START, 3)
    pop = make_population(n, cal, SimParams(), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    ids = pd.Series([f"C{i:04d}" for i in range(n)], dtype="str")
    rows = []
    for c in range(n):
        first = max(int(pop.onboarded_day[c]), cal.start)
        bad = rng.random() < 0.3
        for day in range(first + 3, cal.end - 40, 30):
            due = day + int(pop.terms[c])
            u = rng.random()
            late = rng.integers(0, 5) if u < 0.6 else rng.integers(5, 60) if u < 0.9 or not bad else rng.integers(60, 250)
            paid = None if (bad and rng.random() < 0.05) else min(due + int(late), cal.end)
            rows.append((ids[c], day, due, float(rng.integers(500, 5000)), paid))
    inv = pd.DataFrame(rows, columns=[S.CUSTOMER_ID, "d", "u", S.AMOUNT, "p"])
    to_ts = lambda x: pd.to_datetime(x, unit="D").astype("datetime64[ns]")  # noqa: E731
    invoices = pd.DataFrame({
        S.INVOICE_ID: [f"I{i}" for i in range(len(inv))], S.CUSTOMER_ID: inv[S.CUSTOMER_ID].astype("str"),
        S.INVOICE_DATE: to_ts(inv["d"]), S.DUE_DATE: to_ts(inv["u"]), S.AMOUNT: inv[S.AMOUNT],
        S.PAID_DATE: to_ts(inv["p"].astype("float64")),
    })
    invoices[S.PAID_AMOUNT] = invoices[S.AMOUNT].where(invoices[S.PAID_DATE].notna())
    dflt = rng.choice(n, 10, replace=False)
    defaults = pd.DataFrame({S.CUSTOMER_ID: ids[dflt].to_numpy(),
                             S.DEFAULT_DATE: to_ts(rng.integers(cal.start + 200, cal.end, 10)),
                             S.KIND: "dpd90"})
    return pop, cal, ids, invoices, defaults


def _truncate(invoices: pd.DataFrame, defaults: pd.DataFrame, cut: pd.Timestamp):
    inv = invoices[invoices[S.INVOICE_DATE] < cut].copy()
    later = inv[S.PAID_DATE] >= cut
    inv.loc[later, S.PAID_DATE] = pd.NaT
    inv.loc[later, S.PAID_AMOUNT] = np.nan
    return inv, defaults[defaults[S.DEFAULT_DATE] < cut]


@pytest.mark.parametrize("cut", ["2020-03-15", "2020-11-01", "2021-06-30"])
def test_history_before_a_date_depends_only_on_records_before_it(cut: str) -> None:
    pop, cal, ids, invoices, defaults = _synthetic()
    full, _ = simulate_customer_terms(pop, cal, ids, invoices, defaults, np.random.default_rng(7))
    inv_t, dfl_t = _truncate(invoices, defaults, pd.Timestamp(cut))
    part, _ = simulate_customer_terms(pop, cal, ids, inv_t, dfl_t, np.random.default_rng(7))
    before = lambda f: f[f[S.VALID_FROM] < pd.Timestamp(cut)].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(before(full), before(part))
    assert len(before(full)) > len(ids)  # more than the onboarding rows: decisions were made before the cut
    # negative control: the records after the date do change the history after it
    assert not full.equals(part)


def test_limits_and_terms_ignore_the_latent_quality() -> None:
    """The company cannot see the simulator's latent quality: shuffling it leaves limits and terms unchanged."""
    pop, cal, ids, invoices, defaults = _synthetic()
    a, _ = simulate_customer_terms(pop, cal, ids, invoices, defaults, np.random.default_rng(3))
    shuffled = replace(pop, mu=np.random.default_rng(9).permutation(pop.mu))
    b, _ = simulate_customer_terms(shuffled, cal, ids, invoices, defaults, np.random.default_rng(3))
    cols = [S.CUSTOMER_ID, S.VALID_FROM, S.CREDIT_LIMIT, S.PAYMENT_TERMS_DAYS]
    key = [S.CUSTOMER_ID, S.VALID_FROM]
    # the registration checks (a fact about the firm) may differ; limits and terms only follow the ledger
    merged = a[cols].merge(b[cols], on=key, how="outer", suffixes=("_a", "_b"))
    limit_rows = merged.dropna()
    assert (limit_rows[f"{S.CREDIT_LIMIT}_a"] == limit_rows[f"{S.CREDIT_LIMIT}_b"]).all()
    assert (limit_rows[f"{S.PAYMENT_TERMS_DAYS}_a"] == limit_rows[f"{S.PAYMENT_TERMS_DAYS}_b"]).all()
    # rows present in only one run are registration-check changes, which carry the limit unchanged
    for frame in (a, b):
        lim = frame.groupby(S.CUSTOMER_ID)[S.CREDIT_LIMIT]
        assert lim.apply(lambda s: s.iloc[-1]).equals(
            (a if frame is b else b).groupby(S.CUSTOMER_ID)[S.CREDIT_LIMIT].apply(lambda s: s.iloc[-1]))


def test_month_grid_in_blocks_equals_one_expansion_bit_for_bit() -> None:
    """_intervals_to_grid expands its months a block at a time (bounded memory); every cell adds the
    same records in the same order as one expansion of all months, so the totals are identical."""
    from riskmodel.data.sim_history import _intervals_to_grid

    rng = np.random.default_rng(3)
    k, n, months = 20_000, 300, 40
    start = rng.integers(-3, months + 2, k)
    stop = start + rng.integers(-2, 15, k)
    codes = rng.integers(0, n, k)
    weights = np.round(rng.lognormal(7, 1.5, k), 2)
    start, stop = np.clip(start, 0, months), np.clip(stop, 0, months)
    whole = _intervals_to_grid(start, stop, codes, weights, months, n, block=months)
    # the definition, cell by cell in record order
    ref = np.zeros((months, n))
    for s, e, c, w in zip(start, stop, codes, weights):
        ref[s:e, c] += w
    assert (whole == ref).all()
    for block in (1, 6, 7, months + 5):
        assert (_intervals_to_grid(start, stop, codes, weights, months, n, block=block) == whole).all(), block
    assert (_intervals_to_grid(start[:0], stop[:0], codes[:0], weights[:0], months, n) == 0).all()
