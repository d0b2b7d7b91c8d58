"""The 5C expert scorecard: points, credit level, sub-scores and contributions against hand-computed cases."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from riskmodel.config import Indicator
from riskmodel.models import baseline as baseline_module
from riskmodel.models.baseline import FiveCScorecard, indicator_points


def _ind(**kw) -> Indicator:
    base = {"feature": "f", "c": "character", "weight": 1.0}
    return Indicator(**{**base, **kw})


def test_numeric_bins_are_right_closed_with_explicit_points() -> None:
    ind = _ind(cuts=(0, 30, 60), points=(10, 7, 4, 1))
    x = pd.Series([-5, 0, 0.001, 30, 30.5, 60, 61, np.nan])
    # bin i = (cuts[i-1], cuts[i]]: 0 -> bin 0, 30 -> bin 1, 60 -> bin 2, above 60 -> bin 3
    assert indicator_points(ind, x).tolist() == [10, 10, 7, 7, 4, 4, 1, 5]


def test_direction_spreads_points_linearly_from_1_to_10() -> None:
    up = _ind(cuts=(1, 2, 3), direction="higher_is_better", missing_points=2)
    down = _ind(cuts=(1, 2, 3), direction="lower_is_better")
    x = pd.Series([0.5, 1.5, 2.5, 3.5, None], dtype="float64")
    assert indicator_points(up, x).tolist() == [1, 4, 7, 10, 2]
    assert indicator_points(down, x).tolist() == [10, 7, 4, 1, 5]


def test_categories_map_by_string_and_unknown_or_missing_get_missing_points() -> None:
    ind = _ind(categories={"retail": 5, "services": 8, "2": 9}, missing_points=3)
    x = pd.Series(["services", "retail", None, "mining"], dtype="category")
    assert indicator_points(ind, x).tolist() == [8, 5, 3, 3]
    # numeric codes look up their integer string ("2.0" -> "2")
    assert indicator_points(ind, pd.Series([2.0, 3.0, np.nan])).tolist() == [9, 3, 3]


def test_cut_points_on_a_categorical_column_are_refused() -> None:
    with pytest.raises(ValueError, match="categorical"):
        indicator_points(_ind(cuts=(1,), points=(1, 10)), pd.Series(["a"], dtype="category"))


@pytest.fixture
def scorecard_data() -> tuple[tuple[Indicator, ...], pd.DataFrame, np.ndarray]:
    inds = (
        Indicator(feature="dpd", c="character", weight=3, cuts=(0, 30), points=(10, 5, 1), missing_points=4),
        Indicator(feature="cover", c="capacity", weight=2, cuts=(1.0,), direction="higher_is_better"),
        Indicator(feature="industry", c="conditions", weight=1, categories={"a": 8, "b": 2}, missing_points=5),
    )
    X = pd.DataFrame({
        "dpd": [0.0, 45.0, 10.0, np.nan],
        "cover": [2.0, 0.5, 1.0, 3.0],
        "industry": pd.Categorical(["a", "b", None, "a"]),
        "ignored": ["x", "y", "z", "w"],  # extra columns are ignored
    })
    return inds, X, np.array([0, 1, 1, 0])


def test_credit_level_sub_scores_and_contributions_by_hand(scorecard_data) -> None:
    inds, X, y = scorecard_data
    m = FiveCScorecard(inds).fit(X, y)
    pts = m.points(X)
    assert pts.to_numpy().tolist() == [[10, 10, 8], [1, 1, 2], [5, 1, 5], [4, 10, 8]]
    # level = sum(w s) / sum(w 10) with weights 3, 2, 1 -> denominator 60
    expected = np.array([30 + 20 + 8, 3 + 2 + 2, 15 + 2 + 5, 12 + 20 + 8]) / 60
    np.testing.assert_allclose(m.credit_level(X), expected)
    subs = m.sub_scores(X)
    assert list(subs.columns) == ["character", "capacity", "conditions"]
    np.testing.assert_allclose(subs["character"], [1.0, 0.1, 0.5, 0.4])
    np.testing.assert_allclose(subs["capacity"], [1.0, 0.1, 0.1, 1.0])
    np.testing.assert_allclose(subs["conditions"], [0.8, 0.2, 0.5, 0.8])
    contrib = m.contributions(X)
    mean_pts = np.array([5.0, 5.5, 5.75])
    np.testing.assert_allclose(contrib.to_numpy(), (mean_pts - pts.to_numpy()) * [3, 2, 1] / 60)
    # expected value + contributions = 1 - credit level (the risk level)
    np.testing.assert_allclose(m.expected_value_ + contrib.sum(axis=1), 1 - expected)
    np.testing.assert_allclose(m.max_points_gap(X).iloc[1], [27, 18, 8])


def test_fit_learns_a_decreasing_pd_from_the_credit_level(scorecard_data) -> None:
    inds, X, _ = scorecard_data
    rng = np.random.default_rng(0)
    big = X.sample(400, replace=True, random_state=1).reset_index(drop=True)
    level = FiveCScorecard(inds).fit(X, [0, 1, 1, 0]).credit_level(big)
    y = (rng.random(400) < 1 - level).astype(int)  # worse level, more defaults
    for link in ("logistic", "isotonic"):
        m = FiveCScorecard(inds, link=link).fit(big, y)
        order = np.argsort(m.credit_level(big))
        pd_sorted = m.predict_proba(big)[order, 1]
        assert np.all(np.diff(pd_sorted) <= 1e-12)
        assert pd_sorted[0] > pd_sorted[-1]
    # the weights stay the experts': refitting on other labels changes the PD map, not the level
    m2 = FiveCScorecard(inds).fit(big, 1 - y)
    np.testing.assert_allclose(m2.credit_level(big), level)


def test_plain_arrays_use_positional_names_and_default_indicators() -> None:
    X = np.array([[-2.0, 0.1], [0.0, 2.0], [1.0, np.nan], [3.0, -1.0]])
    m = FiveCScorecard().fit(X, [1, 0, 0, 1])
    assert m.features_ == ["x0", "x1"]
    assert m.points(X).iloc[0].tolist() == [1.0, 6.0]
    inds = (Indicator(feature="x1", c="capital", weight=1, cuts=(0,), points=(2, 9)),)
    m = FiveCScorecard(inds).fit(X, [1, 0, 0, 1])
    np.testing.assert_allclose(m.credit_level(X), [0.9, 0.9, 0.5, 0.2])


def test_missing_indicator_columns_are_named() -> None:
    inds = (Indicator(feature="pay_max_dpd_12m", c="character", weight=1, cuts=(0,), points=(10, 1)),)
    with pytest.raises(ValueError, match="pay_max_dpd_12m"):
        FiveCScorecard(inds).fit(pd.DataFrame({"other": [1, 2]}), [0, 1])
    bad_names = (Indicator(feature="dpd", c="character", weight=1, cuts=(0,), points=(10, 1)),)
    with pytest.raises(ValueError, match="by position"):
        FiveCScorecard(bad_names).fit(np.ones((4, 2)), [0, 1, 0, 1])


def test_bad_targets_are_refused(scorecard_data) -> None:
    inds, X, _ = scorecard_data
    with pytest.raises(ValueError, match="1 class"):
        FiveCScorecard(inds).fit(X, [1, 1, 1, 1])
    with pytest.raises(ValueError, match="Only binary"):
        FiveCScorecard(inds).fit(X, [0, 1, 2, 0])
    with pytest.raises(ValueError, match="link"):
        FiveCScorecard(inds, link="probit").fit(X, [0, 1, 1, 0])


def test_config_refuses_malformed_indicators() -> None:
    with pytest.raises(ValueError, match="expected 3 points"):
        Indicator(feature="f", c="capital", weight=1, cuts=(0, 1), points=(1, 2))
    with pytest.raises(ValueError, match="ascending"):
        Indicator(feature="f", c="capital", weight=1, cuts=(1, 0), direction="higher_is_better")


def test_docstring_example_runs() -> None:
    result = doctest.testmod(baseline_module)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------ the refitted card: same points, learned weights
def _refit_data(n: int, seed: int) -> tuple[tuple[Indicator, ...], pd.DataFrame, np.ndarray]:
    """dpd drives the risk strongly, equity a little; 'echo' repeats dpd's points plus noise; 'noise' is noise."""
    rng = np.random.default_rng(seed)
    dpd = rng.choice([0.0, 10.0, 45.0, 120.0], size=n, p=[0.5, 0.25, 0.15, 0.1])
    equity = rng.normal(0.3, 0.15, n)
    X = pd.DataFrame({"dpd": dpd, "equity": equity, "noise": rng.normal(size=n),
                      "industry": pd.Categorical(rng.choice(["a", "b"], n))})
    logit = -3.0 + 0.03 * dpd - 2.0 * (equity - 0.3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    inds = (
        Indicator(feature="dpd", c="character", weight=2, cuts=(0, 30, 90), points=(10, 6, 3, 1)),
        Indicator(feature="equity", c="capital", weight=5, cuts=(0.1, 0.2, 0.3, 0.4), direction="higher_is_better"),
        Indicator(feature="noise", c="conditions", weight=3, cuts=(0.0,), direction="higher_is_better"),
        Indicator(feature="industry", c="conditions", weight=1, categories={"a": 8, "b": 3}),
    )
    return inds, X, y


def test_refitted_card_keeps_the_points_and_learns_non_negative_weights() -> None:
    from sklearn.linear_model import LogisticRegression

    from riskmodel.models.refitted import RefittedFiveCScorecard

    inds, X, y = _refit_data(6000, 0)
    expert = FiveCScorecard(inds).fit(X, y)
    refit = RefittedFiveCScorecard(inds, C=1.0).fit(X, y)
    # the same points per indicator: only the weights differ
    pd.testing.assert_frame_equal(refit.points(X), expert.points(X))
    assert np.all(refit.weights_ >= 0) and refit.weights_.sum() == pytest.approx(sum(i.weight for i in inds))
    w = dict(zip(refit.features_, refit.weights_))
    assert w["dpd"] > w["equity"] > 0  # the data say dpd matters most, though the experts weighted equity higher
    # where the weights are positive they are the logistic regression's coefficients on the kept points, rescaled
    kept = [j for j, f in enumerate(refit.features_) if f not in refit.dropped_]
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(refit.points(X).to_numpy()[:, kept], y)
    np.testing.assert_allclose(refit.weights_[kept] / refit.weights_[kept].sum(),
                               lr.coef_[0] / lr.coef_[0].sum(), rtol=1e-3)
    np.testing.assert_allclose(refit.coef_[kept], lr.coef_[0], rtol=1e-3)
    # the credit level orders customers as the regression does, and the PD falls with the level
    level = refit.credit_level(X)
    assert np.corrcoef(level, lr.decision_function(refit.points(X).to_numpy()[:, kept]))[0, 1] < -0.999
    order = np.argsort(level)
    assert np.all(np.diff(refit.predict_proba(X)[order, 1]) <= 1e-12)


def test_refitted_card_gives_weight_zero_to_a_wrong_signed_indicator() -> None:
    from riskmodel.models.refitted import RefittedFiveCScorecard

    inds, X, y = _refit_data(6000, 1)
    # an indicator scored the wrong way round: more points for more days late
    flipped = (Indicator(feature="dpd", c="character", weight=2, cuts=(0, 30, 90), points=(1, 3, 6, 10)),
               *inds[1:])
    refit = RefittedFiveCScorecard(flipped).fit(X, y)
    assert refit.dropped_[0] == "dpd"
    w = dict(zip(refit.features_, refit.weights_))
    assert w["dpd"] == 0.0 and refit.coef_[0] == 0.0 and not refit.fallback_
    assert w["equity"] > 0
    # a C whose weights are all zero drops out of the per-C levels instead of dividing by zero
    only = (flipped[0], inds[1])
    refit2 = RefittedFiveCScorecard(only).fit(X, y)
    assert list(refit2.sub_scores(X).columns) == ["capital"]
    assert np.isfinite(refit2.credit_level(X)).all()


def test_refitted_card_falls_back_to_the_experts_weights_when_nothing_ranks() -> None:
    from riskmodel.models.refitted import RefittedFiveCScorecard

    inds, X, y = _refit_data(3000, 2)
    wrong = (Indicator(feature="dpd", c="character", weight=2, cuts=(0, 30, 90), points=(1, 3, 6, 10)),)
    refit = RefittedFiveCScorecard(wrong).fit(X, y)
    assert refit.fallback_ and refit.dropped_ == ["dpd"]
    np.testing.assert_allclose(refit.weights_, [2.0])
    with pytest.raises(ValueError, match="C must be > 0"):
        RefittedFiveCScorecard(inds, C=0).fit(X, y)


def test_refitted_card_learns_from_the_training_rows_only() -> None:
    from riskmodel.models.refitted import RefittedFiveCScorecard

    inds, X, y = _refit_data(4000, 3)
    a = RefittedFiveCScorecard(inds).fit(X.iloc[:2000], y[:2000])
    b = RefittedFiveCScorecard(inds).fit(X.iloc[:2000], y[:2000])
    np.testing.assert_array_equal(a.weights_, b.weights_)  # deterministic
    c = RefittedFiveCScorecard(inds).fit(X.iloc[2000:], y[2000:])
    assert not np.allclose(a.weights_, c.weights_)  # other rows, other weights
    # predicting never refits
    before = a.weights_.copy()
    a.predict_proba(X.iloc[2000:])
    np.testing.assert_array_equal(a.weights_, before)


def test_refitted_docstring_example_runs() -> None:
    from riskmodel.models import refitted

    result = doctest.testmod(refitted)
    assert result.attempted > 0 and result.failed == 0
