"""Metrics against reference implementations (scikit-learn, scipy) and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from riskmodel.evaluation import metrics as mx


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.1).astype(int)
    p = np.clip(0.1 + 0.15 * y + rng.normal(0, 0.1, 2000), 0.001, 0.999).round(3)  # rounded: ties
    return y, p


def test_auc_gini_brier_log_loss_match_sklearn(scored) -> None:
    y, p = scored
    assert mx.auc(y, p) == pytest.approx(skm.roc_auc_score(y, p))
    assert mx.gini(y, p) == pytest.approx(2 * skm.roc_auc_score(y, p) - 1)
    assert mx.brier(y, p) == pytest.approx(np.mean((p - y) ** 2))
    assert mx.log_loss(y, p) == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_ks_matches_scipy_two_sample_statistic(scored) -> None:
    y, p = scored
    assert mx.ks(y, p) == pytest.approx(stats.ks_2samp(p[y == 1], p[y == 0]).statistic)


def test_metrics_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="0/1"):
        mx.auc(np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="missing"):
        mx.brier(np.array([0, 1]), np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="same length"):
        mx.ks(np.array([0, 1]), np.array([0.1, 0.2, 0.3]))


def test_bootstrap_interval_matches_a_slow_stratified_bootstrap(scored) -> None:
    y, p = scored
    lo, hi = mx.bootstrap_auc_ci(y, p, n=400, level=0.9, seed=1)
    # slow reference: resample defaults and non-defaults separately, sklearn's AUC each time
    rng = np.random.default_rng(11)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    ref = []
    for _ in range(400):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        ref.append(skm.roc_auc_score(y[idx], p[idx]))
    r_lo, r_hi = np.quantile(ref, [0.05, 0.95])
    assert lo < mx.auc(y, p) < hi
    assert lo == pytest.approx(r_lo, abs=0.01) and hi == pytest.approx(r_hi, abs=0.01)
    assert mx.bootstrap_auc_ci(y, p, n=400, level=0.9, seed=1) == (lo, hi)  # seeded
    lo99, hi99 = mx.bootstrap_auc_ci(y, p, n=400, level=0.99, seed=1)
    assert lo99 < lo and hi99 > hi


def test_bootstrap_replicates_handle_separation_and_ties() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    assert mx.bootstrap_auc_ci(y, y * 0.5 + 0.1, n=200) == (1.0, 1.0)  # perfect separation
    assert mx.bootstrap_auc_ci(y, np.full(8, 0.3), n=200) == (0.5, 0.5)  # all tied: half credit
    assert mx.bootstrap_auc_ci(y, 1 - y * 0.5, n=200) == (0.0, 0.0)


def test_psi_by_hand_and_edge_cases() -> None:
    expected = np.arange(100.0)  # deciles: 10 rows each
    actual = np.r_[np.full(50, 5.0), np.full(50, 95.0)]  # half in the first decile, half in the last
    e, a = np.full(10, 0.1), np.r_[0.5, np.full(8, 1e-4), 0.5]
    hand = np.sum((a - e) * np.log(a / e))
    assert mx.psi(expected, actual, bins=10) == pytest.approx(hand, rel=1e-6)
    assert mx.psi(expected, expected) == pytest.approx(0.0)
    shifted = mx.psi(expected, expected + 5)
    assert 0 < shifted < mx.psi(expected, expected + 30)
    with_nan = mx.psi(np.r_[expected, np.nan], np.r_[expected, np.full(20, np.nan)])
    assert with_nan > 0.01  # a growing share of missing values is drift too
    with pytest.raises(ValueError, match="non-empty"):
        mx.psi(np.array([]), expected)


def test_lift_table_by_hand() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    p = np.linspace(0.9, 0.0, 10)
    t = mx.lift_table(y, p, bins=5)
    assert t["n"].tolist() == [2] * 5
    assert t["defaults"].tolist() == [2, 1, 0, 0, 0]
    assert t["lift"].iloc[0] == pytest.approx(1.0 / 0.3)
    assert t["cum_share_defaults"].iloc[1] == pytest.approx(1.0)
    assert t["cum_lift"].iloc[-1] == pytest.approx(1.0)
    assert isinstance(t, pd.DataFrame)


def test_cluster_bootstrap_interval_is_wider_for_repeated_customers() -> None:
    from riskmodel.evaluation.metrics import bootstrap_auc_ci

    rng = np.random.default_rng(7)
    k = 400
    y_c = rng.binomial(1, 0.25, k)
    s_c = y_c + rng.normal(size=k)
    y, p = np.repeat(y_c, 4), np.repeat(s_c, 4) + rng.normal(scale=0.01, size=4 * k)
    groups = np.repeat(np.arange(k), 4)
    lo_r, hi_r = bootstrap_auc_ci(y, p, n=400, seed=1)
    lo_c, hi_c = bootstrap_auc_ci(y, p, n=400, seed=1, groups=groups)
    lo_1, hi_1 = bootstrap_auc_ci(y_c, s_c, n=400, seed=1)
    assert (hi_c - lo_c) > 1.6 * (hi_r - lo_r)
    assert (hi_c - lo_c) == pytest.approx(hi_1 - lo_1, rel=0.3)
    assert lo_c < skm.roc_auc_score(y, p) < hi_c


def test_paired_bootstrap_of_an_auc_lift_matches_a_slow_reference(scored) -> None:
    y, p = scored
    rng = np.random.default_rng(5)
    q = np.clip(p + rng.normal(0, 0.08, len(p)), 0.001, 0.999).round(3)  # a noisier second score
    diff = mx.auc(y, p) - mx.auc(y, q)
    lo, hi = mx.bootstrap_auc_diff_ci(y, p, q, n=400, level=0.9, seed=1)
    # slow reference: one resample, both AUCs on it
    ref_rng = np.random.default_rng(11)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    ref = []
    for _ in range(400):
        idx = np.r_[ref_rng.choice(pos, len(pos)), ref_rng.choice(neg, len(neg))]
        ref.append(skm.roc_auc_score(y[idx], p[idx]) - skm.roc_auc_score(y[idx], q[idx]))
    r_lo, r_hi = np.quantile(ref, [0.05, 0.95])
    assert lo < diff < hi
    assert lo == pytest.approx(r_lo, abs=0.01) and hi == pytest.approx(r_hi, abs=0.01)
    # paired: the interval of a lift is narrower than the two AUC intervals would suggest
    a_lo, a_hi = mx.bootstrap_auc_ci(y, p, n=400, level=0.9, seed=1)
    assert hi - lo < a_hi - a_lo
    # a score against itself: lift 0 in every replicate
    assert mx.bootstrap_auc_diff_ci(y, p, p, n=100) == (0.0, 0.0)
    with pytest.raises(ValueError, match="same length"):
        mx.bootstrap_auc_diff_ci(y, p, q[:-1])


def test_cluster_bootstrap_of_a_lift_is_wider_for_repeated_customers() -> None:
    rng = np.random.default_rng(8)
    k = 400
    y_c = rng.binomial(1, 0.25, k)
    s1, s2 = y_c + rng.normal(size=k), 0.6 * y_c + rng.normal(size=k)
    y = np.repeat(y_c, 4)
    p1 = np.repeat(s1, 4) + rng.normal(scale=0.01, size=4 * k)
    p2 = np.repeat(s2, 4) + rng.normal(scale=0.01, size=4 * k)
    groups = np.repeat(np.arange(k), 4)
    lo_r, hi_r = mx.bootstrap_auc_diff_ci(y, p1, p2, n=400, seed=1)
    lo_c, hi_c = mx.bootstrap_auc_diff_ci(y, p1, p2, n=400, seed=1, groups=groups)
    lo_1, hi_1 = mx.bootstrap_auc_diff_ci(y_c, s1, s2, n=400, seed=1)
    assert (hi_c - lo_c) > 1.6 * (hi_r - lo_r)
    assert (hi_c - lo_c) == pytest.approx(hi_1 - lo_1, rel=0.3)
