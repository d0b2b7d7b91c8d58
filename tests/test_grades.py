"""The master scale: grade edges, policies and the recommended limit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskmodel.config import load_settings
from riskmodel.grades import assign_grades, grade_policy, recommended_limit


@pytest.fixture(scope="module")
def ms():
    return load_settings().master_scale


def test_grade_edges_belong_to_the_band_they_close(ms) -> None:
    bounds = [g.max_pd for g in ms.grades]
    names = [g.grade for g in ms.grades]
    assert assign_grades(np.array(bounds), ms).tolist() == names
    just_above = np.nextafter(np.array(bounds[:-1]), 1.0)
    assert assign_grades(just_above, ms).tolist() == names[1:]
    assert assign_grades(np.array([0.0, 1.0]), ms).tolist() == [names[0], names[-1]]


def test_bad_pds_are_refused_with_positions(ms) -> None:
    with pytest.raises(ValueError, match=r"2 PD value\(s\).*\[1, 3\]"):
        assign_grades(np.array([0.1, np.nan, 0.2, 1.5]), ms)


def test_grade_policy(ms) -> None:
    assert grade_policy("B2", ms).terms_days == 30
    d = grade_policy("D", ms)
    assert d.limit_pct_equity == 0 and d.prepayment_share == 1.0
    with pytest.raises(KeyError, match="Z9"):
        grade_policy("Z9", ms)


def test_recommended_limit_shows_the_calculation(ms) -> None:
    # B2: 10% of equity, 6% of revenue
    limit, text = recommended_limit("B2", 1_200_000, 5_000_000, ms)
    assert limit == pytest.approx(120_000)
    assert "min(10% of equity 1,200,000 = 120,000; 6% of revenue 5,000,000 = 300,000) = 120,000" in text
    limit, text = recommended_limit("B2", 1_200_000, 1_000_000, ms)
    assert limit == pytest.approx(60_000)


def test_recommended_limit_edge_cases(ms) -> None:
    assert recommended_limit("B2", -5.0, 1e6, ms)[0] == 0.0
    assert "negative" in recommended_limit("B2", -5.0, 1e6, ms)[1]
    assert recommended_limit("C3", 1e6, 1e7, ms)[0] == 0.0
    limit, text = recommended_limit("B2", float("nan"), 2_000_000, ms)
    assert limit == pytest.approx(120_000) and "no equity" in text
    # no statement: the receivable implied by the last 12 months' invoices at the grade's terms
    limit, text = recommended_limit("B2", None, float("nan"), ms, invoiced_12m=365_000)
    assert limit == pytest.approx(30_000) and "365,000 x 30 / 365" in text
    limit, text = recommended_limit("B2", None, None, ms)
    assert math.isnan(limit) and "committee" in text
