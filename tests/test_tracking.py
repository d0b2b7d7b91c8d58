"""MLflow tracking on a real SQLite store under a temporary folder: runs, registry, alias, pyfunc, bundle."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from _tracking_helpers import project_settings, train_result
from riskmodel import tracking
from riskmodel.bundle import Bundle
from riskmodel.exceptions import ModelNotFoundError
from riskmodel.export import build_bundle
from riskmodel.grades import assign_grades
from riskmodel.pipeline import publish_training

pytestmark = pytest.mark.slow  # real training runs published to a real MLflow store (about a minute of set-up)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two training runs logged to one store: A (a learned model wins), then B (the baseline wins)."""
    root = tmp_path_factory.mktemp("tracking")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = project_settings(root)
        client = MlflowClient(tracking.resolve_tracking_uri(settings))
        name = settings.tracking.registered_model
        result_a = train_result(settings, learned_signal=True)
        publish_training(result_a, settings, root / "out_a", run_name="a")
        after_a = client.get_model_version_by_alias(name, "champion")
        bundle_a = Bundle.load(root / "models" / "champion")
        result_b = train_result(settings, learned_signal=False)
        publish_training(result_b, settings, root / "out_b", run_name="b")
        yield {"root": root, "settings": settings, "client": client, "name": name, "a": result_a,
               "b": result_b, "after_a": after_a, "bundle_a": bundle_a}


# ------------------------------------------------------------------ store location
def test_relative_sqlite_uri_resolves_against_params_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = project_settings(tmp_path / "proj", {"tracking": {"uri": "sqlite:///store/runs.db"}})
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    assert tracking.resolve_tracking_uri(settings) == f"sqlite:///{(tmp_path / 'proj' / 'store' / 'runs.db').resolve()}"
    assert tracking.resolve_artifact_location(settings, tracking.resolve_tracking_uri(settings)) == \
        (tmp_path / "proj" / "mlartifacts").resolve().as_uri()


def test_environment_uri_wins_and_servers_choose_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = project_settings(tmp_path / "proj")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/env/mlruns.db")
    uri = tracking.resolve_tracking_uri(settings)
    assert uri == f"sqlite:///{tmp_path}/env/mlruns.db"
    # a store from the environment keeps its artifacts beside it, not in the project
    assert tracking.resolve_artifact_location(settings, uri) == (tmp_path / "env" / "mlartifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.resolve_tracking_uri(settings) == "http://mlflow.example:5000"
    assert tracking.resolve_artifact_location(settings, "http://mlflow.example:5000") is None


# ------------------------------------------------------------------ registry and alias
def test_champion_alias_goes_to_the_learned_winner(store: dict) -> None:
    a = store["a"]
    assert a.champion in ("lightgbm", "logistic_scorecard")  # premise: the learned model wins on data A
    mv = store["after_a"]
    assert mv.tags[tracking.MODEL_TAG] == a.champion
    assert store["bundle_a"].manifest["mlflow_run_id"] == mv.run_id
    assert store["bundle_a"].model_name == a.champion


def test_champion_alias_moves_to_the_baseline_when_it_is_not_beaten(store: dict) -> None:
    b = store["b"]
    assert b.champion == "baseline_5c"  # premise: on data B the risk is the baseline's own indicators
    mv = store["client"].get_model_version_by_alias(store["name"], "champion")
    assert mv.tags[tracking.MODEL_TAG] == "baseline_5c"
    assert int(mv.version) > int(store["after_a"].version)
    assert mv.run_id != store["after_a"].run_id
    # the aliases are the only marker: the deprecated stages are not used
    assert mv.current_stage in (None, "None", "")


def test_every_model_of_every_run_is_a_version(store: dict) -> None:
    versions = store["client"].search_model_versions(f"name='{store['name']}'")
    pairs = {(v.run_id, v.tags[tracking.MODEL_TAG]) for v in versions}
    assert len(versions) == len(store["a"].models) + len(store["b"].models)
    assert {m for _, m in pairs} == {"baseline_5c", "baseline_5c_refit", "lightgbm", "logistic_scorecard"}
    assert len({r for r, _ in pairs}) == 2


def test_run_has_params_metrics_tags_and_artifacts(store: dict) -> None:
    client = store["client"]
    run_id = store["after_a"].run_id
    run = client.get_run(run_id)
    a = store["a"]
    assert run.info.status == "FINISHED"
    m = run.data.metrics
    assert m["lightgbm.auc"] == pytest.approx(a.models["lightgbm"].metrics["auc"])
    assert m["lightgbm.auc_ci95_lo"] == pytest.approx(a.models["lightgbm"].metrics["auc_ci95"][0])
    assert m["lightgbm.vs_baseline_p_value"] == pytest.approx(a.vs_baseline["lightgbm"]["p_value"])
    assert m["oracle.auc"] == pytest.approx(a.oracle["auc"])
    assert m["data.n_test"] == len(a.y_test)
    assert run.data.params["models.lightgbm.params.n_estimators"] == "40"
    assert run.data.params["master_scale.grades.0.grade"] == "A1"
    assert "root" not in run.data.params
    assert run.data.tags["champion"] == a.champion
    listed = set()
    for top in ("", "report", "report/plots", "bundle", "models/lightgbm"):
        listed |= {f.path for f in client.list_artifacts(run_id, top or None)}
    for expected in ("params.yaml", "report/metrics.json", "report/report.html", "report/plots/roc.png",
                     "report/plots/shap.png", "bundle/manifest.json", "bundle/model.joblib",
                     "models/lightgbm/MLmodel"):
        assert expected in listed, expected


def test_failed_training_marks_the_run_failed(store: dict) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with tracking.training_run(store["settings"], run_name="broken") as run_id:
            raise RuntimeError("boom")
    assert store["client"].get_run(run_id).info.status == "FAILED"


# ------------------------------------------------------------------ loading the champion
def test_pyfunc_champion_from_registry_returns_bundle_pds(store: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking.resolve_tracking_uri(store["settings"]))
    model = mlflow.pyfunc.load_model(f"models:/{store['name']}@champion")
    bundle = Bundle.load(store["root"] / "models" / "champion")
    X = store["b"].X_test.head(60)
    out = model.predict(X)
    assert {"pd", "grade", "credit_level", "reason_up_1", "reason_down_1", "limit"} <= set(out.columns)
    assert out["reason_up_1"].notna().any() and (out["status"] == "scored").all()
    assert out["model_version"].eq(bundle.version).all()
    expected = bundle.model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(out["pd"].to_numpy(float), expected, rtol=1e-12)
    assert list(out["grade"]) == list(assign_grades(expected, store["settings"].master_scale))
    # records as a JSON client sends them: categoricals as plain strings, one feature left out
    records = X.astype({"reg_industry": str}).drop(columns=["evt_lawsuits_24m"])
    again = model.predict(records)
    full = bundle.model.predict_proba(X.assign(evt_lawsuits_24m=np.nan))[:, 1]
    np.testing.assert_allclose(again["pd"].to_numpy(float), full, rtol=1e-12)


def test_load_champion_is_the_latest_champion_bundle(store: dict) -> None:
    loaded = tracking.load_champion(store["settings"])
    on_disk = Bundle.load(store["root"] / "models" / "champion")
    assert loaded.model_name == "baseline_5c" == on_disk.model_name
    assert loaded.version == on_disk.version
    X = store["b"].X_test
    np.testing.assert_array_equal(loaded.model.predict_proba(X), on_disk.model.predict_proba(X))


def test_load_champion_without_a_registered_model_is_a_clear_error(store: dict) -> None:
    settings = store["settings"]
    absent = settings.model_copy(update={"tracking": settings.tracking.model_copy(
        update={"registered_model": "riskmodel-never-trained"})})
    with pytest.raises(ModelNotFoundError, match="riskmodel-never-trained.*riskmodel train"):
        tracking.load_champion(absent)


# ------------------------------------------------------------------ bundle
def test_bundle_round_trip_predicts_identically(store: dict, tmp_path: Path) -> None:
    a, settings = store["a"], store["settings"]
    bundle = build_bundle(a, settings, run_id="0123456789abcdef")
    loaded = Bundle.load(bundle.save(tmp_path / "b"))
    X = a.X_test
    np.testing.assert_array_equal(loaded.model.predict_proba(X), bundle.model.predict_proba(X))
    np.testing.assert_array_equal(loaded.baseline.credit_level(X), a.models["baseline_5c"].estimator.credit_level(X))
    man = loaded.manifest
    assert man["model_name"] == a.champion and man["version"].endswith("-01234567")
    assert man["features"] == a.features
    assert man["categorical_levels"] == {"reg_industry": ["construction", "retail", "services"]}
    assert [g["grade"] for g in man["master_scale"]["grades"]][0] == "A1"
    assert [i["feature"] for i in man["baseline"]] == [i.feature for i in a.models["baseline_5c"].estimator.indicators_]
    assert man["metrics"] == json.loads(json.dumps(man["metrics"]))  # plain JSON
    assert man["calibration"] == settings.models.calibration
    assert "AUC" in loaded.model_card and "Limitations" in loaded.model_card
    # the card with its rationales, and the lifts over both cards when the champion is a learned model
    for ind in a.models["baseline_5c"].estimator.indicators_:
        assert f"| {ind.c} | `{ind.feature}` | {ind.weight:g} (" in loaded.model_card
        assert ind.rationale in loaded.model_card
    if a.champion in a.vs_refitted:
        lift = a.vs_refitted[a.champion]
        assert (f"- against the refitted 5C card (the experts' points, weights refitted): AUC "
                f"{lift['auc_diff']:+.3f} ({lift['auc_diff_ci95'][0]:+.3f} to {lift['auc_diff_ci95'][1]:+.3f})"
                in loaded.model_card)


def test_reference_distributions_are_training_shares(store: dict) -> None:
    a = store["a"]
    ref = build_bundle(a, store["settings"], run_id=None).reference
    assert set(ref["variable"]) == set(a.features) | {"score"}
    shares = ref.groupby("variable")["share"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0)
    counts = ref.groupby("variable")["count"].sum()
    assert (counts == len(a.y_train)).all()
    equity = ref[ref["variable"] == "fin_equity_ratio"]
    missing = equity.loc[equity["bin_type"] == "missing", "share"].item()
    assert missing == pytest.approx(a.X_train["fin_equity_ratio"].isna().mean())
    intervals = equity[equity["bin_type"] == "interval"]
    assert intervals["lower"].iloc[0] == -np.inf and intervals["upper"].iloc[-1] == np.inf
    assert (intervals["lower"].iloc[1:].to_numpy() == intervals["upper"].iloc[:-1].to_numpy()).all()
    industry = ref[(ref["variable"] == "reg_industry") & (ref["bin_type"] == "category")]
    assert list(industry["level"]) == ["construction", "retail", "services"]


def test_bundle_of_an_unknown_model_is_refused(store: dict) -> None:
    with pytest.raises(KeyError, match="no model named 'xgboost'"):
        build_bundle(store["a"], store["settings"], run_id=None, model_name="xgboost")


# ------------------------------------------------------------------ params and metrics
def test_flatten_params_nests_dicts_and_lists_of_dicts() -> None:
    flat = tracking.flatten_params({"a": {"b": 1, "c": [1, 2]}, "g": [{"x": "y"}], "t": (3,)})
    assert flat == {"a.b": "1", "a.c": "[1, 2]", "g.0.x": "y", "t": "[3]"}
    assert tracking.flatten_params({"s": "x" * 7000})["s"] == "x" * 6000  # MLflow's value limit


def test_mlflow_metrics_cover_metrics_json_without_nan(store: dict) -> None:
    a = store["a"]
    m = tracking.metrics_for_mlflow(a)
    for name in a.models:
        for key in ("auc", "gini", "ks", "brier", "log_loss", "psi", "auc_ci95_lo", "auc_ci95_hi"):
            assert f"{name}.{key}" in m
    assert "baseline_5c.vs_baseline_p_value" not in m
    # the headline lifts: over the experts' card and over the refitted card, interval as _lo/_hi
    gbm, gbm_r = a.vs_baseline["lightgbm"], a.vs_refitted["lightgbm"]
    assert m["lightgbm.vs_refitted_auc_diff"] == pytest.approx(gbm_r["auc_diff"])
    assert m["lightgbm.vs_baseline_auc_diff_ci95_lo"] == pytest.approx(gbm["auc_diff_ci95"][0])
    assert m["lightgbm.vs_refitted_auc_diff_ci95_hi"] == pytest.approx(gbm_r["auc_diff_ci95"][1])
    assert m["baseline_5c_refit.vs_baseline_oracle_gap_closed"] == pytest.approx(
        a.vs_baseline["baseline_5c_refit"]["oracle_gap_closed"])
    assert all(np.isfinite(v) for v in m.values())
    no_oracle = dataclasses.replace(a, oracle=None, vs_baseline={}, vs_refitted={})
    m2 = tracking.metrics_for_mlflow(no_oracle)
    assert not any(k.startswith("oracle.") or "vs_baseline" in k or "vs_refitted" in k for k in m2)
    assert "lightgbm.auc" in m2
