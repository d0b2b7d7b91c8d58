"""Point-in-time features, labels and the data dictionary on small hand-built tables."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from feature_fixtures import customer, day, default, event, invoice, make_tables, statement, visit
from riskmodel.config import FeatureSettings, SnapshotSettings
from riskmodel.data import schemas as S
from riskmodel.exceptions import ConfigError, SchemaError, UnknownCustomerError
from riskmodel.features import build_features, build_labels, build_modelling_table, snapshot_dates
from riskmodel.features.dictionary import (
    FEATURES,
    PORTFOLIO_FEATURES,
    data_dictionary,
    data_dictionary_markdown,
    feature_families,
)

FS = FeatureSettings()
SNAP = pd.Timestamp("2021-06-30")
MONTH = 365.25 / 12


def one(tables, snap=SNAP, settings=FS, cid="A", population="all") -> pd.Series:
    """The feature row of one customer at one snapshot."""
    df = build_features(tables, [snap], settings, population=population)
    row = df[df[S.CUSTOMER_ID] == cid]
    assert len(row) == 1
    return row.iloc[0]


# ------------------------------------------------------------------ snapshots
def test_snapshot_dates_are_quarter_ends_inclusive():
    dates = snapshot_dates(SnapshotSettings(start=dt.date(2020, 3, 31), end=dt.date(2021, 3, 31)))
    assert [d.date().isoformat() for d in dates] == [
        "2020-03-31",
        "2020-06-30",
        "2020-09-30",
        "2020-12-31",
        "2021-03-31",
    ]
    assert dates.dtype == "datetime64[ns]"


def test_snapshot_dates_monthly_and_empty_range_refused():
    monthly = snapshot_dates(
        SnapshotSettings(start=dt.date(2020, 1, 15), end=dt.date(2020, 3, 31), frequency="month")
    )
    assert list(monthly.day) == [31, 29, 31]
    with pytest.raises(ConfigError, match="no quarter end"):
        snapshot_dates(SnapshotSettings(start=dt.date(2020, 4, 1), end=dt.date(2020, 6, 29)))


# ------------------------------------------------------------------ payments
def test_late_counts_dpd_and_share_on_hand_computed_invoices():
    # three invoices settled in the last year: 61, 70 and 5 days late; one settled on time
    invs = [
        invoice("I1", "A", "2020-09-01", "2020-10-01", 100.0, day("2020-10-01", 61)),
        invoice("I2", "A", "2020-10-01", "2020-10-31", 200.0, day("2020-10-31", 70)),
        invoice("I3", "A", "2021-01-01", "2021-01-31", 300.0, day("2021-01-31", 5)),
        invoice("I4", "A", "2021-02-01", "2021-03-03", 400.0, "2021-03-01"),
    ]
    row = one(make_tables([customer("A")], invs))
    assert row["pay_n_late_30_12m"] == 2
    assert row["pay_n_late_60_12m"] == 2
    assert row["pay_n_late_90_12m"] == 0
    assert row["pay_max_dpd_12m"] == 70
    assert row["pay_mean_dpd_12m"] == pytest.approx((61 + 70 + 5 + 0) / 4)
    assert row["pay_share_late_12m"] == pytest.approx(0.75)
    assert row["pay_n_invoices_12m"] == 4 and row["pay_amount_12m"] == 1000.0
    assert row["pay_n_invoices_3m"] == 0 and row["pay_amount_3m"] == 0.0
    assert row["pay_open_amount"] == 0.0 and row["pay_overdue_amount"] == 0.0
    # latest late settlement: I3 paid 2021-02-05
    assert row["pay_months_since_late"] == pytest.approx(
        (SNAP - pd.Timestamp("2021-02-05")).days / MONTH
    )
    assert row["pay_months_since_last_invoice"] == pytest.approx(
        (SNAP - pd.Timestamp("2021-02-01")).days / MONTH
    )
    # tenure counts from onboarded_date (2018-01-01), not from the first invoice in the extract
    assert row["pay_tenure_months"] == pytest.approx(
        (SNAP - pd.Timestamp("2018-01-01")).days / MONTH
    )


def test_payment_on_the_snapshot_is_unknown_so_the_invoice_is_open():
    invs = [
        invoice(
            "I1", "A", "2021-05-01", "2021-05-31", 100.0, "2021-06-30"
        ),  # paid on S: unknown at S
        invoice(
            "I2", "A", "2021-05-02", "2021-06-01", 50.0, "2021-06-29"
        ),  # paid the day before: settled
    ]
    row = one(make_tables([customer("A")], invs))
    assert row["pay_open_amount"] == 100.0
    assert row["pay_overdue_amount"] == 100.0 and row["pay_overdue_1_30"] == 100.0
    # only I2 is settled (28 days late)
    assert row["pay_max_dpd_12m"] == 28 and row["pay_mean_dpd_12m"] == 28
    assert row["pay_utilisation"] == pytest.approx(100.0 / 50_000)


def test_aging_buckets_and_due_on_the_snapshot_not_overdue():
    invs = [
        invoice("I0", "A", "2021-06-01", "2021-06-30", 1.0),  # due on S: age 0, not overdue
        invoice("I1", "A", "2021-05-01", "2021-06-29", 10.0),  # 1 day past due
        invoice("I2", "A", "2021-04-01", day("2021-06-30", -31), 100.0),  # 31 days
        invoice("I3", "A", "2021-03-01", day("2021-06-30", -90), 1000.0),  # 90 days
        invoice(
            "I4", "A", "2021-01-01", day("2021-06-30", -91), 10000.0, "2021-07-15"
        ),  # 91 days, paid later
    ]
    row = one(make_tables([customer("A")], invs))
    assert row["pay_overdue_1_30"] == 10.0
    assert row["pay_overdue_31_60"] == 100.0
    assert row["pay_overdue_61_90"] == 1000.0
    assert row["pay_overdue_90p"] == 10000.0
    assert row["pay_overdue_amount"] == 11110.0 and row["pay_open_amount"] == 11111.0
    assert row["pay_overdue_share"] == pytest.approx(11110.0 / 11111.0)
    # the oldest overdue invoice (I4) fell due 91 days ago and nothing was settled late
    assert row["pay_months_since_late"] == pytest.approx(91 / MONTH)
    assert math.isnan(row["pay_max_dpd_12m"])  # nothing settled yet


def test_window_starts_at_s_minus_w_months_inclusive():
    invs = [
        invoice("I1", "A", "2021-03-30", amount=1.0),  # = 30 June - 3 months: inside
        invoice("I2", "A", "2021-03-29", amount=2.0),  # one day earlier: outside
        invoice("I3", "A", "2021-06-30", amount=4.0),
    ]  # on S: not yet known
    row = one(make_tables([customer("A")], invs))
    assert row["pay_amount_3m"] == 1.0 and row["pay_n_invoices_3m"] == 1
    assert row["pay_amount_6m"] == 3.0


def test_dpd_trend_and_zero_credit_limit_is_capped():
    invs = [
        invoice(
            "I1", "A", "2020-06-01", "2020-08-01", paid="2020-08-21"
        ),  # settled 10 months ago, 20 late
        invoice(
            "I2", "A", "2021-02-01", "2021-03-01", paid="2021-03-03"
        ),  # settled 4 months ago, 2 late
        invoice("I3", "A", "2021-06-01", "2021-07-01"),
    ]  # open
    row = one(make_tables([customer("A", **{S.CREDIT_LIMIT: 0.0})], invs))
    assert row["pay_dpd_trend"] == pytest.approx(2 - 20)
    assert row["pay_utilisation"] == 100.0  # open amount over a zero limit: the documented cap


def test_customer_without_invoices_has_zero_counts_and_nan_dpd():
    row = one(make_tables([customer("A")]))
    assert row["pay_n_invoices_24m"] == 0 and row["pay_open_amount"] == 0
    assert math.isnan(row["pay_mean_dpd_12m"]) and math.isnan(row["pay_months_since_late"])
    # a customer opened before the snapshot has a tenure even without invoices in the extract
    assert row["pay_tenure_months"] == pytest.approx((SNAP - pd.Timestamp("2018-01-01")).days / MONTH)


# ---------------------------------------------------------------- financials
def test_statement_within_publication_lag_is_not_visible():
    fin = [
        statement("A", "2020-12-31", **{S.REVENUE: 800_000.0}),
        statement("A", "2021-03-31", **{S.REVENUE: 2_000_000.0}),
    ]  # known 2021-06-30 = S: not before S
    t = make_tables([customer("A")], financials=fin)
    row = one(t)
    assert row["fin_has_statement"] == 1.0
    assert row["fin_log_revenue"] == pytest.approx(math.log1p(800_000.0))
    assert row["fin_statement_age_months"] == pytest.approx(
        (SNAP - pd.Timestamp("2020-12-31")).days / MONTH
    )
    later = one(t, snap=pd.Timestamp("2021-07-01"))
    assert later["fin_log_revenue"] == pytest.approx(math.log1p(2_000_000.0))
    assert later["fin_revenue_growth"] == pytest.approx(2_000_000 / 800_000 - 1)
    none = one(make_tables([customer("A")], financials=fin[1:]))
    assert none["fin_has_statement"] == 0.0 and math.isnan(none["fin_leverage"])


def test_financial_ratios_and_altman_z2_by_hand():
    row = one(make_tables([customer("A")], financials=[statement("A", "2020-06-30")]))
    ta, tl, eq = 500_000.0, 300_000.0, 200_000.0
    assert row["fin_leverage"] == pytest.approx(tl / ta)
    assert row["fin_equity_ratio"] == pytest.approx(eq / ta)
    assert row["fin_current_ratio"] == pytest.approx(1.5)
    assert row["fin_quick_ratio"] == pytest.approx(1.0)
    assert row["fin_cash_ratio"] == pytest.approx(0.25)
    assert row["fin_interest_cover"] == pytest.approx(4.0)
    assert row["fin_ebit_margin"] == pytest.approx(0.08)
    assert row["fin_net_margin"] == pytest.approx(0.05)
    assert row["fin_roa"] == pytest.approx(0.1)
    assert row["fin_cfo_to_debt"] == pytest.approx(0.2)
    z = 6.56 * (100_000 / ta) + 3.26 * (120_000 / ta) + 6.72 * (80_000 / ta) + 1.05 * (eq / tl)
    assert row["fin_altman_z2"] == pytest.approx(z)
    assert row["fin_audited"] == 1.0
    assert math.isnan(row["fin_revenue_growth"])  # no previous statement


def test_financial_zero_denominators_give_caps_or_nan_never_inf():
    fin = [
        statement("A", "2019-12-31", **{S.REVENUE: 0.0}),
        statement(
            "A",
            "2020-06-30",
            **{
                S.CURRENT_LIABILITIES: 0.0,
                S.INTEREST_EXPENSE: 0.0,
                S.TOTAL_ASSETS: 0.0,
                S.REVENUE: 0.0,
            },
        ),
    ]
    row = one(make_tables([customer("A")], financials=fin))
    assert row["fin_current_ratio"] == 100.0 and row["fin_interest_cover"] == 100.0
    for name in (
        "fin_leverage",
        "fin_roa",
        "fin_altman_z2",
        "fin_ebit_margin",
        "fin_revenue_growth",
    ):
        assert math.isnan(row[name]), name


# -------------------------------------------------------------------- visits
def test_visit_latest_ratings_trend_and_red_flags():
    vis = [
        visit("V1", "A", "2019-01-15", rating=5),  # older than 24 months: only counts as history
        visit("V2", "A", "2020-03-01", rating=4),
        visit(
            "V3", "A", "2021-01-10", rating=2, **{S.LAVISH_OFFICE: True, S.LICENCE_CHECKED: False}
        ),
        visit("V4", "A", "2021-07-01", rating=1),  # after S
    ]
    row = one(make_tables([customer("A")], visits=vis))
    assert row["vis_last_disclosure"] == 2 and row["vis_last_mean_rating"] == 2
    assert row["vis_n_visits_24m"] == 2
    assert row["vis_mean_rating_24m"] == pytest.approx(3.0)
    assert row["vis_rating_trend"] == pytest.approx(2 - 4)
    assert row["vis_months_since_last"] == pytest.approx(
        (SNAP - pd.Timestamp("2021-01-10")).days / MONTH
    )
    assert row["vis_lavish_office_24m"] == 1.0
    assert row["vis_licence_checked_share_24m"] == pytest.approx(0.5)
    # V3: lavish + licence not checked + disclosure <= 2 ; V2: none
    assert row["vis_red_flags_24m"] == 3


def test_visit_missing_ratings_and_same_day_tie_uses_highest_id():
    vis = [
        visit("V1", "A", "2021-05-01", rating=None, **{S.CORRESPONDENCE: 4, S.MANAGEMENT: 2}),
        visit("V0", "A", "2021-05-01", rating=5),
    ]
    row = one(make_tables([customer("A")], visits=vis))
    assert row["vis_last_correspondence"] == 4 and math.isnan(row["vis_last_premises"])
    assert row["vis_last_mean_rating"] == pytest.approx(3.0)
    assert row["vis_rating_trend"] == pytest.approx(3.0 - 5.0)


# -------------------------------------------------------- registration/events
def test_registration_features_and_categories():
    c = customer(
        "A",
        **{
            S.FOUNDED_DATE: "2011-06-30",
            S.PAID_IN_CAPITAL: 25_000.0,
            S.REGISTERED_CAPITAL: 100_000.0,
            S.INDUSTRY: "transport",
            S.BUSINESS_SCOPE_OK: False,
        },
    )
    df = build_features(make_tables([c, customer("B")]), [SNAP], FS)
    row = df.iloc[0]
    assert row["reg_firm_age_years"] == pytest.approx(
        (SNAP - pd.Timestamp("2011-06-30")).days / 365.25
    )
    assert row["reg_paid_in_ratio"] == pytest.approx(0.25)
    assert row["reg_business_scope_ok"] == 0.0 and df.iloc[1]["reg_business_scope_ok"] == 1.0
    assert row["reg_log_credit_limit"] == pytest.approx(math.log1p(50_000))
    assert row["reg_industry"] == "transport"
    assert list(df["reg_industry"].cat.categories) == list(S.INDUSTRIES)
    assert list(df["reg_legal_form"].cat.categories) == list(S.LEGAL_FORMS)


def test_event_counts_references_and_collateral():
    evs = [
        event("E1", "A", "2020-07-01", "lawsuit", 5000.0),  # inside 12m (S - 12m = 2020-06-30)
        event("E2", "A", "2020-06-29", "lawsuit", 5000.0),  # inside 24m only
        event("E3", "A", "2021-06-30", "lawsuit", 5000.0),  # on S: not known
        event("E4", "A", "2021-01-01", "tax_arrears", 100.0),
        event("E5", "A", "2020-01-01", "bank_reference", 4.0),
        event("E6", "A", "2021-02-01", "bank_reference", 2.0),
        event("E7", "A", "2020-01-01", "trade_reference", 5.0),
        event("E8", "A", "2021-01-01", "trade_reference", 2.0),
        event("E9", "A", "2019-01-01", "trade_reference", 1.0),  # older than 24 months
        event("EA", "A", "2020-01-01", "collateral_pledged", 30_000.0),
        event("EB", "A", "2020-05-01", "collateral_released", 10_000.0),
        event("EC", "A", "2021-03-01", "agency_rating", 7.0),
    ]
    row = one(make_tables([customer("A")], events=evs))
    assert row["evt_lawsuits_12m"] == 1 and row["evt_lawsuits_24m"] == 2
    assert row["evt_tax_arrears_12m"] == 1 and row["evt_tax_arrears_24m"] == 1
    assert row["evt_bank_ref_last"] == 2.0
    assert row["evt_trade_ref_mean_24m"] == pytest.approx(3.5)
    assert row["evt_agency_rating_last"] == 7.0
    assert row["evt_collateral_value"] == 20_000.0
    assert row["evt_collateral_to_limit"] == pytest.approx(0.4)


def test_collateral_released_beyond_pledged_is_zero():
    evs = [
        event("E1", "A", "2020-01-01", "collateral_pledged", 0.1),
        event("E2", "A", "2020-01-02", "collateral_pledged", 0.2),
        event("E3", "A", "2020-02-01", "collateral_released", 0.3),
        event("E4", "A", "2020-03-01", "collateral_released", 50.0),
    ]
    row = one(make_tables([customer("A")], events=evs))
    assert row["evt_collateral_value"] == 0.0 and row["evt_collateral_to_limit"] == 0.0


# --------------------------------------------------------- population/labels
def _label_tables():
    custs = [customer(c) for c in ("IN", "ON_S", "AT_H", "AFTER_H", "BEFORE", "NEVER")]
    custs.append(customer("NEW", **{S.ONBOARDED_DATE: "2021-06-30"}))  # onboarded on S: not yet
    defs = [
        default("IN", "2021-12-01"),
        default("ON_S", "2021-06-30"),
        default("AT_H", "2022-06-30"),
        default("AFTER_H", "2022-07-01"),
        default("BEFORE", "2021-01-01"),
        default("BEFORE", "2021-09-01", "write_off"),
    ]
    return make_tables(custs, defaults=defs)


def test_labels_on_hand_built_cases():
    t = _label_tables()
    keys = pd.DataFrame(
        {
            S.CUSTOMER_ID: ["IN", "AT_H", "AFTER_H", "NEVER", "ON_S"],
            S.SNAPSHOT_DATE: pd.to_datetime([SNAP] * 5),
        },
        index=[10, 11, 12, 13, 14],
    )
    y = build_labels(t, keys, 12)
    assert y.name == S.LABEL and list(y.index) == [10, 11, 12, 13, 14]
    assert list(y) == [
        1,
        1,
        0,
        0,
        0,
    ]  # inside, exactly at S + 12m, one day after, never, on S (in default)
    with pytest.raises(UnknownCustomerError, match="GHOST"):
        build_labels(t, pd.DataFrame({S.CUSTOMER_ID: ["GHOST"], S.SNAPSHOT_DATE: [SNAP]}), 12)


def test_eligible_population_and_all_with_status():
    t = _label_tables()
    elig = build_features(t, [SNAP], FS)
    assert list(elig[S.CUSTOMER_ID]) == [
        "AFTER_H",
        "AT_H",
        "IN",
        "NEVER",
    ]  # sorted; ON_S, BEFORE, NEW out
    everyone = build_features(t, [SNAP], FS, population="all")
    status = dict(zip(everyone[S.CUSTOMER_ID], everyone["population_status"].astype(str)))
    assert status == {
        "AFTER_H": "eligible",
        "AT_H": "eligible",
        "BEFORE": "in_default",
        "IN": "eligible",
        "NEVER": "eligible",
        "NEW": "not_yet_onboarded",
        "ON_S": "in_default",
    }
    # a customer defaulted before the snapshot is not in the modelling table
    mt = build_modelling_table(
        t,
        SnapshotSettings(start=dt.date(2021, 6, 30), end=dt.date(2021, 6, 30)),
        FS,
        allow_partial_labels=True,
    )
    assert "BEFORE" not in set(mt[S.CUSTOMER_ID])
    assert dict(zip(mt[S.CUSTOMER_ID], mt[S.LABEL])) == {
        "AFTER_H": 0,
        "AT_H": 1,
        "IN": 1,
        "NEVER": 0,
    }


def test_modelling_table_refuses_incomplete_labels_and_is_sorted():
    invs = [invoice("I1", "A", "2019-01-05", paid="2019-02-01"), invoice("I2", "B", "2021-12-31")]
    t = make_tables([customer("B"), customer("A")], invs)  # data ends 2021-12-31
    ok = SnapshotSettings(start=dt.date(2020, 9, 30), end=dt.date(2020, 12, 31))
    mt = build_modelling_table(t, ok, FS)
    assert list(mt.columns[:3]) == [S.CUSTOMER_ID, S.SNAPSHOT_DATE, S.LABEL]
    assert list(zip(mt[S.SNAPSHOT_DATE].dt.date.astype(str), mt[S.CUSTOMER_ID])) == [
        ("2020-09-30", "A"),
        ("2020-09-30", "B"),
        ("2020-12-31", "A"),
        ("2020-12-31", "B"),
    ]
    assert mt[S.LABEL].dtype == np.int64
    too_late = SnapshotSettings(start=dt.date(2020, 9, 30), end=dt.date(2021, 3, 31))
    with pytest.raises(ConfigError, match="2021-03-31.*past the end of the data"):
        build_modelling_table(t, too_late, FS)
    assert len(build_modelling_table(t, too_late, FS, allow_partial_labels=True)) == 6


# ---------------------------------------------------------------- dictionary
def test_dictionary_covers_exactly_the_built_columns_with_valid_families_and_cs():
    t = make_tables(
        [customer("A"), customer("B")],
        [invoice("I1", "A", "2021-01-01")],
        [statement("A", "2020-06-30")],
        [visit("V1", "A", "2021-01-01")],
        [event("E1", "B", "2021-01-01", "lawsuit", 1.0)],
    )
    df = build_features(t, [SNAP, pd.Timestamp("2021-03-31")], FS)
    assert list(df.columns) == [S.CUSTOMER_ID, S.SNAPSHOT_DATE, *FEATURES]
    for name, info in FEATURES.items():
        assert info.c in ("character", "capacity", "capital", "collateral", "conditions"), name
        assert info.family in ("payments", "financials", "visits", "registration"), name
        assert info.description and info.unit, name
        expected = (
            "category" if name in ("reg_industry", "reg_region", "reg_legal_form") else "float64"
        )
        assert str(df[name].dtype) == expected, name
    num = df[list(FEATURES)].select_dtypes("number").to_numpy()
    assert not np.isinf(num).any()
    fam = feature_families()
    assert sum(len(v) for v in fam.values()) == len(FEATURES)
    assert all(n.startswith("pay_") for n in fam["payments"])
    dd = data_dictionary()
    assert list(dd["feature"]) == [*FEATURES, *PORTFOLIO_FEATURES] and set(dd["c"]) <= set(
        ("character", "capacity", "capital", "collateral", "conditions")
    )
    assert "`pay_n_late_60_12m`" in data_dictionary_markdown()


def test_settings_change_the_window_and_threshold_names():
    fs = FeatureSettings(windows_months=(1, 12), late_thresholds_days=(15,))
    df = build_features(
        make_tables([customer("A")], [invoice("I1", "A", "2021-06-10", paid="2021-06-20")]),
        [SNAP],
        fs,
    )
    assert {"pay_n_invoices_1m", "pay_amount_12m", "pay_n_late_15_12m"} <= set(df.columns)
    assert "pay_n_invoices_3m" not in df.columns
    assert df["pay_n_invoices_1m"].iloc[0] == 1
    with pytest.raises(ConfigError, match="windows_months"):
        build_features(
            make_tables([customer("A")]), [SNAP], FeatureSettings(windows_months=(0, 12))
        )


# ----------------------------------------------------------------- bad input
def test_unknown_customer_in_a_table_is_refused_with_table_and_ids():
    t = make_tables([customer("A")], [invoice("I1", "GHOST", "2021-01-01")])
    with pytest.raises(SchemaError, match=r"invoices\.customer_id.*GHOST"):
        build_features(t, [SNAP], FS)
    with pytest.raises(ConfigError, match="at least one snapshot"):
        build_features(make_tables([customer("A")]), [], FS)


def test_inputs_are_not_mutated():
    t = make_tables(
        [customer("B"), customer("A")],
        [invoice("I1", "A", "2021-01-01", paid="2021-03-01")],
        visits=[visit("V1", "A", "2021-01-01")],
    )
    before = {k: v.copy() for k, v in t.as_dict().items()}
    build_features(t, [SNAP], FS)
    for k, v in t.as_dict().items():
        pd.testing.assert_frame_equal(v, before[k])


def test_unknown_event_type_is_refused_not_dropped():
    t = make_tables([customer("A")], events=[event("E1", "A", "2021-01-01", "lawsuit", 1.0)])
    ev = t.events.assign(**{S.EVENT_TYPE: pd.Series(["gossip"], dtype="str")})
    bad = type(t)(t.customers, t.invoices, t.financials, t.visits, ev, t.defaults)
    with pytest.raises(SchemaError, match=r"events\.event_type.*gossip"):
        build_features(bad, [SNAP], FS)


# ------------------------------------------------- history of customer facts
def _history_case(terms_rows):
    from feature_fixtures import terms_row

    cust = customer("A", **{S.ONBOARDED_DATE: "2019-01-01", S.REGISTERED_CAPITAL: 100_000.0,
                            S.CREDIT_LIMIT: 1_000.0, S.PAYMENT_TERMS_DAYS: 14})  # extract: already cut
    inv = [invoice("I1", "A", "2021-05-01", "2021-05-31", 5_000.0, None)]
    ev = [event("E1", "A", "2020-01-01", "collateral_pledged", 20_000.0)]
    return make_tables([cust], inv, events=ev, terms=[terms_row("A", d, **v) for d, v in terms_rows])


def test_history_facts_take_the_latest_row_before_the_snapshot():
    before = {S.CREDIT_LIMIT: 40_000.0, S.PAYMENT_TERMS_DAYS: 60, S.PAID_IN_CAPITAL: 50_000.0,
              S.BUSINESS_SCOPE_OK: True, S.ADDRESS_VERIFIED: False}
    t = _history_case([("2019-01-01", {**before, S.CREDIT_LIMIT: 10_000.0}), ("2020-06-01", before)])
    r = one(t)
    assert r["reg_log_credit_limit"] == pytest.approx(math.log1p(40_000.0))
    assert r["reg_payment_terms_days"] == 60 and r["reg_paid_in_ratio"] == pytest.approx(0.5)
    assert r["reg_business_scope_ok"] == 1.0 and r["reg_address_verified"] == 0.0
    assert r["pay_utilisation"] == pytest.approx(5_000.0 / 40_000.0)
    assert r["evt_collateral_to_limit"] == pytest.approx(0.5)
    # the customers table's extract values (limit 1,000, 14 days) are never read
    assert r["reg_payment_terms_days"] != 14


def test_a_limit_cut_after_the_snapshot_does_not_change_any_feature():
    base = [("2019-01-01", {S.CREDIT_LIMIT: 40_000.0, S.PAYMENT_TERMS_DAYS: 60})]
    cut = {S.CREDIT_LIMIT: 0.0, S.PAYMENT_TERMS_DAYS: 14, S.BUSINESS_SCOPE_OK: False}
    plain = build_features(_history_case(base), [SNAP], FS, population="all")
    for when in (SNAP.date().isoformat(), "2021-07-15"):  # on the snapshot itself, and after it
        later = build_features(_history_case([*base, (when, cut)]), [SNAP], FS, population="all")
        pd.testing.assert_frame_equal(plain, later)
    # negative control: the same cut the day before the snapshot is seen
    seen = one(_history_case([*base, ("2021-06-29", cut)]))
    assert seen["reg_log_credit_limit"] == 0.0 and seen["reg_payment_terms_days"] == 14
    assert seen["pay_utilisation"] == 100.0 and seen["reg_business_scope_ok"] == 0.0


def test_before_the_first_history_row_the_facts_are_missing():
    r = one(_history_case([("2021-09-01", {S.CREDIT_LIMIT: 40_000.0})]))
    for name in ("reg_log_credit_limit", "reg_payment_terms_days", "reg_paid_in_ratio", "reg_business_scope_ok",
                 "reg_address_verified", "pay_utilisation", "evt_collateral_to_limit"):
        assert math.isnan(r[name]), name
    assert not math.isnan(r["reg_firm_age_years"])  # static registration facts are still there


def test_without_history_the_history_features_are_unavailable(caplog):
    from riskmodel.features.build import unavailable_features
    from riskmodel.features.registration import HISTORY_FEATURES

    with_h = _history_case([("2019-01-01", {S.CREDIT_LIMIT: 40_000.0})])
    without = make_tables(with_h.customers.to_dict("records"), with_h.invoices.to_dict("records"),
                          events=with_h.events.to_dict("records"), terms=None)
    assert unavailable_features(with_h) == () and set(unavailable_features(without)) == set(HISTORY_FEATURES)
    with caplog.at_level("WARNING", logger="riskmodel.features.build"):
        a = build_features(without, [SNAP], FS, population="all")
    assert "no customer_terms table" in caplog.text and "reg_log_credit_limit" in caplog.text
    b = build_features(with_h, [SNAP], FS, population="all")
    assert a[list(HISTORY_FEATURES)].isna().all().all() and b[list(HISTORY_FEATURES)].notna().all().all()
    others = [c for c in a.columns if c not in HISTORY_FEATURES]
    pd.testing.assert_frame_equal(a[others], b[others])


def test_facts_as_of_is_the_current_value_known_before_the_date():
    from riskmodel.features.build import facts_as_of

    t = _history_case([("2019-01-01", {S.CREDIT_LIMIT: 40_000.0, S.PAYMENT_TERMS_DAYS: 60}),
                       ("2021-03-01", {S.CREDIT_LIMIT: 20_000.0, S.PAYMENT_TERMS_DAYS: 30})])
    assert facts_as_of(t, ["A"], "2021-03-01").loc["A", S.CREDIT_LIMIT] == 40_000.0  # not yet known
    assert facts_as_of(t, ["A"], "2021-03-02").loc["A", S.CREDIT_LIMIT] == 20_000.0
    assert math.isnan(facts_as_of(t, ["A"], "2018-12-31").loc["A", S.PAYMENT_TERMS_DAYS])
