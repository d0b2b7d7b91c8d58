"""LightGBM and the logistic scorecard: monotone constraints, contributions, points, frames in and out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from riskmodel.models.binning import fit_bins, merge_bins
from riskmodel.models.gbm import LightGBMModel
from riskmodel.models.scorecard import LogisticScorecard

SMALL = {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 20}


@pytest.fixture(scope="module")
def credit_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic customers: late payment raises risk, equity lowers it, a U-shaped age, an industry."""
    rng = np.random.default_rng(7)
    n = 3000
    dpd = rng.gamma(1.0, 15.0, n)
    equity = rng.normal(0.3, 0.15, n)
    age = rng.uniform(0, 40, n)
    industry = rng.choice(["construction", "retail", "services"], n)
    logit = -2.5 + 0.04 * dpd - 4.0 * equity + 0.004 * (age - 20) ** 2 + (industry == "construction") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    equity[rng.random(n) < 0.1] = np.nan  # some statements missing
    X = pd.DataFrame({"dpd": dpd, "equity": equity, "age": age, "industry": pd.Categorical(industry)})
    return X, y


@pytest.fixture(scope="module")
def gbm(credit_frame) -> LightGBMModel:
    X, y = credit_frame
    return LightGBMModel(params=SMALL, monotone={"dpd": 1, "equity": -1, "not_there": 1}, n_jobs=1,
                         calibration="sigmoid").fit(X, y)


def test_lightgbm_monotone_constraints_hold_on_a_grid(gbm, credit_frame) -> None:
    X, _ = credit_frame
    assert gbm.monotone_constraints_ == [1, -1, 0, 0]
    assert gbm.monotone_check_ == {"dpd": True, "equity": True}
    # independent check: sweep dpd for 50 rows, the PD never falls
    rows = X.iloc[:50]
    grid = np.linspace(0, 150, 31)
    block = rows.loc[rows.index.repeat(len(grid))].reset_index(drop=True)
    block["dpd"] = np.tile(grid, len(rows))
    pd_grid = gbm.predict_proba(block)[:, 1].reshape(len(rows), len(grid))
    assert (np.diff(pd_grid, axis=1) >= -1e-12).all()


def test_monotone_checker_flags_a_non_monotone_model(credit_frame) -> None:
    X, y = credit_frame
    free = LightGBMModel(params=SMALL, calibration="none", n_jobs=1).fit(X, y)
    assert free.monotone_check_ == {}
    free.monotone_constraints_ = [0, 0, 1, 0]  # claim age raises risk: the U shape breaks it
    assert free.check_monotone(X) == {"age": False}


def test_lightgbm_contributions_add_up_to_the_raw_score(gbm, credit_frame) -> None:
    X, _ = credit_frame
    contrib = gbm.contributions(X.iloc[:300])
    assert list(contrib.columns) == list(X.columns)
    raw = gbm.decision_function(X.iloc[:300])
    np.testing.assert_allclose(gbm.expected_value_ + contrib.sum(axis=1), raw, atol=1e-6)
    # ranks consistently: more days past due, larger (risk-raising) dpd contribution
    rho = stats.spearmanr(X["dpd"].iloc[:300], contrib["dpd"]).statistic
    assert rho > 0.9
    # the calibrated PD is a monotone function of the raw score
    p = gbm.predict_proba(X.iloc[:300])[:, 1]
    assert stats.spearmanr(raw, p).statistic > 0.999


def test_frames_by_name_categories_and_missing_values(gbm, credit_frame) -> None:
    X, y = credit_frame
    p = gbm.predict_proba(X)[:, 1]
    assert abs(p.mean() - y.mean()) < 0.02  # calibrated on average
    shuffled = X[["industry", "age", "equity", "dpd"]].assign(extra=1.0)
    np.testing.assert_allclose(gbm.predict_proba(shuffled)[:, 1], p)
    as_strings = X.assign(industry=X["industry"].astype(str))
    np.testing.assert_allclose(gbm.predict_proba(as_strings)[:, 1], p)
    unseen = X.iloc[:5].assign(industry=pd.Categorical(["mining"] * 5))
    assert np.isfinite(gbm.predict_proba(unseen)).all()
    with pytest.raises(ValueError, match="equity"):
        gbm.predict_proba(X.drop(columns="equity"))
    with pytest.raises(ValueError, match="monotone_constraints"):
        LightGBMModel(params={"monotone_constraints": [1]}).fit(X, y)


@pytest.fixture(scope="module")
def scorecard(credit_frame) -> LogisticScorecard:
    X, y = credit_frame
    return LogisticScorecard(max_n_bins=5, pdo=20, base_score=600, base_odds=50).fit(X, y)


def test_scorecard_points_follow_pdo_scaling(scorecard, credit_frame) -> None:
    X, _ = credit_frame
    factor = 20 / np.log(2)
    offset = 600 - factor * np.log(50)
    assert scorecard.factor_ == pytest.approx(factor)
    assert scorecard.offset_ + factor * np.log(50) == pytest.approx(600)  # base odds score the base score
    pts = scorecard.points(X.iloc[:200])
    score = scorecard.credit_score(X.iloc[:200])
    np.testing.assert_allclose(pts.sum(axis=1), score)
    logit = scorecard.decision_function(X.iloc[:200])  # log-odds of default
    np.testing.assert_allclose(score, offset - factor * logit)  # ln(good:bad) = -logit
    # twice the odds of paying, pdo more points
    assert (offset + factor * np.log(100)) - (offset + factor * np.log(50)) == pytest.approx(20)


def test_scorecard_contributions_and_gaps(scorecard, credit_frame) -> None:
    X, _ = credit_frame
    part = X.iloc[:300]
    contrib = scorecard.contributions(part)
    np.testing.assert_allclose(scorecard.expected_value_ + contrib.sum(axis=1), scorecard.decision_function(part))
    assert stats.spearmanr(part["dpd"], contrib["dpd"]).statistic > 0.8  # binned: ties
    assert contrib["dpd"][part["dpd"] > 40].mean() > 0 > contrib["dpd"][part["dpd"] < 10].mean()
    assert (scorecard.model_.coef_ >= 0).all()
    gap = scorecard.max_points_gap(part)
    assert (gap.to_numpy() >= 0).all()
    # the gap is the points lost against the best bin: gap + points is constant per feature
    best = (gap + scorecard.points(part)).nunique()
    assert (best == 1).all()
    # the riskiest dpd rows lose more points than the safest
    assert gap["dpd"][part["dpd"] > 60].mean() > gap["dpd"][part["dpd"] < 5].mean()


def test_scorecard_table_has_a_missing_bin_and_categories(scorecard) -> None:
    table = scorecard.points_table()
    eq = table[table.feature == "equity"]
    assert "missing" in eq["bin"].tolist()
    assert eq.loc[eq.bin == "missing", "n"].iloc[0] > 0
    ind = table[(table.feature == "industry") & (table.n > 0)]
    assert any("construction" in b for b in ind["bin"])


def test_binning_is_right_closed_and_respects_min_bin_size() -> None:
    x = pd.Series(np.repeat(np.arange(10.0), 100))
    y = (x.to_numpy() >= 5).astype(int)
    bins = fit_bins("x", x, y, max_n_bins=4, min_bin_size=0.05)
    assert 4.0 in bins.edges  # the split between 4 and 5 survives merging
    assert bins.bin_index(pd.Series([4.0]))[0] < bins.bin_index(pd.Series([4.0001]))[0]
    assert bins.bin_index(pd.Series([np.nan]))[0] == bins.n_bins
    assert (bins.n[:-1] >= 0.05 * len(x)).all()
    assert bins.woe[bins.bin_index(pd.Series([9.0]))[0]] > 0 > bins.woe[bins.bin_index(pd.Series([0.0]))[0]]
    # ChiMerge joins the most similar neighbours first
    groups = merge_bins([100, 100, 100], [10, 11, 50], max_n_bins=2, min_count=1)
    assert groups == [[0, 1], [2]]


def test_learned_models_refuse_bad_parameters(credit_frame) -> None:
    X, y = credit_frame
    with pytest.raises(ValueError, match="max_n_bins"):
        LogisticScorecard(max_n_bins=1).fit(X, y)
    with pytest.raises(ValueError, match="calibration"):
        LogisticScorecard(calibration="platt").fit(X, y)
    with pytest.raises(ValueError, match="on_violation"):
        LightGBMModel(on_violation="ignore").fit(X, y)


class _RecordingLogit(LogisticRegression):
    """A real logistic regression that remembers which rows each fit saw (column 'row')."""

    seen: list = []

    def fit(self, X, y, sample_weight=None):  # noqa: ANN001, ANN201
        type(self).seen.append(set(X["row"].astype(int)))
        return super().fit(X, y, sample_weight)


def test_calibration_folds_keep_each_customer_together() -> None:
    from riskmodel.models._calibration import fit_calibrated

    rng = np.random.default_rng(0)
    n_customers, per = 120, 4
    groups = np.repeat(np.arange(n_customers), per)
    y = np.repeat(rng.binomial(1, 0.3, n_customers), per)
    X = pd.DataFrame({"row": np.arange(len(y)), "x": y + rng.normal(size=len(y))})
    _RecordingLogit.seen = []
    fit_calibrated(_RecordingLogit(), X, y, "sigmoid", 3, 0, groups=groups)
    folds = _RecordingLogit.seen[:3]  # the 3 cross-fitting fits (the 4th is the refit on all rows)
    assert len(_RecordingLogit.seen) == 4 and _RecordingLogit.seen[3] == set(range(len(y)))
    for train_rows in folds:
        held_out = set(range(len(y))) - train_rows
        assert not {g for g in groups[list(train_rows)]} & {g for g in groups[list(held_out)]}
    with pytest.raises(ValueError, match="groups has 3 values"):
        fit_calibrated(_RecordingLogit(), X, y, "sigmoid", 3, 0, groups=groups[:3])
