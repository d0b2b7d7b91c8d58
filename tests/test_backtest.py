"""Backtests of the PD level (issue 9): binomial, Jeffreys, correlation-adjusted binomial, lights, HL."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from _tracking_helpers import project_settings, train_result
from riskmodel.config import load_settings
from riskmodel.evaluation import backtest as bt
from riskmodel.evaluation.report import render_report

MS = load_settings().master_scale


def test_lights_follow_the_supervisory_convention() -> None:
    assert bt.light_of(0.2) == "green"
    assert bt.light_of(0.04) == "yellow"
    assert bt.light_of(0.0009) == "red"
    assert bt.worst_light(["green", "red", "yellow"]) == "red"
    assert bt.worst_light([]) == "green"


def test_vasicek_quantile_inverts_its_cdf_and_widens_with_correlation() -> None:
    for p in (0.005, 0.03, 0.2):
        q = bt.vasicek_quantile(p, 0.12, 0.999)
        assert bt.vasicek_cdf(q, p, 0.12) == pytest.approx(0.999, abs=1e-9)
        assert bt.vasicek_quantile(p, 0.24, 0.999) > q > bt.vasicek_quantile(p, 0.03, 0.999) > p


def test_correlation_adjusted_test_is_more_lenient_and_tends_to_binomial() -> None:
    n, d, p = 2000, 80, 0.03  # 4% observed against a 3% PD
    plain = bt.binomial_p(n, d, p)
    assert plain == pytest.approx(stats.binomtest(d, n, p, alternative="greater").pvalue, rel=1e-9)
    assert bt.correlated_binomial_p(n, d, p, 0.12) > 5 * plain
    assert bt.correlated_binomial_p(n, d, p, 1e-6) == pytest.approx(plain, rel=0.05)
    # one-sided: over-prediction is never flagged
    assert bt.light_of(bt.correlated_binomial_p(n, 20, p, 0.12)) == "green"
    assert bt.jeffreys_p(n, 20, p) > 0.99


def _portfolio(scale: float, seed: int = 0, n: int = 20000):
    rng = np.random.default_rng(seed)
    p = np.clip(np.exp(rng.normal(-3.7, 1.1, n)), 1e-4, 0.9)
    y = (rng.random(n) < np.clip(p * scale, 0, 1)).astype(int)
    snaps = np.repeat(np.array(["2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"], dtype="datetime64[D]"),
                      n // 4)
    return y, p, snaps


def test_well_calibrated_pds_are_green_and_fit_for_limits() -> None:
    y, p, snaps = _portfolio(1.0)
    res = bt.run_backtest(y, p, MS, 0.12, snapshot=snaps, industry=np.where(p > 0.03, "a", "b"))
    assert res["light"] == "green" and res["fit_for_limits"]
    assert res["verdict"].startswith("PDs are fit for setting limits")
    assert len(res["by_snapshot"]) == 4 and {r["industry"] for r in res["by_industry"]} == {"a", "b"}
    assert res["hosmer_lemeshow"]["p_value"] > 0.01


def test_pds_half_the_observed_rate_are_red_and_not_fit() -> None:
    y, p, snaps = _portfolio(3.0)
    res = bt.run_backtest(y, p, MS, 0.12, snapshot=snaps)
    assert res["light"] == "red" and not res["fit_for_limits"]
    assert "NOT fit for setting limits" in res["verdict"]
    assert res["hosmer_lemeshow"]["p_value"] < 1e-6
    red = [r["grade"] for r in res["by_grade"] if r["light"] == "red"]
    assert red and all(g in res["verdict"] for g in red)


@pytest.mark.slow
def test_report_verdict_box_turns_red_with_words(tmp_path) -> None:
    settings = project_settings(tmp_path)
    result = train_result(settings, learned_signal=True)
    assert "backtest" in result.metrics_json()
    y = result.y_test
    low = np.full(len(y), 1e-4)  # PDs far below the observed rate: red
    red = dataclasses.replace(result, extra={**result.extra, "backtest": bt.run_backtest(y, low, MS, 0.12)})
    html = render_report(red, settings)
    assert 'class="verdict failing" id="pd-fitness"' in html
    assert "PDs are NOT fit for setting limits" in html
    assert 'id="backtest"' in html


def test_point_in_time_pds_are_judged_without_the_downturn_excuse() -> None:
    """A 50% under-prediction is yellow at most after default correlation, but red for point-in-time PDs."""
    y, p, snaps = _portfolio(1.5)
    ttc = bt.run_backtest(y, p, MS, 0.05, snapshot=snaps, philosophy="through_the_cycle")
    pit = bt.run_backtest(y, p, MS, 0.05, snapshot=snaps, philosophy="point_in_time")
    assert ttc["decisive_test"] == "correlated" and ttc["light"] != "red"
    assert pit["decisive_test"] == "jeffreys" and pit["light"] == "red" and not pit["fit_for_limits"]
    assert "Jeffreys test" in pit["verdict"] and "NOT fit" in pit["verdict"]
