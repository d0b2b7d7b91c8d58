"""DeLong's test: a published example and a slow O(n^2) placement-value implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskmodel.evaluation.delong import delong_auc_variance, delong_covariance, delong_roc_test


def _psi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Heaviside kernel: 1 if default scored above non-default, 1/2 on ties."""
    return (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])


def slow_delong(y: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong, DeLong & Clarke-Pearson (1988) straight from the definition, O(m n) per score."""
    v10, v01, aucs = [], [], []
    for s in scores:
        k = _psi(s[y == 1], s[y == 0])
        aucs.append(k.mean())
        v10.append(k.mean(axis=1))  # per default
        v01.append(k.mean(axis=0))  # per non-default
    m, n = (y == 1).sum(), (y == 0).sum()
    s10 = np.atleast_2d(np.cov(np.array(v10)))
    s01 = np.atleast_2d(np.cov(np.array(v01)))
    return np.array(aucs), s10 / m + s01 / n


def test_hanley_mcneil_1982_rating_example() -> None:
    """Hanley & McNeil (1982, Radiology 143:29, Table 1): 58 normal and 51 abnormal CT images
    rated 1..5; published area 0.893 with standard error 0.032 (their approximation)."""
    normal = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
    abnormal = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])
    y = np.r_[np.zeros(58, int), np.ones(51, int)]
    s = np.r_[normal, abnormal].astype(float)
    auc, var = delong_auc_variance(y, s)
    assert round(auc, 3) == 0.893
    assert np.sqrt(var) == pytest.approx(0.032, abs=0.002)  # DeLong's estimator: 0.0307
    ref_auc, ref_cov = slow_delong(y, s)
    assert auc == pytest.approx(ref_auc[0]) and var == pytest.approx(ref_cov[0, 0])


def test_fast_delong_equals_the_slow_definition_with_ties() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(400) < 0.3).astype(int)
    p1 = np.round(y * 0.8 + rng.normal(0, 1, 400), 1)  # rounded: many ties
    p2 = np.round(p1 + rng.normal(0, 1.5, 400), 1)
    aucs, cov = delong_covariance(y, p1, p2)
    ref_aucs, ref_cov = slow_delong(y, p1, p2)
    np.testing.assert_allclose(aucs, ref_aucs)
    np.testing.assert_allclose(cov, ref_cov)
    a1, a2, z, p = delong_roc_test(y, p1, p2)
    ref_z = (ref_aucs[0] - ref_aucs[1]) / np.sqrt(ref_cov[0, 0] + ref_cov[1, 1] - 2 * ref_cov[0, 1])
    assert z == pytest.approx(ref_z)
    assert p == pytest.approx(2 * stats.norm.sf(abs(ref_z)))
    assert a1 > a2 and p < 0.05  # p2 is p1 plus noise: clearly worse


def test_delong_test_is_symmetric_and_calm_on_equal_scores() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.4).astype(int)
    p1 = y + rng.normal(0, 1.5, 300)
    p2 = y + rng.normal(0, 1.5, 300)
    a1, a2, z, p = delong_roc_test(y, p1, p2)
    b1, b2, z2, p_rev = delong_roc_test(y, p2, p1)
    assert (a1, a2) == (b2, b1) and z == pytest.approx(-z2) and p == pytest.approx(p_rev)
    assert p > 0.05  # two equally noisy scores do not differ
    assert delong_roc_test(y, p1, p1)[2:] == (0.0, 1.0)
    assert delong_roc_test(y, p1, 2 * p1 + 1)[3] == 1.0  # same ranking, same AUC


def test_delong_refuses_degenerate_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        delong_roc_test(np.array([0, 0, 0, 1]), np.arange(4.0), np.arange(4.0))
    with pytest.raises(ValueError, match="0/1"):
        delong_roc_test(np.array([0, 2, 1, 1, 0]), np.arange(5.0), np.arange(5.0))


def test_clustered_delong_with_singleton_groups_matches_plain_delong() -> None:
    rng = np.random.default_rng(5)
    y = rng.binomial(1, 0.2, 600)
    p1 = y + rng.normal(size=600)
    p2 = 0.5 * y + rng.normal(size=600)
    plain = delong_covariance(y, p1, p2)[1]
    singles = delong_covariance(y, p1, p2, groups=np.arange(600))[1]
    # the clustered estimator divides by K - 1 over all rows instead of m - 1 / n - 1 per class
    np.testing.assert_allclose(singles, plain, rtol=0.01)


def test_clustered_delong_widens_the_variance_of_repeated_customers() -> None:
    """Each customer seen at 4 snapshots with almost the same score: 4 copies are not 4 times the evidence."""
    rng = np.random.default_rng(6)
    k = 300
    y_c = rng.binomial(1, 0.2, k)
    s_c = y_c + rng.normal(size=k)
    y = np.repeat(y_c, 4)
    p = np.repeat(s_c, 4) + rng.normal(scale=0.01, size=4 * k)
    groups = np.repeat(np.arange(k), 4)
    _, var_rows = delong_auc_variance(y, p)
    _, var_clustered = delong_auc_variance(y, p, groups=groups)
    _, var_one_each = delong_auc_variance(y_c, s_c)
    assert var_clustered > 3 * var_rows  # naive rows understate the uncertainty about 4-fold
    assert var_clustered == pytest.approx(var_one_each, rel=0.15)  # about one row per customer
    a1, a2, z, p_rows = delong_roc_test(y, p, p[::-1].copy())
    _, _, _, p_clustered = delong_roc_test(y, p, p[::-1].copy(), groups=groups)
    assert p_clustered > p_rows
