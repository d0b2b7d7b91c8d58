"""Issue 13: budgeted model selection, grouped folds on the flat path, out-of-fold training PDs, learning curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskmodel.config import ModelSelectionSettings, load_settings
from riskmodel.evaluation.learning_curve import curve_verdict, learning_curve
from riskmodel.evaluation.metrics import auc
from riskmodel.evaluation.report import render_report
from riskmodel.exceptions import ConfigError, SchemaError
from riskmodel.flat import load_flat_panel, train_flat
from riskmodel.models.gbm import LightGBMModel
from riskmodel.models.selection import auc_standard_error, fold_splits, select_lightgbm, time_validation_split
from riskmodel.training import cross_validate_and_compare, train_and_compare

SMALL = {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 7, "max_depth": 3, "min_child_samples": 20}


def _settings(**over):
    base = {"models": {"n_jobs": 1, "calibration_folds": 2, "enabled": ["lightgbm"],
                       "lightgbm": {"params": SMALL, "monotone": {"x0": 1}}},
            "evaluation": {"bootstrap_samples": 50},
            "model_selection": {"enabled": True, "budget_seconds": 30, "n_trials": 4, "max_trees": 200,
                                "early_stopping_rounds": 10}}
    from riskmodel.config import deep_merge

    return load_settings(overrides=deep_merge(base, over))


def _panel(n_customers: int = 300, n_snap: int = 6, seed: int = 0, signal: float = 1.5) -> pd.DataFrame:
    """customer x quarter rows; x0 raises the risk, x1 lowers it, noise is noise; a customer effect repeats."""
    rng = np.random.default_rng(seed)
    snaps = pd.date_range("2020-03-31", periods=n_snap, freq="QE")
    cust = np.repeat([f"c{i:04d}" for i in range(n_customers)], n_snap)
    effect = np.repeat(rng.normal(0, 1, n_customers), n_snap)
    x0 = rng.normal(0, 1, len(cust)) + 0.5 * effect
    x1 = rng.normal(0, 1, len(cust))
    noise = rng.normal(0, 1, len(cust))
    logit = -2.0 + signal * x0 - 0.8 * x1 + effect
    y = (rng.random(len(cust)) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"customer_id": cust, "snapshot_date": np.tile(snaps, n_customers), "x0": x0, "x1": x1,
                         "noise": noise, "default": y})


# ------------------------------------------------------------------ selection
def test_time_validation_split_holds_out_the_last_snapshots_with_a_label_embargo() -> None:
    snaps = pd.date_range("2020-03-31", periods=9, freq="QE").repeat(3)
    fit, val = time_validation_split(snaps, n_validation=2, horizon_months=12)
    d = pd.Series(snaps)
    assert set(d.iloc[val]) == set(pd.date_range("2021-12-31", periods=2, freq="QE"))
    first_val = d.iloc[val].min()
    # every fitted label window ends by the first validation snapshot; nothing later is fitted
    assert (d.iloc[fit] + pd.DateOffset(months=12) <= first_val).all()
    assert d.iloc[fit].max() == pd.Timestamp("2020-12-31") and len(set(fit) & set(val)) == 0
    with pytest.raises(ValueError, match="too few"):
        time_validation_split(snaps[:6], n_validation=2, horizon_months=12)
    with pytest.raises(ValueError, match="label window"):
        time_validation_split(pd.date_range("2020-03-31", periods=3, freq="QE"), 2, 12)


def test_search_keeps_the_default_first_and_picks_the_cheapest_near_best() -> None:
    df = _panel(n_customers=250)
    X, y = df[["x0", "x1", "noise"]], df["default"].to_numpy()
    ms = ModelSelectionSettings(enabled=True, n_trials=6, max_trees=300, early_stopping_rounds=10,
                                auc_tolerance=0.003, max_cost_ratio=2.0)
    sel = select_lightgbm(X, y, SMALL, fold_splits(y, 3, 0, df["customer_id"].to_numpy()), ms,
                          monotone=[1, -1, 0], budget_seconds=60)
    assert sel.candidates[0] is sel.default and sel.default.trees == SMALL["n_estimators"]
    n_pos = int(y.sum())  # the three folds' validation rows are all rows
    assert sel.auc_se == pytest.approx(auc_standard_error(sel.default.val_auc, n_pos, len(y) - n_pos))
    assert sel.needed_auc == pytest.approx(sel.default.val_auc + 0.5 * sel.auc_se)  # min_gain_se = 0.5 by default
    better = [c for c in sel.candidates[1:] if c.cost <= 2.0 * sel.default.cost and c.val_auc > sel.needed_auc]
    if not better:
        assert sel.chosen is sel.default
    else:
        best = max(c.val_auc for c in better)
        assert sel.chosen in better and sel.chosen.val_auc >= best - 0.003
        # no candidate that clears the bar within the tolerance is cheaper than the chosen one
        assert all(c.cost >= sel.chosen.cost for c in better if c.val_auc >= best - 0.003)
    assert all(not c.eligible for c in sel.candidates if c.cost > 2.0 * sel.default.cost)
    assert sel.params["n_estimators"] == sel.chosen.trees and "monotone_constraints" not in sel.params
    assert set(sel.throughput) == {"default", "chosen"} and min(sel.throughput.values()) > 0
    # the chosen shape keeps its monotone constraints, jointly and one at a time
    m = LightGBMModel(params=sel.params, monotone={"x0": 1, "x1": -1}, n_jobs=1, on_violation="raise").fit(X, y)
    assert all(m.monotone_check_.values())


def test_auc_standard_error_is_hanley_mcneil() -> None:
    assert auc_standard_error(0.8, 100, 100) == pytest.approx(0.03137, abs=1e-4)
    assert auc_standard_error(0.8, 1000, 1000) < auc_standard_error(0.8, 100, 100) / 3


def test_without_a_bar_a_better_candidate_replaces_a_poor_default() -> None:
    df = _panel(n_customers=250)
    X, y = df[["x0", "x1", "noise"]], df["default"].to_numpy()
    poor = {**SMALL, "n_estimators": 3, "num_leaves": 2, "max_depth": 1, "learning_rate": 0.01}
    ms = ModelSelectionSettings(enabled=True, n_trials=4, max_trees=200, early_stopping_rounds=10, min_gain_se=0.0,
                                max_cost_ratio=1e6)
    sel = select_lightgbm(X, y, poor, fold_splits(y, 3, 0), ms, budget_seconds=60)
    assert sel.chosen is not sel.default and sel.chosen.val_auc > sel.default.val_auc


def test_search_stops_at_the_budget() -> None:
    df = _panel(n_customers=150)
    X, y = df[["x0", "x1", "noise"]], df["default"].to_numpy()
    ms = ModelSelectionSettings(enabled=True, n_trials=50, max_trees=200, early_stopping_rounds=10)
    sel = select_lightgbm(X, y, SMALL, fold_splits(y, 2, 0), ms, budget_seconds=1e-6)
    assert [c.label for c in sel.candidates] == ["default"] and sel.chosen is sel.default


def test_train_and_compare_selects_out_of_time_and_reports_out_of_fold_training_pds() -> None:
    df = _panel(n_customers=300, n_snap=9)
    df["noise_id"] = df.groupby("customer_id").ngroup().astype(float)  # lets a model memorise customers
    tr = df[df.snapshot_date <= "2021-12-31"].reset_index(drop=True)
    te = df[df.snapshot_date > "2021-12-31"].reset_index(drop=True)
    feats = ["x0", "x1", "noise", "noise_id"]
    s = _settings(models={"lightgbm": {"params": {**SMALL, "n_estimators": 300, "num_leaves": 31, "max_depth": 6,
                                                   "min_child_samples": 5}}},
                  snapshots={"horizon_months": 3})
    res = train_and_compare(tr[feats], tr["default"], te[feats], te["default"], s, None, {"source": "table"},
                            train_groups=tr["customer_id"].to_numpy(), train_snapshots=tr["snapshot_date"].to_numpy())
    sel = res.extra["model_selection"]
    assert sel["validation"].startswith("out of time")
    assert sel["chosen"]["label"] == "default" or sel["chosen"]["val_auc"] > sel["needed_auc"] > sel["default"]["val_auc"]
    assert res.metrics_json()["model_selection"]["chosen"] == sel["chosen"]
    est = res.models["lightgbm"].estimator
    assert est.params["n_estimators"] == sel["chosen"]["trees"]
    assert all(r["ok"] for r in res.extra["joint_monotone_check"]["lightgbm"].values())
    # training PDs are out of fold: not flattered by the memorised customers
    y = res.y_train
    in_sample = auc(y, est.predict_proba(res.X_train[res.features])[:, 1])
    oof = auc(y, res.models["lightgbm"].pd_train)
    assert res.extra["train_pd"] == "out_of_fold" and np.array_equal(res.models["lightgbm"].pd_train,
                                                                     res.extra["oof_pd"]["lightgbm"])
    assert in_sample > oof + 0.01, (in_sample, oof)
    html = render_report(res, s)
    assert 'id="model-selection"' in html and "default (params.yaml)" in html and "Reasons rows/s" in html


# ------------------------------------------------------------------ flat path with groups
def test_flat_panel_groups_stay_in_one_fold_and_need_no_id(tmp_path: Path) -> None:
    df = _panel(n_customers=120, n_snap=4).drop(columns="snapshot_date")
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    X, y, ids, times, groups = load_flat_panel(path, "default", group_col="customer_id")
    assert ids is None and times is None and "customer_id" not in X.columns and len(groups) == len(y)
    s = _settings(model_selection={"budget_seconds": 20, "n_trials": 2})
    res = train_flat(X, y, s, baseline=None, groups=groups)
    folds = res.extra["folds"]
    per_group = pd.Series(folds).groupby(groups.to_numpy()).nunique()
    assert (per_group == 1).all()  # every customer's rows in one fold
    assert res.data["grouped_folds"] is True and res.data["clustered_by"] == "customer_id"
    assert len(res.extra["model_selection"]["folds"]) == 5  # nested: one search per outer fold
    assert np.array_equal(res.models["lightgbm"].pd_train, res.models["lightgbm"].pd_test)  # out of fold


def test_flat_panel_refuses_missing_groups(tmp_path: Path) -> None:
    df = _panel(n_customers=10, n_snap=2)
    df.loc[3, "customer_id"] = None
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match="group column 'customer_id' has missing values.*rows \\[3\\]"):
        load_flat_panel(path, "default", group_col="customer_id")
    with pytest.raises(SchemaError, match="group column 'client' not found"):
        load_flat_panel(path, "default", group_col="client")


def test_grouped_cv_needs_enough_groups() -> None:
    df = _panel(n_customers=4, n_snap=40)
    with pytest.raises(ValueError, match="at least 5 groups"):
        cross_validate_and_compare(df[["x0"]], df["default"], _settings(), None, {}, folds=5,
                                   groups=df["customer_id"].to_numpy())


def test_settings_refuse_unknown_selection_keys() -> None:
    with pytest.raises(ConfigError, match="model_selection.trials"):
        load_settings(overrides={"model_selection": {"trials": 3}})


# ------------------------------------------------------------------ learning curve
def test_learning_curve_is_nested_by_customer_and_ends_with_the_trained_model() -> None:
    df = _panel(n_customers=300, n_snap=5)
    tr, te = df[df.snapshot_date < "2021-03-31"], df[df.snapshot_date >= "2021-03-31"]
    s = _settings(model_selection={"enabled": False})
    feats = ["x0", "x1", "noise"]
    res = train_and_compare(tr[feats], tr["default"], te[feats], te["default"], s, None, {"source": "table"},
                            train_groups=tr["customer_id"].to_numpy())
    rows = learning_curve(res, tr["customer_id"].to_numpy(), (0.5, 0.25))
    assert [r["share"] for r in rows] == [0.25, 0.5, 1.0]
    assert [r["customers"] for r in rows] == [75, 150, 300] and [r["rows"] for r in rows] == [300, 600, 1200]
    assert rows[-1]["auc_lightgbm"] == pytest.approx(auc(res.y_test, res.models["lightgbm"].pd_test))
    assert all(0.6 < r["auc_lightgbm"] < 1 for r in rows)
    text = curve_verdict(rows, "lightgbm")
    assert ("still rising" in text) == (rows[-1]["auc_lightgbm"] - rows[1]["auc_lightgbm"] > 0.005)
    res.extra["learning_curve"] = rows
    html = render_report(res, s)
    assert 'id="learning-curve"' in html and "Would more history help?" in html and "75" in html
    assert 'id="model-selection"' not in html  # selection was off
