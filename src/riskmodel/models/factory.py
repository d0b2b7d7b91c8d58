"""The model registry: build every enabled learned model from its params.yaml section.

``ESTIMATORS`` lists one instance of each riskmodel estimator for the
scikit-learn compatibility test; ``expected_failed_checks`` gives, per
estimator, the checks that do not apply and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from riskmodel.config import BaselineSettings, ModelSettings
from riskmodel.models.baseline import FiveCScorecard
from riskmodel.models.gbm import LightGBMModel
from riskmodel.models.refitted import RefittedFiveCScorecard
from riskmodel.models.scorecard import LogisticScorecard

BASELINE_NAME = "baseline_5c"
REFIT_NAME = "baseline_5c_refit"
LIGHTGBM_NAME = "lightgbm"
SCORECARD_NAME = "logistic_scorecard"
MODEL_NAMES: tuple[str, ...] = (BASELINE_NAME, REFIT_NAME, LIGHTGBM_NAME, SCORECARD_NAME)
#: the two baselines (the experts' card and its refitted twin): references, never champion candidates
BASELINE_NAMES: tuple[str, ...] = (BASELINE_NAME, REFIT_NAME)


def make_models(settings: ModelSettings, features: Sequence[str], categorical: Sequence[str] = ()) -> dict[str, Any]:
    """Unfitted learned models, by name, for every model enabled in ``settings``.

    ``features`` are the columns the models will see; monotone constraints on
    features not among them, or on ``categorical`` ones, are dropped.  A
    ``monotone_constraints_method`` in the LightGBM params becomes the model's
    ``monotone_method`` ("basic" when absent).
    """
    feats = set(features)
    cats = set(categorical)
    out: dict[str, Any] = {}
    for name in settings.enabled:
        if name == LIGHTGBM_NAME:
            lg = settings.lightgbm
            params = dict(lg.params)
            method = params.pop("monotone_constraints_method", "basic")
            out[name] = LightGBMModel(
                params=params,
                monotone={f: int(d) for f, d in lg.monotone.items() if f in feats and f not in cats},
                monotone_method=method,
                calibration=settings.calibration,
                calibration_folds=settings.calibration_folds,
                random_state=settings.seed,
                n_jobs=settings.n_jobs,
                on_violation="raise",  # a broken constrained direction fails training (MonotoneViolationError)
            )
        elif name == SCORECARD_NAME:
            sc = settings.logistic_scorecard
            out[name] = LogisticScorecard(
                max_n_bins=sc.max_n_bins,
                min_bin_size=sc.min_bin_size,
                C=sc.C,
                pdo=sc.pdo,
                base_score=sc.base_score,
                base_odds=sc.base_odds,
                max_features=sc.max_features,
                calibration=settings.calibration,
                calibration_folds=settings.calibration_folds,
                random_state=settings.seed,
            )
        else:  # pragma: no cover - config.ModelSettings only allows the names above
            raise ValueError(f"unknown model {name!r}; known: {MODEL_NAMES[1:]}")
    return out


def make_baseline(baseline: BaselineSettings) -> FiveCScorecard:
    """The unfitted 5C expert scorecard of a baseline definition."""
    return FiveCScorecard(indicators=tuple(baseline.indicators))


def make_baselines(baseline: BaselineSettings) -> dict[str, FiveCScorecard]:
    """The unfitted baselines of a card, by name: the experts' card and, when enabled, its refitted twin.

    The refitted card has the same indicators, cut points and points; only its
    weights are learned (:class:`~riskmodel.models.refitted.RefittedFiveCScorecard`).
    """
    out: dict[str, FiveCScorecard] = {BASELINE_NAME: make_baseline(baseline)}
    if baseline.refit.enabled:
        out[REFIT_NAME] = RefittedFiveCScorecard(indicators=tuple(baseline.indicators), C=baseline.refit.C)
    return out


#: one instance of every riskmodel estimator (small settings: the checks fit them many times)
ESTIMATORS: list[Any] = [
    FiveCScorecard(),
    RefittedFiveCScorecard(),
    LightGBMModel(params={"n_estimators": 20, "min_child_samples": 5}, n_jobs=1),
    LogisticScorecard(),
]

#: scikit-learn checks left out of the compatibility test, with the reason
NOT_APPLICABLE_CHECKS: dict[str, str] = {
    "check_array_api_input": (
        "array API namespaces (cupy, torch, ...) are not an input riskmodel's estimators claim: they "
        "work on pandas frames; scikit-learn itself skips this check unless SCIPY_ARRAY_API=1"
    ),
}


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """Checks of ``parametrize_with_checks`` expected to fail for ``estimator``, with the reason.

    None today.  Two tags relax what is checked, for stated reasons: every
    estimator is binary only (``multi_class=False``: default / no default), and
    the 5C scorecard declares ``poor_score`` because its weights and cut points
    are fixed by experts, not learned, so it need not reach the accuracy the
    checks demand on synthetic blobs (the refitted card too: its weights are
    learned, but on fixed cut points).
    """
    return {}
