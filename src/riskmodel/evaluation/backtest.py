"""PD backtests a validator accepts: per grade, per cohort (snapshot) and per industry.

For each group of rows (n rows, d observed defaults, mean PD p) four tests of
"the PDs are not too low" (one-sided: under-estimation is what grants too much
credit):

* exact binomial test, ``P(D >= d)`` with ``D ~ Binomial(n, p)`` (independent defaults);
* Jeffreys test (ECB instructions for IRB back-testing): ``F(p)``, F the CDF of the
  Beta(d + 1/2, n - d + 1/2) posterior of the default rate;
* binomial test adjusted for default correlation (Tasche, "Validation of internal
  rating systems and PD estimates", 2006/2008): in the one-factor (Vasicek) model
  with asset correlation rho, defaults are binomial given the systematic factor Z,
  with conditional PD ``Phi((Phi^-1(p) - sqrt(rho) Z) / sqrt(1 - rho))``;
  ``P(D >= d)`` integrates the binomial tail over Z.  The Vasicek quantiles of the
  default rate at 95% and 99.9% (the critical default rates of the large-portfolio
  limit) are reported beside it;
* traffic lights on the correlation-adjusted confidence ``1 - P(D >= d)``:
  green below 95%, yellow 95% to 99.9%, red above (the supervisory convention).

Hosmer-Lemeshow over PD deciles completes the picture (chi-square with g degrees
of freedom: the test rows are out of sample, nothing was fitted on them).

Rows of one customer repeat across quarterly cohorts, so pooled groups (per
grade, per industry) count customer-quarters, not independent customers; the
per-cohort tests are the clean ones.  Every distribution comes from scipy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, stats

from riskmodel.config import MasterScaleSettings
from riskmodel.evaluation.calibration import _check
from riskmodel.grades import assign_grades

GREEN, YELLOW, RED = "green", "yellow", "red"
LIGHTS: tuple[str, ...] = (GREEN, YELLOW, RED)
YELLOW_AT, RED_AT = 0.95, 0.999
COLUMNS = ["n", "defaults", "observed_rate", "mean_pd", "binomial_p", "jeffreys_p", "correlated_p",
           "vasicek_dr_95", "vasicek_dr_999", "light_binomial", "light_jeffreys", "light"]


def light_of(p_value: float) -> str:
    """Traffic light of a one-sided p-value: green at confidence < 95%, yellow < 99.9%, red above."""
    if p_value is None or not np.isfinite(p_value):
        return GREEN
    conf = 1.0 - float(p_value)
    return RED if conf > RED_AT else YELLOW if conf >= YELLOW_AT else GREEN


def worst_light(lights: Any) -> str:
    """The worst of some traffic lights (green when there are none)."""
    ls = [x for x in lights if x in LIGHTS]
    return max(ls, key=LIGHTS.index) if ls else GREEN


def binomial_p(n: int, d: int, p: float) -> float:
    """One-sided exact binomial p-value ``P(D >= d)`` with ``D ~ Binomial(n, p)``."""
    if n <= 0:
        return float("nan")
    return float(stats.binom.sf(int(d) - 1, int(n), float(np.clip(p, 0.0, 1.0))))


def jeffreys_p(n: int, d: int, p: float) -> float:
    """One-sided Jeffreys p-value: the Beta(d + 1/2, n - d + 1/2) CDF at the mean PD (small = PD too low)."""
    if n <= 0:
        return float("nan")
    return float(stats.beta.cdf(float(p), d + 0.5, n - d + 0.5))


def vasicek_quantile(p: float, rho: float, q: float) -> float:
    """Quantile ``q`` of the Vasicek (one-factor) distribution of the default rate at PD ``p``."""
    if not 0 < p < 1:
        return float(np.clip(p, 0.0, 1.0))
    norm = stats.norm
    return float(norm.cdf((norm.ppf(p) + np.sqrt(rho) * norm.ppf(q)) / np.sqrt(1.0 - rho)))


def vasicek_cdf(x: float, p: float, rho: float) -> float:
    """CDF of the Vasicek default-rate distribution at ``x`` (the confidence that the rate stays below x)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    norm = stats.norm
    return float(norm.cdf((np.sqrt(1.0 - rho) * norm.ppf(x) - norm.ppf(p)) / np.sqrt(rho)))


def correlated_binomial_p(n: int, d: int, p: float, rho: float) -> float:
    """``P(D >= d)`` when defaults are binomial given a Vasicek factor with asset correlation ``rho``."""
    if n <= 0:
        return float("nan")
    if d <= 0:
        return 1.0
    if not 0 < p < 1:
        return binomial_p(n, d, p)
    norm = stats.norm
    a, s = norm.ppf(p), np.sqrt(rho)

    def tail(z: float) -> float:
        pz = norm.cdf((a - s * z) / np.sqrt(1.0 - rho))
        return float(stats.binom.sf(d - 1, n, pz) * norm.pdf(z))

    # the tail is a smooth step in z; splitting at its midpoint keeps quad accurate
    z_mid = (a - np.sqrt(1.0 - rho) * norm.ppf(min(max(d / n, 1e-9), 1 - 1e-9))) / s
    z_mid = float(np.clip(z_mid, -8.0, 8.0))
    lo, _ = integrate.quad(tail, -9.0, z_mid, limit=200)
    hi, _ = integrate.quad(tail, z_mid, 9.0, limit=200)
    return float(np.clip(lo + hi, 0.0, 1.0))


def group_tests(n: int, d: int, p: float, rho: float) -> dict[str, Any]:
    """Every test of one group: n rows, d defaults, mean PD p."""
    bp, jp, cp = binomial_p(n, d, p), jeffreys_p(n, d, p), correlated_binomial_p(n, d, p, rho)
    return {
        "n": int(n), "defaults": int(d), "observed_rate": d / n if n else float("nan"), "mean_pd": float(p),
        "binomial_p": bp, "jeffreys_p": jp, "correlated_p": cp,
        "vasicek_dr_95": vasicek_quantile(p, rho, YELLOW_AT), "vasicek_dr_999": vasicek_quantile(p, rho, RED_AT),
        "light_binomial": light_of(bp), "light_jeffreys": light_of(jp), "light": light_of(cp),
    }


def backtest_table(y: np.ndarray, p: np.ndarray, group: np.ndarray, rho: float,
                   order: list | None = None) -> pd.DataFrame:
    """The tests of :func:`test_group` for every group (index: the group), in ``order`` when given."""
    y, p = _check(y, p)
    frame = pd.DataFrame({"g": np.asarray(group), "y": y, "p": p})
    agg = frame.groupby("g", sort=True, observed=True).agg(n=("y", "size"), d=("y", "sum"), p=("p", "mean"))
    if order is not None:
        agg = agg.reindex([g for g in order if g in agg.index])
    rows = {g: group_tests(int(r.n), int(r.d), float(r.p), rho) for g, r in agg.iterrows()}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    out.index.name = "group"
    return out


def hosmer_lemeshow(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Hosmer-Lemeshow statistic over ``bins`` equal-count PD groups; chi-square p-value with ``bins`` df."""
    y, p = _check(y, p)
    order = np.argsort(p, kind="stable")
    g = np.empty(len(p), dtype=int)
    g[order] = np.minimum((np.arange(len(p)) * bins) // max(len(p), 1), bins - 1)
    stat = 0.0
    used = 0
    for k in range(bins):
        m = g == k
        n = int(m.sum())
        if n == 0:
            continue
        e, o = float(p[m].sum()), float(y[m].sum())
        pbar = e / n
        if 0 < pbar < 1:
            stat += (o - e) ** 2 / (n * pbar * (1 - pbar))
            used += 1
    return {"statistic": float(stat), "df": used, "p_value": float(stats.chi2.sf(stat, used)) if used else float("nan")}


def _records(table: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    t = table.reset_index().rename(columns={"group": key})
    t[key] = t[key].astype(str)
    return t.to_dict(orient="records")


def decisive_column(philosophy: str | None) -> str:
    """Which light decides the verdict: Jeffreys for point-in-time PDs, correlation-adjusted otherwise.

    A point-in-time PD is meant to carry the state of the cycle, so given it defaults are
    close to independent and a downturn is no excuse; a through-the-cycle (or hybrid) PD
    leaves the cycle out by design, so the systematic factor must be allowed for (Tasche).
    """
    return "light_jeffreys" if philosophy == "point_in_time" else "light"


def run_backtest(y: np.ndarray, p: np.ndarray, master_scale: MasterScaleSettings, rho: float,
                 snapshot: Any = None, industry: Any = None, bins: int = 10,
                 philosophy: str | None = None) -> dict[str, Any]:
    """The whole backtest as a JSON-ready document (the metrics.json ``backtest`` block).

    Keys: ``asset_correlation``, ``overall`` (all rows), ``by_grade``, ``by_snapshot`` and
    ``by_industry`` (lists of rows, the last two only when given), ``hosmer_lemeshow``,
    ``decisive_test`` (``jeffreys`` for point-in-time PDs, else ``correlated``: see
    :func:`decisive_column`), ``light`` (the worst decisive light over grades and cohorts),
    ``fit_for_limits`` (light is green) and ``verdict`` (one sentence).
    """
    y, p = _check(y, p)
    names = [g.grade for g in master_scale.grades]
    grades = assign_grades(p, master_scale)
    out: dict[str, Any] = {"asset_correlation": float(rho)}
    out["overall"] = group_tests(len(y), int(y.sum()), float(p.mean()) if len(p) else float("nan"), rho)
    col = decisive_column(philosophy)
    out["decisive_test"] = "jeffreys" if col == "light_jeffreys" else "correlated"
    by_grade = backtest_table(y, p, grades, rho, order=names)
    out["by_grade"] = _records(by_grade, "grade")
    lights = list(by_grade[col])
    if snapshot is not None:
        snap = pd.to_datetime(pd.Series(np.asarray(snapshot))).dt.date.astype(str).to_numpy()
        by_snap = backtest_table(y, p, snap, rho)
        out["by_snapshot"] = _records(by_snap, "snapshot_date")
        lights += list(by_snap[col])
        out["by_snapshot_grade"] = [
            {"snapshot_date": s, **r}
            for s in sorted(set(snap))
            for r in _records(backtest_table(y[snap == s], p[snap == s], grades[snap == s], rho, order=names),
                              "grade")
        ]
    if industry is not None:
        ind = np.asarray(pd.Series(np.asarray(industry, dtype=object)).astype(str))
        out["by_industry"] = _records(backtest_table(y, p, ind, rho), "industry")
    out["hosmer_lemeshow"] = hosmer_lemeshow(y, p, bins)
    out["light"] = worst_light(lights)
    out["fit_for_limits"] = out["light"] == GREEN
    out["verdict"] = verdict_sentence(out)
    return out


def verdict_sentence(bt: dict[str, Any]) -> str:
    """Plain words for the committee: are these PDs fit for setting limits?"""
    o = bt["overall"]
    col = "light_jeffreys" if bt.get("decisive_test") == "jeffreys" else "light"
    red = [r["grade"] for r in bt["by_grade"] if r[col] == RED]
    yellow = [r["grade"] for r in bt["by_grade"] if r[col] == YELLOW]
    snaps = [r["snapshot_date"] for r in bt.get("by_snapshot", []) if r[col] != GREEN]
    level = (f"mean PD {o['mean_pd']:.2%} against an observed default rate of {o['observed_rate']:.2%}")
    where = []
    if red:
        where.append(f"red in grade(s) {', '.join(red)}")
    if yellow:
        where.append(f"yellow in grade(s) {', '.join(yellow)}")
    if snaps:
        where.append(f"cohort(s) {', '.join(snaps)} not green")
    test = ("Jeffreys test (point-in-time PDs must carry the cycle)" if col == "light_jeffreys" else
            f"correlation-adjusted binomial test, asset correlation {bt['asset_correlation']:g}")
    detail = f" ({'; '.join(where)}; {test})"
    if bt["light"] == RED:
        return ("PDs are NOT fit for setting limits: they under-state the observed defaults at more than 99.9% "
                f"confidence: {level}{detail}.")
    if bt["light"] == YELLOW:
        return ("PDs are fit for setting limits only with caution: the observed defaults exceed the PDs at "
                f"95% confidence: {level}{detail}; review the level before relying on it.")
    return (f"PDs are fit for setting limits: no grade or cohort exceeds its PD at 95% confidence ({test}); "
            f"{level}.")
