"""Reason codes: the template table, the ranking rule, sentence formatting, comparison points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskmodel.explain.comparison import comparison_points
from riskmodel.explain.reasons import NONE, ReasonFormatter, feature_phrase, rank_reasons
from riskmodel.explain.templates import (
    TEMPLATES,
    ReasonTemplate,
    display_key,
    format_value,
    render_body,
    render_comparison,
)
from riskmodel.features.dictionary import FEATURES


# ------------------------------------------------------------------ templates
@pytest.mark.parametrize("feature", list(FEATURES))
def test_every_feature_has_a_template(feature: str) -> None:
    assert feature in TEMPLATES, f"no reason template for {feature}: add one to riskmodel/explain/templates.py"
    t = TEMPLATES[feature]
    value = "construction" if t.kind == "category" else 1.0
    body = render_body(t, value if t.kind == "category" else display_key(t.kind, np.array([value]))[0])
    assert body and "{" not in body
    assert t.missing and render_body(t, None).endswith(t.missing)


def test_no_template_without_a_feature() -> None:
    assert set(TEMPLATES) - set(FEATURES) == set()


def test_template_refuses_a_text_without_value_and_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="value"):
        ReasonTemplate("no placeholder here", "count")
    with pytest.raises(ValueError, match="format kind"):
        ReasonTemplate("{value}", "bogus")
    with pytest.raises(ValueError, match="flag"):
        ReasonTemplate(kind="flag", yes="audited")


@pytest.mark.parametrize(("kind", "value", "shown"), [
    ("count", 3.0, "3"), ("days", 1.0, "1 day"), ("days", 45.4, "45 days"), ("money", 12345.0, "12.3k"),
    ("money", 2_500_000.0, "2.5m"), ("pct", 0.354, "35%"), ("pct", 0.057, "5.7%"), ("signed_pct", 0.12, "+12%"),
    ("ratio", 1.456, "1.46"), ("months", 0.2, "less than a month"), ("rating", 3.04, "3.0 / 5"),
    ("log_money", np.log1p(850_000.0), "850k"), ("signed_days", -0.04, "+0.0 days"),
])
def test_values_are_shown_rounded_once(kind: str, value: float, shown: str) -> None:
    key = display_key(kind, np.array([value]))[0]
    assert format_value(kind, key) == shown
    if kind != "log_money":  # its key is already in currency, not in logs
        assert display_key(kind, np.array([key]))[0] == key  # rounding is idempotent


def test_the_issue_example_reads_as_written() -> None:
    fmt = ReasonFormatter(["pay_n_late_60_12m"], {"pay_n_late_60_12m": "character"}, {"pay_n_late_60_12m": 0.0})
    X = pd.DataFrame({"pay_n_late_60_12m": [3.0, 1.0]})
    texts = fmt.format(np.array([[0], [0]]), X)
    assert texts[0, 0] == ("Character: 3 invoices paid more than 60 days late in the last 12 months "
                           "(portfolio median: 0).")
    assert texts[1, 0].startswith("Character: 1 invoice paid")  # singular


# -------------------------------------------------------------------- ranking
def test_top_four_up_and_two_down_ranked_by_contribution() -> None:
    c = np.array([[0.1, 0.9, -0.5, 0.3, 0.05, -0.7, 0.2, -0.1]])
    up, down = rank_reasons(c, 4, 2)
    assert up.tolist() == [[1, 3, 6, 0]]
    assert down.tolist() == [[5, 2]]


def test_ties_go_to_the_earlier_feature() -> None:
    c = np.array([[0.5, 0.5, 0.5, -0.2, -0.2], [0.0, 0.5, 0.5, 0.5, 0.5]])
    up, down = rank_reasons(c, 2, 1)
    assert up.tolist() == [[0, 1], [1, 2]]
    assert down.tolist() == [[3], [NONE]]


def test_fewer_reasons_when_not_enough_and_zero_is_no_reason() -> None:
    c = np.array([[0.0, 0.2, 0.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -3.0]])
    up, down = rank_reasons(c, 4, 2)
    assert up.tolist() == [[1, -1, -1, -1], [-1, -1, -1, -1], [-1, -1, -1, -1]]
    assert down.tolist() == [[-1, -1], [-1, -1], [2, 1]]


def test_ranking_matches_a_full_stable_sort_on_random_data() -> None:
    rng = np.random.default_rng(3)
    c = np.round(rng.normal(size=(500, 40)), 1)  # many ties
    up, down = rank_reasons(c, 4, 2)
    for i in range(len(c)):
        order = sorted(range(40), key=lambda j: (-c[i, j], j))
        expected = [j for j in order if c[i, j] > 0][:4]
        assert up[i][: len(expected)].tolist() == expected
        assert (up[i][len(expected):] == NONE).all()
        order_d = sorted(range(40), key=lambda j: (c[i, j], j))
        expected_d = [j for j in order_d if c[i, j] < 0][:2]
        assert down[i][: len(expected_d)].tolist() == expected_d


def test_ranking_refuses_nan_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="NaN"):
        rank_reasons(np.array([[np.nan, 1.0]]), 1, 1)
    with pytest.raises(ValueError, match="2-d"):
        rank_reasons(np.array([1.0, 2.0]), 1, 1)


# ----------------------------------------------------------------- formatting
def test_sentences_carry_the_customer_value_the_comparison_and_the_c() -> None:
    feats = ["pay_max_dpd_12m", "fin_equity_ratio", "reg_industry", "fin_audited"]
    c_of = {f: FEATURES[f].c for f in feats}
    comp = {"pay_max_dpd_12m": 12.0, "fin_equity_ratio": 0.31, "reg_industry": "services", "fin_audited": 0.62}
    fmt = ReasonFormatter(feats, c_of, comp)
    X = pd.DataFrame({
        "pay_max_dpd_12m": [84.0, np.nan],
        "fin_equity_ratio": [0.05, 0.4],
        "reg_industry": pd.Categorical(["construction", None], categories=["construction", "services"]),
        "fin_audited": [0.0, 1.0],
    })
    idx = np.array([[0, 1, 2, 3], [0, 3, -1, -1]])
    texts = fmt.format(idx, X)
    assert texts[0, 0] == "Character: worst payment delay of 84 days in the last 12 months (portfolio median: 12 days)."
    assert texts[0, 1] == "Capital: equity is 5% of total assets (portfolio median: 31%)."
    assert texts[0, 2] == "Conditions: industry: construction (most common in the portfolio: services)."
    assert texts[0, 3] == ("Character: latest financial statement is not audited "
                           "(62% of the portfolio has audited statements).")
    assert texts[1, 0] == ("Character: worst payment delay in 12 months not known: no invoice settled in the "
                           "last 12 months (portfolio median: 12 days).")
    assert texts[1, 1].startswith("Character: latest financial statement is audited")
    assert texts[1, 2] is None and texts[1, 3] is None


def test_format_reads_the_same_from_a_frame_and_from_the_code_matrix() -> None:
    feats = ["reg_region", "pay_overdue_amount"]
    levels = {"reg_region": ["north", "south"]}
    fmt = ReasonFormatter(feats, {f: FEATURES[f].c for f in feats}, {}, levels)
    X = pd.DataFrame({"reg_region": pd.Categorical(["south", None], categories=levels["reg_region"]),
                      "pay_overdue_amount": [12_340.0, 0.0]})
    M = np.array([[1.0, 12_340.0], [np.nan, 0.0]])
    idx = np.array([[0, 1], [0, 1]])
    assert (fmt.format(idx, X) == fmt.format(idx, M)).all()
    assert fmt.format(idx, M)[0, 1] == "Character: 12.3k overdue on our ledger (no portfolio comparison)."
    assert fmt.format(idx, M)[1, 0] == "Conditions: region unknown (no portfolio comparison)."


def test_records_hold_feature_c_contribution_value_and_text() -> None:
    fmt = ReasonFormatter(["evt_lawsuits_24m"], {"evt_lawsuits_24m": "character"}, {"evt_lawsuits_24m": 0.0})
    idx = np.array([0, -1])
    texts = fmt.format(idx.reshape(1, -1), pd.DataFrame({"evt_lawsuits_24m": [2.0]}))[0]
    rec = fmt.records(idx, np.array([0.42]), texts, [2.0])
    assert rec == [{"feature": "evt_lawsuits_24m", "c": "character", "contribution": 0.42, "value": 2.0,
                    "shown_value": "2 lawsuits", "comparison": "portfolio median: 0",
                    "text": "Character: 2 lawsuits filed against it in the last 24 months (portfolio median: 0)."}]
    assert feature_phrase("evt_lawsuits_24m", 1.0) == "1 lawsuit filed against it in the last 24 months"


# ---------------------------------------------------------- comparison points
def test_comparison_points_from_reference_bins() -> None:
    from riskmodel.export import reference_distributions

    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "pay_max_dpd_12m": rng.gamma(2.0, 10.0, 2001),
        "evt_lawsuits_24m": np.where(rng.random(2001) < 0.8, 0.0, 1.0),
        "fin_audited": (rng.random(2001) < 0.3).astype(float),
        "reg_business_scope_ok": (rng.random(2001) < 0.97).astype(float),
        "reg_industry": pd.Categorical(rng.choice(["retail", "services"], 2001, p=[0.3, 0.7])),
    })
    ref = reference_distributions(X, rng.random(2001), {"reg_industry": ["retail", "services"]}, n_bins=10)
    points = comparison_points(ref, list(X.columns) + ["not_in_reference"])
    assert points["pay_max_dpd_12m"] == pytest.approx(float(np.median(X["pay_max_dpd_12m"])), rel=1e-9)
    assert points["evt_lawsuits_24m"] == 0.0
    assert points["fin_audited"] == pytest.approx(float(X["fin_audited"].mean()), abs=1e-12)
    assert points["reg_business_scope_ok"] == "most"  # over 90% ones: the deciles cannot tell 0 from 1
    assert points["reg_industry"] == "services"
    assert np.isnan(points["not_in_reference"])
    assert render_comparison(TEMPLATES["reg_business_scope_ok"], "most") == \
        "most of the portfolio trades within scope"
