"""train_and_compare / cross_validate_and_compare on small synthetic problems."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _tracking_helpers import FAST_SEARCH
from riskmodel.config import BaselineSettings, Indicator, load_settings
from riskmodel.exceptions import ConfigError
from riskmodel.training import cross_validate_and_compare, train_and_compare

FAST = {
    "models": {"n_jobs": 1, "calibration_folds": 2,
               "lightgbm": {"params": {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 7,
                                       "min_child_samples": 20}}},
    "evaluation": {"bootstrap_samples": 200},
    **FAST_SEARCH,
}


@pytest.fixture(scope="module")
def settings():
    return load_settings(overrides=FAST)


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    strong = rng.normal(size=n)
    second = rng.normal(size=n)
    weak = 0.15 * strong + rng.normal(size=n)
    region = rng.choice(["north", "south"], n)
    logit = -1.0 + 1.5 * strong + 1.0 * second
    pd_true = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < pd_true).astype(int)
    X = pd.DataFrame({"strong": strong, "second": second, "weak": weak, "region": region})
    return X, y, pd_true


def _baseline(feature: str, c: str = "character") -> BaselineSettings:
    cuts = tuple(np.round(np.linspace(-1.6, 1.6, 9), 2))
    return BaselineSettings(indicators=(
        Indicator(feature=feature, c=c, weight=1, cuts=cuts, direction="lower_is_better",
                  rationale="test card: a lower value is better"),
    ))


@pytest.fixture(scope="module")
def beaten(settings):
    X_tr, y_tr, _ = _data(3000, 1)
    X_te, y_te, pd_te = _data(2000, 2)
    keys = pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(y_te))]})
    return train_and_compare(X_tr, y_tr, X_te, y_te, settings, _baseline("weak"), {"source": "simulated"},
                             test_keys=keys, oracle_test=pd_te)


def test_a_learned_model_beats_a_weak_baseline(beaten) -> None:
    assert set(beaten.models) == {"baseline_5c", "baseline_5c_refit", "lightgbm", "logistic_scorecard"}
    assert beaten.champion in ("lightgbm", "logistic_scorecard")
    cmp = beaten.vs_baseline[beaten.champion]
    assert cmp["auc_diff"] > 0.1 and cmp["p_value"] < 0.05
    assert 0 < cmp["oracle_gap_closed"] <= 1.05
    assert beaten.oracle["auc"] >= max(m.metrics["auc"] for m in beaten.models.values()) - 0.01


def test_metrics_json_follows_the_schema(beaten) -> None:
    doc = json.loads(json.dumps(beaten.metrics_json()))
    assert doc["data"]["source"] == "simulated" and doc["data"]["split"] == "out_of_time"
    assert doc["data"]["n_train"] == 3000 and doc["data"]["n_test"] == 2000
    assert 0 < doc["data"]["test_positive_rate"] < 1
    for name, m in doc["models"].items():
        assert {"auc", "auc_ci95", "gini", "ks", "brier", "log_loss", "psi"} <= set(m), name
        lo, hi = m["auc_ci95"]
        assert lo < m["auc"] < hi
        assert m["gini"] == pytest.approx(2 * m["auc"] - 1)
        # same distribution in train and test; a learned model's training reference is out of fold (issue 13.3):
        # with these 2 folds the fold models see half the rows, so their PDs spread less than the refit's
        assert m["psi"] < (0.1 if name.startswith("baseline") else 0.2), name
    assert set(doc["vs_baseline"]) == {"baseline_5c_refit", "lightgbm", "logistic_scorecard"}
    assert set(doc["vs_refitted"]) == {"lightgbm", "logistic_scorecard"}  # learned models only
    assert set(doc["oracle"]) == {"auc", "brier"}
    assert doc["champion"] == beaten.champion
    assert doc["champion_gate"] == {"against": "baseline_5c", "alpha": 0.05}


def test_headline_lifts_are_differences_of_the_aucs_with_intervals(beaten) -> None:
    """metrics.json: each lift = AUC(model) - AUC(card), its paired interval holds it, and the share of the
    oracle gap is (AUC_model - AUC_card) / (AUC_oracle - AUC_card), over both cards."""
    doc = json.loads(json.dumps(beaten.metrics_json()))
    auc = {name: m["auc"] for name, m in doc["models"].items()}
    oracle = doc["oracle"]["auc"]
    for block, card in (("vs_baseline", "baseline_5c"), ("vs_refitted", "baseline_5c_refit")):
        for name, cmp in doc[block].items():
            assert {"auc_diff", "auc_diff_ci95", "p_value", "z", "oracle_gap_closed"} <= set(cmp), (block, name)
            assert cmp["auc_diff"] == pytest.approx(auc[name] - auc[card], abs=1e-12)
            lo, hi = cmp["auc_diff_ci95"]
            assert lo <= cmp["auc_diff"] <= hi and hi - lo < 0.2
            if name != "baseline_5c_refit":  # (a one-indicator card ranks exactly as its refit: lift 0, [0, 0])
                assert lo < cmp["auc_diff"] < hi
            assert cmp["oracle_gap_closed"] == pytest.approx((auc[name] - auc[card]) / (oracle - auc[card]))
            assert 0 <= cmp["p_value"] <= 1 and np.sign(cmp["z"]) == np.sign(cmp["auc_diff"])
    # the two steps add up: card -> refitted card -> learned model
    for name in doc["vs_refitted"]:
        assert doc["vs_baseline"][name]["auc_diff"] == pytest.approx(
            doc["vs_baseline"]["baseline_5c_refit"]["auc_diff"] + doc["vs_refitted"][name]["auc_diff"])
    # the refitted card is a reference, never the champion
    assert beaten.champion not in ("baseline_5c_refit",)


def test_the_refitted_card_is_never_champion(settings) -> None:
    """Even when it ranks best, the refitted card is a reference: the gate is the experts' card."""
    from riskmodel.training import ModelResult, choose_champion

    def res(auc: float) -> ModelResult:
        return ModelResult("m", None, np.zeros(1), np.zeros(1), {"auc": auc}, pd.DataFrame(), pd.DataFrame())

    models = {"baseline_5c": res(0.70), "baseline_5c_refit": res(0.90), "lightgbm": res(0.75)}
    vs = {"baseline_5c_refit": {"auc_diff": 0.20, "p_value": 1e-9}, "lightgbm": {"auc_diff": 0.05, "p_value": 0.01}}
    assert choose_champion(models, vs, 0.05) == "lightgbm"
    vs["lightgbm"]["p_value"] = 0.2
    assert choose_champion(models, vs, 0.05) == "baseline_5c"


def test_result_tables(beaten) -> None:
    tf = beaten.test_frame
    assert {"customer_id", "default_12m", "pd_oracle", "pd_baseline_5c", "pd_lightgbm",
            "pd_logistic_scorecard"} <= set(tf.columns)
    assert len(tf) == 2000 and tf["customer_id"].iloc[0] == "C0"
    m = beaten.models["lightgbm"]
    assert m.calibration_decile["n"].sum() == 2000
    assert m.calibration_grade["n"].sum() == 2000
    assert beaten.features == ["strong", "second", "weak", "region"]
    assert beaten.categorical_levels == {"region": ["north", "south"]}
    assert beaten.extra["monotone_check"]["lightgbm"] == {}


def test_a_learned_model_does_not_beat_a_good_baseline(settings) -> None:
    rng = np.random.default_rng(3)

    def one(n: int) -> tuple[pd.DataFrame, np.ndarray]:
        x = rng.normal(size=n)
        noise = rng.normal(size=(n, 3))
        y = (rng.random(n) < 1 / (1 + np.exp(1.0 - 1.5 * x))).astype(int)
        return pd.DataFrame({"x": x, "n1": noise[:, 0], "n2": noise[:, 1], "n3": noise[:, 2]}), y

    X_tr, y_tr = one(2000)
    X_te, y_te = one(1500)
    res = train_and_compare(X_tr, y_tr, X_te, y_te, settings, _baseline("x"), {"source": "table"})
    assert res.champion == "baseline_5c"
    assert all(c["p_value"] >= 0.05 or c["auc_diff"] <= 0 for c in res.vs_baseline.values())
    assert "oracle" not in res.metrics_json()


def test_without_baseline_the_best_learned_model_wins(settings) -> None:
    X_tr, y_tr, _ = _data(1500, 4)
    X_te, y_te, _ = _data(1000, 5)
    s = load_settings(overrides={**FAST, "models": {**FAST["models"], "enabled": ["logistic_scorecard"]}})
    res = train_and_compare(X_tr, y_tr, X_te, y_te, s, None, {"source": "table", "split": "out_of_time"})
    assert res.champion == "logistic_scorecard" and list(res.models) == ["logistic_scorecard"]
    assert "vs_baseline" not in res.metrics_json()


def test_bad_inputs_are_refused(settings) -> None:
    X, y, _ = _data(300, 6)
    with pytest.raises(ConfigError, match="nope"):
        train_and_compare(X, y, X, y, settings, _baseline("nope"), {})
    with pytest.raises(ValueError, match="0/1"):
        train_and_compare(X, y * 2, X, y, settings, None, {})
    with pytest.raises(ValueError, match="one class"):
        train_and_compare(X, np.zeros_like(y), X, y, settings, None, {})


def test_cross_validation_predicts_every_row_out_of_fold(settings) -> None:
    X, y, _ = _data(900, 7)
    res = cross_validate_and_compare(X, y, settings, _baseline("strong"), {"source": "table"}, folds=3)
    assert res.data["split"] == "cv3" and res.data["n_test"] == 900
    folds = res.extra["folds"]
    assert sorted(np.bincount(folds)) == [300, 300, 300]
    for m in res.models.values():
        assert not np.isnan(m.pd_test).any()
        assert m.metrics["auc"] > 0.75
        assert m.metrics["psi"] < 0.1  # fold to fold
    # the exported estimators are refits on all rows
    assert res.models["lightgbm"].estimator.n_features_in_ == 4
    assert len(res.models["logistic_scorecard"].pd_train) == 900
