"""Property-based checks of the feature builder on random small tables (hypothesis).

* the vectorised builder agrees with a slow one-row-at-a-time reference;
* no look-ahead, one test per evidence family: changing or deleting any record
  dated on or after a snapshot (and adding new ones) leaves every feature at
  that snapshot and the ones before it exactly unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feature_fixtures import (
    day,
    event,
    invoice,
    random_tables,
    statement,
    terms_row,
    typed_frame,
    visit,
)
from feature_reference import reference_features
from riskmodel.config import FeatureSettings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.features import build_features
from riskmodel.features.dictionary import FEATURES

FS = FeatureSettings()
SNAPS = pd.DatetimeIndex(
    ["2019-06-30", "2019-12-31", "2020-03-31", "2020-09-30", "2021-03-31", "2021-12-31"]
)
SEEDS = st.integers(0, 2**32 - 1)
# snapshots, window starts and their neighbours: the boundaries where look-ahead bugs live
# (the snapshots themselves weigh most: a record dated exactly on S is the classic leak)
SPECIAL = list(SNAPS) * 8 + sorted(
    {
        d + pd.Timedelta(days=k)
        for s in SNAPS
        for m in (0, 3, 6, 12, 24)
        for d in [s - pd.DateOffset(months=m)]
        for k in (-1, 0, 1)
    }
)
PROPS = settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
REFERENCE = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _upto(tables: Tables, snap: pd.Timestamp) -> pd.DataFrame:
    df = build_features(tables, SNAPS, FS, population="all")
    return df[df[S.SNAPSHOT_DATE] <= snap].reset_index(drop=True)


# ------------------------------------------------------------- reference
@REFERENCE
@pytest.mark.slow
@given(seed=SEEDS)
def test_builder_matches_the_one_row_at_a_time_reference(seed):
    t = random_tables(_rng(seed), special=SPECIAL)
    snaps = SNAPS[[1, 3, 5]]
    df = build_features(t, snaps, FS, population="all")
    for row in df.itertuples(index=False):
        ref = reference_features(t, row.customer_id, row.snapshot_date, FS)
        got = row._asdict()
        for name in FEATURES:
            a, b = got[name], ref[name]
            if isinstance(b, str):
                assert a == b, (name, row.customer_id, row.snapshot_date)
            elif math.isnan(b):
                assert math.isnan(a), (name, row.customer_id, row.snapshot_date, a)
            else:
                assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (
                    name,
                    row.customer_id,
                    row.snapshot_date,
                )


# ---------------------------------------------------------- perturbations
def _after(frame: pd.DataFrame, column: str, snap: pd.Timestamp) -> np.ndarray:
    return (frame[column] >= snap).to_numpy()


def _drop_some(frame: pd.DataFrame, mask: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    drop = mask & (rng.random(len(frame)) < 0.3)
    return frame[~drop].reset_index(drop=True)


def _shift_later(values: pd.Series, mask: np.ndarray, rng: np.random.Generator) -> pd.Series:
    shift = pd.to_timedelta(rng.integers(0, 400, len(values)) * mask, unit="D")
    return (values + shift).astype(values.dtype)


def _perturb_invoices(t: Tables, snap: pd.Timestamp, rng: np.random.Generator) -> Tables:
    inv = t.invoices.copy()
    future = _after(inv, S.INVOICE_DATE, snap)
    inv.loc[future, S.AMOUNT] = inv.loc[future, S.AMOUNT] * 3 + 1
    inv.loc[future, S.PAID_AMOUNT] = inv.loc[future, S.AMOUNT].where(
        inv.loc[future, S.PAID_DATE].notna()
    )
    shift = pd.to_timedelta(rng.integers(0, 300, len(inv)) * future, unit="D")
    for col in (S.INVOICE_DATE, S.DUE_DATE, S.PAID_DATE):
        inv[col] = (inv[col] + shift).astype("datetime64[ns]")
    # payments on or after S: later, or never
    paid_later = (inv[S.PAID_DATE] >= snap).to_numpy() & ~future
    unpay = paid_later & (rng.random(len(inv)) < 0.5)
    inv[S.PAID_DATE] = _shift_later(inv[S.PAID_DATE], paid_later & ~unpay, rng)
    inv.loc[unpay, S.PAID_DATE] = pd.NaT
    inv.loc[unpay, S.PAID_AMOUNT] = np.nan
    inv = _drop_some(inv, future, rng)
    new = [
        invoice(
            f"N{i}",
            str(rng.choice(t.customers[S.CUSTOMER_ID])),
            day(snap, int(rng.integers(0, 90))),
            amount=77.0,
            paid=None if rng.random() < 0.5 else day(snap, 100),
        )
        for i in range(3)
    ]
    inv = pd.concat([inv, typed_frame(S.INVOICES, new)], ignore_index=True)
    return replace(t, invoices=inv)


def _perturb_financials(t: Tables, snap: pd.Timestamp, rng: np.random.Generator) -> Tables:
    fin = t.financials.copy()
    known = fin[S.PERIOD_END] + pd.DateOffset(months=FS.publication_lag_months)
    future = (known >= snap).to_numpy()
    for col in (S.REVENUE, S.EBIT, S.TOTAL_ASSETS, S.EQUITY, S.CURRENT_LIABILITIES):
        fin.loc[future, col] = fin.loc[future, col] * float(rng.uniform(0, 3)) + 1
    fin.loc[future, S.AUDITED] = ~fin.loc[future, S.AUDITED]
    fin = _drop_some(fin, future, rng)
    # a statement whose publication falls on the snapshot itself is still unknown
    cid = str(rng.choice(t.customers[S.CUSTOMER_ID]))
    lag = pd.DateOffset(months=FS.publication_lag_months)
    pe = snap - lag
    while pe + lag < snap:  # the earliest period end whose publication is not before S
        pe += pd.Timedelta(days=1)
    pe = pe.date().isoformat()
    if not ((fin[S.CUSTOMER_ID] == cid) & (fin[S.PERIOD_END] == pd.Timestamp(pe))).any():
        fin = pd.concat(
            [fin, typed_frame(S.FINANCIALS, [statement(cid, pe, **{S.REVENUE: 1.0})])],
            ignore_index=True,
        )
    return replace(t, financials=fin)


def _perturb_visits(t: Tables, snap: pd.Timestamp, rng: np.random.Generator) -> Tables:
    vis = t.visits.copy()
    future = _after(vis, S.VISIT_DATE, snap)
    for r in S.VISIT_RATINGS:
        vis.loc[future, r] = pd.array(rng.integers(1, 6, int(future.sum())), dtype="Int64")
    vis.loc[future, S.LAVISH_OFFICE] = True
    vis[S.VISIT_DATE] = _shift_later(vis[S.VISIT_DATE], future, rng)
    vis = _drop_some(vis, future, rng)
    new = [
        visit(
            f"ZZ{i}",
            str(rng.choice(t.customers[S.CUSTOMER_ID])),
            day(snap, int(rng.integers(0, 60))),
            rating=1,
        )
        for i in range(2)
    ]
    vis = pd.concat([vis, typed_frame(S.VISITS, new)], ignore_index=True)
    return replace(t, visits=vis)


def _perturb_events(t: Tables, snap: pd.Timestamp, rng: np.random.Generator) -> Tables:
    ev = t.events.copy()
    future = _after(ev, S.EVENT_DATE, snap)
    ev.loc[future, S.VALUE] = 1.0
    ev.loc[future, S.EVENT_TYPE] = str(rng.choice(S.EVENT_TYPES))
    ev[S.EVENT_DATE] = _shift_later(ev[S.EVENT_DATE], future, rng)
    ev = _drop_some(ev, future, rng)
    new = [
        event(
            f"ZZ{i}",
            str(rng.choice(t.customers[S.CUSTOMER_ID])),
            day(snap, int(rng.integers(0, 60))),
            kind,
            3.0,
        )
        for i, kind in enumerate(S.EVENT_TYPES)
    ]
    ev = pd.concat([ev, typed_frame(S.EVENTS, new)], ignore_index=True)
    return replace(t, events=ev)


def _perturb_defaults(t: Tables, snap: pd.Timestamp, rng: np.random.Generator) -> Tables:
    d = t.defaults.copy()
    future = (d[S.DEFAULT_DATE] > snap).to_numpy()
    d[S.DEFAULT_DATE] = _shift_later(d[S.DEFAULT_DATE], future, rng)
    d = _drop_some(d, future, rng)
    return replace(t, defaults=d)


def _perturb_history(t: Tables, snap: pd.Timestamp, rng: np.random.Generator) -> Tables:
    """Change, move later, drop and add customer_terms rows dated on or after S (and the extract values)."""
    th = t.customer_terms.copy()
    future = _after(th, S.VALID_FROM, snap)
    th.loc[future, S.CREDIT_LIMIT] = th.loc[future, S.CREDIT_LIMIT] * 7 + 3
    th.loc[future, S.PAYMENT_TERMS_DAYS] = 90
    th.loc[future, S.PAID_IN_CAPITAL] = 1.0
    th.loc[future, S.BUSINESS_SCOPE_OK] = ~th.loc[future, S.BUSINESS_SCOPE_OK]
    th.loc[future, S.ADDRESS_VERIFIED] = ~th.loc[future, S.ADDRESS_VERIFIED]
    th[S.VALID_FROM] = _shift_later(th[S.VALID_FROM], future, rng)
    th = _drop_some(th, future, rng)
    th = th.drop_duplicates([S.CUSTOMER_ID, S.VALID_FROM], keep="first")
    # a limit cut dated exactly on the snapshot, and one later: both unknown at S
    cid = str(rng.choice(t.customers[S.CUSTOMER_ID]))
    new = [terms_row(cid, day(snap, k), **{S.CREDIT_LIMIT: 0.0, S.PAYMENT_TERMS_DAYS: 14,
                                           S.BUSINESS_SCOPE_OK: False, S.ADDRESS_VERIFIED: False,
                                           S.PAID_IN_CAPITAL: 0.0})
           for k in (0, int(rng.integers(1, 90)))]
    th = th[~((th[S.CUSTOMER_ID] == cid) & th[S.VALID_FROM].isin(pd.to_datetime([r[S.VALID_FROM] for r in new])))]
    th = pd.concat([th, typed_frame(S.CUSTOMER_TERMS, new)], ignore_index=True)
    # the customers table's extract values are never read for features: change them all
    cust = t.customers.copy()
    cust[S.CREDIT_LIMIT] = cust[S.CREDIT_LIMIT] + 12345.0
    cust[S.PAYMENT_TERMS_DAYS] = 7
    cust[S.BUSINESS_SCOPE_OK] = ~cust[S.BUSINESS_SCOPE_OK]
    return replace(t, customers=cust, customer_terms=th.reset_index(drop=True))


PERTURB = {
    "history": _perturb_history,
    "payments": _perturb_invoices,
    "financials": _perturb_financials,
    "visits": _perturb_visits,
    "events": _perturb_events,
    "defaults": _perturb_defaults,
}


def _check_no_look_ahead(family: str, seed: int, snap_i: int, pseed: int) -> None:
    t = random_tables(_rng(seed), special=SPECIAL)
    snap = SNAPS[snap_i]
    changed = PERTURB[family](t, snap, _rng(pseed))
    pd.testing.assert_frame_equal(_upto(t, snap), _upto(changed, snap))


@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1), pseed=SEEDS)
def test_no_look_ahead_payments(seed, snap_i, pseed):
    _check_no_look_ahead("payments", seed, snap_i, pseed)


@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1), pseed=SEEDS)
def test_no_look_ahead_financials(seed, snap_i, pseed):
    _check_no_look_ahead("financials", seed, snap_i, pseed)


@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1), pseed=SEEDS)
def test_no_look_ahead_visits(seed, snap_i, pseed):
    _check_no_look_ahead("visits", seed, snap_i, pseed)


@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1), pseed=SEEDS)
def test_no_look_ahead_registration_and_events(seed, snap_i, pseed):
    _check_no_look_ahead("events", seed, snap_i, pseed)


@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1), pseed=SEEDS)
def test_no_look_ahead_customer_terms_history(seed, snap_i, pseed):
    _check_no_look_ahead("history", seed, snap_i, pseed)


@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1), pseed=SEEDS)
def test_no_look_ahead_population(seed, snap_i, pseed):
    _check_no_look_ahead("defaults", seed, snap_i, pseed)


@pytest.mark.parametrize("family", sorted(PERTURB))
def test_the_look_ahead_check_can_fail(family):
    """Negative control: the same perturbations of records before S do change the features."""
    snap = SNAPS[3]
    early = snap - pd.Timedelta(
        days=400
    )  # every record after this is perturbed as if it were in the future
    for seed in range(20):
        t = random_tables(_rng(seed), special=SPECIAL)
        changed = PERTURB[family](t, early, _rng(seed + 1))
        a, b = _upto(t, snap), _upto(changed, snap)
        if not a.equals(b):
            return
    pytest.fail(f"perturbing {family} records before the snapshot never changed a feature")


# ------------------------------------------------------------------ tenure
@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1))
def test_tenure_counts_from_onboarded_date_and_only_sees_the_past(seed, snap_i):
    """Tenure is months since onboarded_date at every snapshot after it, whatever the ledger holds
    (an extract that starts later, or invoices only after S, change nothing), and NaN before it."""
    t = random_tables(_rng(seed), special=SPECIAL)
    snap = SNAPS[snap_i]
    ten = _upto(t, snap).set_index([S.CUSTOMER_ID, S.SNAPSHOT_DATE])["pay_tenure_months"]
    onb = t.customers.set_index(S.CUSTOMER_ID)[S.ONBOARDED_DATE]
    for (cid, s), value in ten.items():
        if onb[cid] < s:
            assert value == pytest.approx((s - onb[cid]).days / (365.25 / 12))
        else:
            assert math.isnan(value)
    # the ledger cut off at S (no invoice issued before S): tenure is unchanged
    cut = t.invoices[t.invoices[S.INVOICE_DATE] >= snap]
    ten_cut = _upto(Tables(t.customers, cut, t.financials, t.visits, t.events, t.defaults), snap)
    pd.testing.assert_series_equal(ten.reset_index(drop=True), ten_cut["pay_tenure_months"],
                                   check_names=False)


# ------------------------------------------------ portfolio family (issue 9)
from feature_reference import reference_portfolio  # noqa: E402
from riskmodel.features.portfolio import portfolio_feature_names, portfolio_features  # noqa: E402

PTF = portfolio_feature_names()


def _ptf_upto(tables: Tables, snap: pd.Timestamp) -> pd.DataFrame:
    keys = build_features(tables, SNAPS, FS, population="all")[[S.CUSTOMER_ID, S.SNAPSHOT_DATE]]
    keys = keys[keys[S.SNAPSHOT_DATE] <= snap].reset_index(drop=True)
    return pd.concat([keys, portfolio_features(tables, keys)], axis=1)


def _perturb_book(t: Tables, snap: pd.Timestamp, rng: np.random.Generator) -> Tables:
    """Every ledger and default record on or after S changed, moved later, dropped or added."""
    return _perturb_defaults(_perturb_invoices(t, snap, rng), snap, rng)


@PROPS
@given(seed=SEEDS, snap_i=st.integers(0, len(SNAPS) - 1), pseed=SEEDS)
def test_no_look_ahead_portfolio(seed, snap_i, pseed):
    t = random_tables(_rng(seed), special=SPECIAL)
    snap = SNAPS[snap_i]
    changed = _perturb_book(t, snap, _rng(pseed))
    pd.testing.assert_frame_equal(_ptf_upto(t, snap), _ptf_upto(changed, snap))


def test_the_portfolio_look_ahead_check_can_fail():
    """Negative control: the same perturbation of records before S changes the portfolio features."""
    snap = SNAPS[3]
    for seed in range(20):
        t = random_tables(_rng(seed), special=SPECIAL)
        changed = _perturb_book(t, snap - pd.Timedelta(days=400), _rng(seed + 1))
        if not _ptf_upto(t, snap).equals(_ptf_upto(changed, snap)):
            return
    pytest.fail("perturbing ledger and default records before the snapshot never changed a portfolio feature")


@REFERENCE
@pytest.mark.slow
@given(seed=SEEDS)
def test_portfolio_matches_the_one_row_at_a_time_reference(seed):
    t = random_tables(_rng(seed), special=SPECIAL)
    df = _ptf_upto(t, SNAPS[-1])
    df = df[df[S.SNAPSHOT_DATE].isin(SNAPS[[1, 4]])]
    for row in df.head(12).itertuples(index=False):
        ref = reference_portfolio(t, row.customer_id, row.snapshot_date)
        got = row._asdict()
        for name in PTF:
            a, b = got[name], ref[name]
            if math.isnan(b):
                assert math.isnan(a), (name, row.customer_id, row.snapshot_date, a)
            else:
                assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (name, row.customer_id, row.snapshot_date)
