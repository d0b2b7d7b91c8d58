"""Calibration tables: expected vs observed defaults by PD decile and by master-scale grade.

Each row carries two tests of "the mean PD is right for this group":
the two-sided Jeffreys test (Beta(d + 1/2, n - d + 1/2) posterior of the default
rate against the mean PD, as in the ECB's PD back-testing instructions but
two-sided) and an exact binomial test (``scipy.stats.binomtest``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from riskmodel.config import MasterScaleSettings
from riskmodel.grades import assign_grades

COLUMNS = ["n", "expected_defaults", "observed_defaults", "observed_rate", "mean_pd",
           "jeffreys_p_value", "binomial_p_value"]


def jeffreys_p_value(n: int, d: int, pd_mean: float) -> float:
    """Two-sided Jeffreys test p-value: 2 x min(F(pd), 1 - F(pd)), F the Beta(d+0.5, n-d+0.5) CDF."""
    if n <= 0:
        return float("nan")
    dist = stats.beta(d + 0.5, n - d + 0.5)
    return float(min(1.0, 2.0 * min(dist.cdf(pd_mean), dist.sf(pd_mean))))


def binomial_p_value(n: int, d: int, pd_mean: float) -> float:
    """Exact two-sided binomial test p-value of ``d`` defaults in ``n`` rows at rate ``pd_mean``."""
    if n <= 0:
        return float("nan")
    return float(stats.binomtest(int(d), int(n), float(np.clip(pd_mean, 0.0, 1.0))).pvalue)


def _summarise(y: np.ndarray, p: np.ndarray, group: np.ndarray, order: list) -> pd.DataFrame:
    frame = pd.DataFrame({"g": group, "y": y, "p": p})
    agg = frame.groupby("g", sort=False).agg(n=("y", "size"), observed_defaults=("y", "sum"),
                                             expected_defaults=("p", "sum"))
    agg = agg.reindex(order)
    agg["n"] = agg["n"].fillna(0).astype(int)
    agg["observed_defaults"] = agg["observed_defaults"].fillna(0).astype(int)
    agg["expected_defaults"] = agg["expected_defaults"].fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        agg["observed_rate"] = np.where(agg["n"] > 0, agg["observed_defaults"] / agg["n"].clip(lower=1), np.nan)
        agg["mean_pd"] = np.where(agg["n"] > 0, agg["expected_defaults"] / agg["n"].clip(lower=1), np.nan)
    agg["jeffreys_p_value"] = [jeffreys_p_value(n, d, m) for n, d, m in
                               zip(agg["n"], agg["observed_defaults"], agg["mean_pd"])]
    agg["binomial_p_value"] = [binomial_p_value(n, d, m) for n, d, m in
                               zip(agg["n"], agg["observed_defaults"], agg["mean_pd"])]
    return agg[COLUMNS]


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y and p must be 1-d and the same length, got {y.shape} and {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p must be probabilities in [0, 1] without missing values")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must be 0/1")
    return y.astype(int), p


def calibration_by_decile(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Expected vs observed defaults in ``bins`` equal-count PD groups (1 = lowest PD)."""
    y, p = _check(y, p)
    order = np.argsort(p, kind="stable")
    group = np.empty(len(p), dtype=int)
    group[order] = np.minimum((np.arange(len(p)) * bins) // max(len(p), 1), bins - 1) + 1
    out = _summarise(y, p, group, list(range(1, bins + 1)))
    out.index.name = "decile"
    out = out.reset_index()
    pmin = pd.Series(p).groupby(group).min().reindex(out["decile"]).to_numpy()
    pmax = pd.Series(p).groupby(group).max().reindex(out["decile"]).to_numpy()
    out.insert(1, "pd_min", pmin)
    out.insert(2, "pd_max", pmax)
    return out


def calibration_by_grade(y: np.ndarray, p: np.ndarray, master_scale: MasterScaleSettings) -> pd.DataFrame:
    """Expected vs observed defaults per master-scale grade (every grade listed, best first)."""
    y, p = _check(y, p)
    grades = assign_grades(p, master_scale)
    names = [g.grade for g in master_scale.grades]
    out = _summarise(y, p, grades, names)
    out.index.name = "grade"
    out = out.reset_index()
    out.insert(1, "max_pd", [g.max_pd for g in master_scale.grades])
    return out
