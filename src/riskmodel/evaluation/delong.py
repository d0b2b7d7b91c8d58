"""DeLong's test for paired ROC AUCs, in the fast O(n log n) form of Sun & Xu (2014).

References
----------
DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44(3):837-845.
Sun & Xu (2014), "Fast implementation of DeLong's algorithm for comparing the
areas under correlated receiver operating characteristic curves",
IEEE Signal Processing Letters 21(11):1389-1393.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _placements(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and the structural components V10 (per default) and V01 (per non-default).

    ``scores`` is (k, n): k models scored on the same n rows.
    """
    y = np.asarray(y)
    if scores.ndim != 2 or scores.shape[1] != len(y):
        raise ValueError(f"scores must be (k, {len(y)}), got {scores.shape}")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(f"y must be 0/1, found values {np.unique(y[bad])[:5].tolist()}")
    if np.isnan(scores).any():
        raise ValueError("scores contain missing values")
    pos = scores[:, y == 1]
    neg = scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 defaults and 2 non-defaults, got {m} and {n}")
    tx = stats.rankdata(pos, axis=1)  # midranks within defaults
    ty = stats.rankdata(neg, axis=1)  # midranks within non-defaults
    tz = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)  # midranks within all
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (tz[:, :m] - tx) / n  # share of non-defaults scored below each default (ties 1/2)
    v01 = 1.0 - (tz[:, m:] - ty) / m  # share of defaults scored above each non-default
    return aucs, v10, v01


def delong_covariance(y: np.ndarray, *scores: np.ndarray,
                      groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of several scores on the same rows and DeLong's covariance matrix of those AUCs.

    With ``groups`` (e.g. the customer of each row when customers repeat across
    snapshots) the structural components are summed within each group and the
    covariance is taken across groups (Obuchowski 1997, clustered ROC data), so
    correlated rows of one customer do not count as independent evidence.
    """
    y = np.asarray(y)
    s = np.vstack([np.asarray(x, dtype=float) for x in scores])
    aucs, v10, v01 = _placements(y, s)
    m, n = v10.shape[1], v01.shape[1]
    if groups is None:
        cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
        return aucs, cov
    g = np.asarray(groups)
    if len(g) != len(y):
        raise ValueError(f"groups has {len(g)} values for {len(y)} rows")
    codes = np.unique(g, return_inverse=True)[1].ravel()
    k = int(codes.max()) + 1
    if k < 2:
        raise ValueError("clustered DeLong needs at least 2 groups")
    gp, gn = codes[y == 1], codes[y == 0]
    mk = np.bincount(gp, minlength=k)
    nk = np.bincount(gn, minlength=k)
    a = np.vstack([np.bincount(gp, weights=row, minlength=k) for row in v10]) - np.outer(aucs, mk)
    b = np.vstack([np.bincount(gn, weights=row, minlength=k) for row in v01]) - np.outer(aucs, nk)
    f = k / (k - 1)
    s10, s01, s11 = f * a @ a.T / m, f * b @ b.T / n, f * a @ b.T
    cov = s10 / m + s01 / n + (s11 + s11.T) / (m * n)
    return aucs, cov


def delong_auc_variance(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> tuple[float, float]:
    """AUC of one score and its DeLong variance (clustered by ``groups`` when given)."""
    aucs, cov = delong_covariance(y, p, groups=groups)
    return float(aucs[0]), float(cov[0, 0])


def delong_roc_test(y: np.ndarray, p1: np.ndarray, p2: np.ndarray,
                    groups: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """Two-sided DeLong test of AUC(p1) = AUC(p2) on the same rows (clustered by ``groups`` when given).

    Returns
    -------
    (auc1, auc2, z, p_value) with ``z = (auc1 - auc2) / sd(auc1 - auc2)``.
    Identical scores give z = 0 and p = 1.
    """
    aucs, cov = delong_covariance(y, p1, p2, groups=groups)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = aucs[0] - aucs[1]
    if var <= 1e-300:
        z = 0.0 if abs(diff) < 1e-15 else float(np.sign(diff) * np.inf)
    else:
        z = float(diff / np.sqrt(var))
    p_value = float(2 * stats.norm.sf(abs(z)))
    return float(aucs[0]), float(aucs[1]), z, p_value
