"""Every riskmodel estimator passes scikit-learn's estimator checks; the factory builds the enabled models."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from riskmodel.config import load_settings
from riskmodel.models.baseline import FiveCScorecard
from riskmodel.models.factory import (
    BASELINE_NAME,
    ESTIMATORS,
    NOT_APPLICABLE_CHECKS,
    REFIT_NAME,
    expected_failed_checks,
    make_baseline,
    make_baselines,
    make_models,
)
from riskmodel.models.gbm import LightGBMModel
from riskmodel.models.refitted import RefittedFiveCScorecard
from riskmodel.models.scorecard import LogisticScorecard


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


CHECKS = [
    (est, check)
    for e in ESTIMATORS
    for est, check in estimator_checks_generator(e, expected_failed_checks=expected_failed_checks(e), mark="xfail")
    if _check_name(check) not in NOT_APPLICABLE_CHECKS
]


@pytest.mark.parametrize("estimator, check", CHECKS,
                         ids=[f"{type(e).__name__}-{_check_name(c)}-{i}" for i, (e, c) in enumerate(CHECKS)])
def test_sklearn_compatible(estimator, check) -> None:
    check(estimator)


def test_the_checks_ran_for_every_estimator() -> None:
    names = {_check_name(c) for _, c in CHECKS}
    assert {"check_classifiers_train", "check_fit_idempotent", "check_estimators_pickle",
            "check_n_features_in_after_fitting", "check_classifier_not_supporting_multiclass"} <= names
    assert len(CHECKS) >= 4 * 50
    assert {type(e) for e, _ in CHECKS} == {type(e) for e in ESTIMATORS}


def test_registry_lists_every_estimator_class() -> None:
    assert {type(e) for e in ESTIMATORS} == {FiveCScorecard, RefittedFiveCScorecard, LightGBMModel,
                                              LogisticScorecard}
    assert all(expected_failed_checks(e) == {} for e in ESTIMATORS)


def test_make_models_follows_the_settings() -> None:
    s = load_settings(overrides={"models": {"enabled": ["logistic_scorecard"], "calibration": "sigmoid",
                                            "logistic_scorecard": {"pdo": 40}}})
    models = make_models(s.models, ["pay_max_dpd_12m"], [])
    assert list(models) == ["logistic_scorecard"]
    assert models["logistic_scorecard"].pdo == 40 and models["logistic_scorecard"].calibration == "sigmoid"
    s = load_settings(overrides={"models": {"lightgbm": {"params": {"monotone_constraints_method": "intermediate"}}}})
    gbm = make_models(s.models, ["pay_max_dpd_12m", "fin_equity_ratio", "reg_industry"], ["reg_industry"])["lightgbm"]
    # constraints only for features the model sees
    assert gbm.monotone == {"pay_max_dpd_12m": 1, "fin_equity_ratio": -1}
    assert gbm.monotone_method == "intermediate" and "monotone_constraints_method" not in gbm.params
    base = make_baseline(s.baseline)
    assert [i.feature for i in base.indicators] == [i.feature for i in s.baseline.indicators]


def test_make_baselines_builds_the_card_and_its_refitted_twin() -> None:
    s = load_settings(overrides={"baseline": {"refit": {"C": 0.5}}})
    both = make_baselines(s.baseline)
    assert list(both) == [BASELINE_NAME, REFIT_NAME]
    assert type(both[BASELINE_NAME]) is FiveCScorecard and isinstance(both[REFIT_NAME], RefittedFiveCScorecard)
    assert both[REFIT_NAME].indicators == both[BASELINE_NAME].indicators and both[REFIT_NAME].C == 0.5
    off = load_settings(overrides={"baseline": {"refit": {"enabled": False}}})
    assert list(make_baselines(off.baseline)) == [BASELINE_NAME]


def test_unknown_model_name_is_refused_by_the_settings() -> None:
    from riskmodel.exceptions import ConfigError

    with pytest.raises(ConfigError, match="enabled"):
        load_settings(overrides={"models": {"enabled": ["xgboost"]}})
