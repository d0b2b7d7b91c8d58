"""Without the customer_terms history, its facts are left out of training and scoring, and the run says so."""

from __future__ import annotations

import logging

import pytest

from feature_fixtures import customer, make_tables
from riskmodel.config import load_settings
from riskmodel.exceptions import RiskModelError
from riskmodel.features.registration import HISTORY_FEATURES
from riskmodel.pipeline import leave_out_unavailable, require_history_for


def test_leave_out_unavailable_excludes_the_features_and_drops_5c_indicators(caplog):
    settings = load_settings()
    excluded_before = settings.models.exclude_features
    on_card = [i.feature for i in settings.baseline.indicators if i.feature in HISTORY_FEATURES]
    assert on_card  # the default card reads at least one history feature (paid-in ratio, collateral to limit)
    with caplog.at_level(logging.WARNING, logger="riskmodel.pipeline"):
        out = leave_out_unavailable(settings, HISTORY_FEATURES)
    assert set(HISTORY_FEATURES) | set(excluded_before) == set(out.models.exclude_features)
    assert not {i.feature for i in out.baseline.indicators} & set(HISTORY_FEATURES)
    assert len(out.baseline.indicators) == len(settings.baseline.indicators) - len(on_card)
    assert "no customer_terms history" in caplog.text and all(f in caplog.text for f in on_card)
    assert leave_out_unavailable(settings, ()) is settings
    assert settings.models.exclude_features == excluded_before  # the original is untouched


def test_scoring_refuses_a_history_trained_model_on_a_folder_without_history():
    with_history = make_tables([customer("A")])
    without = make_tables([customer("A")], terms=None)
    require_history_for(["reg_log_credit_limit", "pay_max_dpd_12m"], with_history, "lightgbm")
    require_history_for(["pay_max_dpd_12m"], without, "lightgbm")  # a model trained without them is fine
    with pytest.raises(RiskModelError, match=r"customer_terms.*reg_log_credit_limit|reg_log_credit_limit.*customer_terms"):
        require_history_for(["reg_log_credit_limit", "pay_max_dpd_12m"], without, "lightgbm")
