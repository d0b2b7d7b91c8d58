"""Discrimination, accuracy and stability metrics as small pure functions of (y, p).

Each wraps scikit-learn or scipy where they have it: ``y`` is 0/1 (1 = default),
``p`` a probability of default or any score where higher means riskier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def _yp(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y and p must be 1-d arrays of the same length, got shapes {y.shape} and {p.shape}")
    if np.isnan(p).any():
        raise ValueError(f"p has {int(np.isnan(p).sum())} missing values; score every row first")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(f"y must be 0/1, found values {np.unique(y[bad])[:5].tolist()}")
    return y.astype(int), p


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``)."""
    y, p = _yp(y, p)
    return float(skm.roc_auc_score(y, p))


def gini(y: np.ndarray, p: np.ndarray) -> float:
    """Gini coefficient (accuracy ratio) = 2 AUC - 1."""
    return 2.0 * auc(y, p) - 1.0


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the score CDFs of defaults and non-defaults."""
    y, p = _yp(y, p)
    fpr, tpr, _ = skm.roc_curve(y, p)
    return float(np.max(np.abs(tpr - fpr)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score: mean squared error of the probabilities."""
    y, p = _yp(y, p)
    return float(skm.brier_score_loss(y, p))


def log_loss(y: np.ndarray, p: np.ndarray, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood, probabilities clipped to ``[eps, 1 - eps]``."""
    y, p = _yp(y, p)
    return float(skm.log_loss(y, np.clip(p, eps, 1 - eps), labels=[0, 1]))


def bootstrap_auc_ci(
    y: np.ndarray, p: np.ndarray, n: int = 1000, level: float = 0.95, seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC.

    Without ``groups``, defaults and non-defaults are resampled separately
    (stratified, their counts fixed).  With ``groups`` (e.g. the customer of
    each row, when a customer appears at several snapshots) whole groups are
    resampled, so rows of one customer are never treated as independent
    (cluster bootstrap).  Vectorised: the scores are sorted once, and each
    replicate's AUC comes from resampling weights and cumulative sums.
    """
    y, p = _yp(y, p)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    order0 = np.argsort(p[y == 0], kind="stable")
    s0 = p[y == 0][order0]
    s1 = p[y == 1]
    n0, n1 = len(s0), len(s1)
    if n0 == 0 or n1 == 0:
        raise ValueError("bootstrap_auc_ci needs both defaults and non-defaults")
    if groups is not None:
        codes, uniques = pd.factorize(pd.Series(np.asarray(groups)), sort=False)
        if len(codes) != len(y):
            raise ValueError(f"groups has {len(codes)} values for {len(y)} rows")
        g0, g1, k = codes[y == 0][order0], codes[y == 1], len(uniques)
    rng = np.random.default_rng(seed)
    chunk = max(1, int(5e6 // (n0 + n1)))  # bounded memory: a few tens of MB per chunk
    out = np.empty(n)
    for start in range(0, n, chunk):
        b = min(chunk, n - start)
        if groups is None:
            w0 = rng.multinomial(n0, np.full(n0, 1.0 / n0), size=b)
            w1 = rng.multinomial(n1, np.full(n1, 1.0 / n1), size=b)
        else:
            draws = rng.multinomial(k, np.full(k, 1.0 / k), size=b)
            w0, w1 = draws[:, g0], draws[:, g1]
        out[start : start + b] = _weighted_aucs(s0, s1, w0, w1)  # s0 already sorted: the sort is a no-op
    out = out[np.isfinite(out)]  # a cluster replicate may draw no default (or no non-default)
    alpha = (1 - level) / 2
    q = np.quantile(out, [alpha, 1 - alpha])
    return float(q[0]), float(q[1])


def _weighted_aucs(s0: np.ndarray, s1: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """AUC of each replicate (row) of resampling weights ``w0`` on non-defaults and ``w1`` on defaults."""
    order = np.argsort(s0, kind="stable")
    s0s = s0[order]
    c0 = np.zeros((w0.shape[0], len(s0) + 1))
    np.cumsum(w0[:, order], axis=1, out=c0[:, 1:])
    lo = np.searchsorted(s0s, s1, side="left")
    hi = np.searchsorted(s0s, s1, side="right")
    below = c0[:, lo]
    equal = c0[:, hi] - below
    total = c0[:, -1] * w1.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w1 * (below + 0.5 * equal)).sum(axis=1) / total


def bootstrap_auc_diff_ci(
    y: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 1000, level: float = 0.95, seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Paired percentile bootstrap interval of AUC(p1) - AUC(p2) on the same rows.

    Both scores are evaluated on the same resample in each replicate, so the
    interval reflects their correlation (a lift of one model over another).
    Resampling as in :func:`bootstrap_auc_ci`: defaults and non-defaults
    separately, or whole ``groups`` (customers) when given (cluster bootstrap).
    """
    y, p1 = _yp(y, p1)
    _, p2 = _yp(y, p2)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    neg, pos = y == 0, y == 1
    n0, n1 = int(neg.sum()), int(pos.sum())
    if n0 == 0 or n1 == 0:
        raise ValueError("bootstrap_auc_diff_ci needs both defaults and non-defaults")
    if groups is not None:
        codes, uniques = pd.factorize(pd.Series(np.asarray(groups)), sort=False)
        if len(codes) != len(y):
            raise ValueError(f"groups has {len(codes)} values for {len(y)} rows")
        g0, g1, k = codes[neg], codes[pos], len(uniques)
    rng = np.random.default_rng(seed)
    chunk = max(1, int(2.5e6 // (n0 + n1)))
    out = np.empty(n)
    for start in range(0, n, chunk):
        b = min(chunk, n - start)
        if groups is None:
            w0 = rng.multinomial(n0, np.full(n0, 1.0 / n0), size=b).astype(float)
            w1 = rng.multinomial(n1, np.full(n1, 1.0 / n1), size=b).astype(float)
        else:
            draws = rng.multinomial(k, np.full(k, 1.0 / k), size=b).astype(float)
            w0, w1 = draws[:, g0], draws[:, g1]
        out[start : start + b] = (_weighted_aucs(p1[neg], p1[pos], w0, w1)
                                  - _weighted_aucs(p2[neg], p2[pos], w0, w1))
    out = out[np.isfinite(out)]  # a cluster replicate may draw no default (or no non-default)
    alpha = (1 - level) / 2
    q = np.quantile(out, [alpha, 1 - alpha])
    return float(q[0]), float(q[1])


def psi(expected_scores: np.ndarray, actual_scores: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``actual`` against ``expected``.

    Bins are quantiles of the expected sample (ties merged), open at both
    ends; missing values, when there are any, form a bin of their own.  Empty
    bins get a share of ``eps``.  PSI = sum((a - e) * ln(a / e)).
    """
    e = np.asarray(expected_scores, dtype=float)
    a = np.asarray(actual_scores, dtype=float)
    if e.size == 0 or a.size == 0:
        raise ValueError("psi needs non-empty expected and actual samples")
    e_ok, a_ok = e[~np.isnan(e)], a[~np.isnan(a)]
    if e_ok.size:
        edges = np.unique(np.quantile(e_ok, np.linspace(0, 1, bins + 1)[1:-1]))
    else:
        edges = np.array([])
    e_cnt = np.bincount(np.searchsorted(edges, e_ok, side="right"), minlength=len(edges) + 1)
    a_cnt = np.bincount(np.searchsorted(edges, a_ok, side="right"), minlength=len(edges) + 1)
    e_cnt = np.append(e_cnt, e.size - e_ok.size)
    a_cnt = np.append(a_cnt, a.size - a_ok.size)
    return psi_from_shares(e_cnt / e.size, a_cnt / a.size, eps)


def psi_from_shares(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """PSI of two share vectors over the same bins; bins empty on both sides are skipped, others floored at eps."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.shape != a.shape:
        raise ValueError(f"expected and actual shares differ in shape: {e.shape} vs {a.shape}")
    used = (e > 0) | (a > 0)
    e_sh, a_sh = np.maximum(e[used], eps), np.maximum(a[used], eps)
    return float(np.sum((a_sh - e_sh) * np.log(a_sh / e_sh)))


def lift_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Rows ranked by PD (riskiest first) in ``bins`` equal-count groups.

    Columns: bin (1 = riskiest), n, defaults, default_rate, mean_pd, lift
    (default rate / overall rate), cum_share_rows, cum_share_defaults
    (capture rate) and cum_lift.
    """
    y, p = _yp(y, p)
    order = np.argsort(-p, kind="stable")
    group = np.minimum((np.arange(len(p)) * bins) // max(len(p), 1), bins - 1)
    frame = pd.DataFrame({"bin": group + 1, "y": y[order], "p": p[order]})
    t = frame.groupby("bin").agg(n=("y", "size"), defaults=("y", "sum"), mean_pd=("p", "mean")).reset_index()
    rate = y.mean() if len(y) else np.nan
    t["default_rate"] = t["defaults"] / t["n"]
    t["lift"] = t["default_rate"] / rate if rate > 0 else np.nan
    t["cum_share_rows"] = t["n"].cumsum() / t["n"].sum()
    t["cum_share_defaults"] = t["defaults"].cumsum() / max(t["defaults"].sum(), 1)
    t["cum_lift"] = t["cum_share_defaults"] / t["cum_share_rows"]
    return t[["bin", "n", "defaults", "default_rate", "mean_pd", "lift", "cum_share_rows",
              "cum_share_defaults", "cum_lift"]]
