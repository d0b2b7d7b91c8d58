"""Calibration tables and the Jeffreys / binomial tests per group."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskmodel.config import load_settings
from riskmodel.evaluation.calibration import (
    binomial_p_value,
    calibration_by_decile,
    calibration_by_grade,
    jeffreys_p_value,
)


def test_jeffreys_test_values() -> None:
    # 10 defaults in 200 rows against a PD of 2%: posterior Beta(10.5, 190.5)
    cdf = stats.beta(10.5, 190.5).cdf(0.02)
    assert jeffreys_p_value(200, 10, 0.02) == pytest.approx(2 * min(cdf, 1 - cdf))
    assert jeffreys_p_value(200, 10, 0.02) < 0.01  # 5% observed vs 2% predicted: rejected
    assert jeffreys_p_value(1000, 50, 0.05) > 0.9  # spot on
    assert jeffreys_p_value(200, 10, 0.09) < 0.05  # too pessimistic is flagged too (two-sided)
    assert np.isnan(jeffreys_p_value(0, 0, 0.02))
    assert binomial_p_value(200, 10, 0.02) == pytest.approx(stats.binomtest(10, 200, 0.02).pvalue)


def test_calibration_by_decile() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.3, 5000)
    y = (rng.random(5000) < p).astype(int)
    t = calibration_by_decile(y, p)
    assert t["decile"].tolist() == list(range(1, 11))
    assert t["n"].sum() == 5000 and (t["n"] == 500).all()
    assert t["observed_defaults"].sum() == y.sum()
    assert t["expected_defaults"].sum() == pytest.approx(p.sum())
    assert (t["pd_min"].to_numpy()[1:] >= t["pd_max"].to_numpy()[:-1]).all()
    assert (t["jeffreys_p_value"] > 0.001).all()  # well calibrated by construction
    bad = calibration_by_decile(y, p / 3)  # PDs three times too low
    assert (bad["jeffreys_p_value"].iloc[-3:] < 0.01).all()


def test_calibration_by_grade_lists_every_grade() -> None:
    ms = load_settings().master_scale
    p = np.array([0.001, 0.0015, 0.002, 0.03, 0.03, 0.5])
    y = np.array([0, 0, 0, 0, 1, 1])
    t = calibration_by_grade(y, p, ms)
    assert t["grade"].tolist() == [g.grade for g in ms.grades]
    counts = dict(zip(t["grade"], t["n"]))
    assert counts["A1"] == 2 and counts["A2"] == 1 and counts["B3"] == 2 and counts["C3"] == 1
    b3 = t.set_index("grade").loc["B3"]
    assert b3["observed_rate"] == 0.5 and b3["mean_pd"] == pytest.approx(0.03)
    assert np.isnan(t.set_index("grade").loc["B1", "jeffreys_p_value"])  # empty grade
    with pytest.raises(ValueError, match="probabilities"):
        calibration_by_grade(y, p * 3, ms)
