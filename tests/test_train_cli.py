"""`riskmodel train` end to end through the CLI: six tables and flat tables, metrics.json, report, registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from _datasets import datasets_dir
from _tracking_helpers import write_params
from riskmodel import tracking
from riskmodel.bundle import Bundle
from riskmodel.cli import app
from riskmodel.config import load_settings
from riskmodel.exceptions import ConfigError
from riskmodel.pipeline import _split_out_of_time

REPO = Path(__file__).resolve().parents[1]
GERMAN = datasets_dir() / "german_credit" / "german_credit.csv"
GERMAN_BASELINE = REPO / "configs" / "baselines" / "german_credit.yaml"
MODELS = {"baseline_5c", "baseline_5c_refit", "lightgbm", "logistic_scorecard"}
BASELINES = {"baseline_5c", "baseline_5c_refit"}

#: a small simulated base: 400 customers over 2019-2022, eight quarterly snapshots
SMALL_BASE = {
    "simulation": {"n_customers": 400, "years": 5},
    "snapshots": {"start": "2020-03-31", "end": "2022-12-31"},
    "split": {"train_start": "2020-03-31", "train_end": "2021-06-30",
              "test_start": "2022-06-30", "test_end": "2022-12-31"},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One params file, MLflow store and models folder for the module; the small base simulated once."""
    root = tmp_path_factory.mktemp("train_cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        params = write_params(root, SMALL_BASE)
        raw = root / "data" / "raw"
        res = CliRunner().invoke(app, ["simulate", "--params", str(params), "--out", str(raw)])
        assert res.exit_code == 0, res.output
        yield {"root": root, "params": params, "raw": raw}


def _train(project: dict, *args: str) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        res = CliRunner().invoke(app, ["train", "--params", str(project["params"]), *args])
    text = res.output + (getattr(res, "stderr", "") if res.output != getattr(res, "stderr", "") else "")
    return res.exit_code, text + (repr(res.exception) if res.exception and res.exit_code != 1 else "")


def check_metrics_schema(doc: dict, source: str, split: str, baseline: bool, oracle: bool) -> None:
    """metrics.json as issue 3 specifies it (keys, types, and which blocks appear when)."""
    data = doc["data"]
    assert data["source"] == source and data["split"] == split
    assert isinstance(data["n_train"], int) and isinstance(data["n_test"], int) and data["n_test"] > 0
    assert isinstance(data["test_positive_rate"], float) and 0 < data["test_positive_rate"] < 1
    assert set(doc["models"]) == (MODELS if baseline else MODELS - BASELINES)
    for m in doc["models"].values():
        for key in ("auc", "gini", "ks", "brier", "log_loss"):
            assert isinstance(m[key], float), key
        lo, hi = m["auc_ci95"]
        assert isinstance(lo, float) and lo <= m["auc"] <= hi
        assert m["gini"] == pytest.approx(2 * m["auc"] - 1)
    assert doc["champion"] in doc["models"]
    if baseline:
        assert set(doc["vs_baseline"]) == MODELS - {"baseline_5c"}
        assert set(doc["vs_refitted"]) == MODELS - BASELINES  # the learned models over the refitted card
        for block in ("vs_baseline", "vs_refitted"):
            for cmp in doc[block].values():
                assert isinstance(cmp["auc_diff"], float) and 0 <= cmp["p_value"] <= 1
                lo, hi = cmp["auc_diff_ci95"]
                assert lo <= cmp["auc_diff"] <= hi
                assert ("oracle_gap_closed" in cmp) == oracle
        assert doc["champion_gate"]["against"] == "baseline_5c"
    else:
        assert "vs_baseline" not in doc and "vs_refitted" not in doc
    if oracle:
        assert set(doc["oracle"]) >= {"auc", "brier"} and 0.5 < doc["oracle"]["auc"] <= 1
    else:
        assert "oracle" not in doc


def _champion_version(project: dict, suffix: str = ""):  # noqa: ANN202 - mlflow ModelVersion
    settings = load_settings(project["params"])
    client = MlflowClient(tracking.resolve_tracking_uri(settings))
    return client.get_model_version_by_alias(settings.tracking.registered_model + suffix, "champion")


@pytest.mark.slow
def test_train_on_the_six_tables(project: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _train(project, "--data", str(project["raw"]), "--out", str(out))
    assert code == 0, output
    doc = json.loads((out / "metrics.json").read_text())
    check_metrics_schema(doc, source="simulated", split="out_of_time", baseline=True, oracle=True)
    html = (out / "report.html").read_text()
    assert "Models side by side" in html and html.count("data:image/png;base64,") == 4
    assert "Oracle (true PD)" in html
    assert {p.name for p in (out / "plots").iterdir()} == {"roc.png", "calibration.png", "grades.png", "shap.png"}
    assert (out / "params.yaml").is_file() and (out / "data_dictionary.csv").is_file()
    bundle = Bundle.load(project["root"] / "models" / "champion")
    assert bundle.model_name == doc["champion"]
    assert bundle.manifest["training_period"] == ["2020-03-31", "2021-06-30"]
    mv = _champion_version(project)
    assert mv.tags[tracking.MODEL_TAG] == doc["champion"] and mv.run_id == bundle.manifest["mlflow_run_id"]


@pytest.mark.slow
def test_train_on_german_credit_with_its_baseline(project: dict, tmp_path: Path) -> None:
    out = tmp_path / "german"
    production = project["root"] / "models" / "champion" / "manifest.json"
    before = production.read_text() if production.exists() else None
    code, output = _train(project, "--table", str(GERMAN), "--target", "default",
                          "--baseline", str(GERMAN_BASELINE), "--out", str(out))
    assert code == 0, output
    doc = json.loads((out / "metrics.json").read_text())
    check_metrics_schema(doc, source="table", split="cv5", baseline=True, oracle=False)
    assert doc["data"]["n_test"] == 1000  # every row is scored out of fold
    assert doc["models"]["lightgbm"]["auc"] > 0.7 and doc["models"]["baseline_5c"]["auc"] > 0.6
    html = (out / "report.html").read_text()
    assert "out-of-fold rows" in html and "Oracle (true PD)" not in html
    assert not (out / "data_dictionary.csv").exists()  # German's columns are not our features
    # a flat table gets its own bundle and registered model: the production champion is untouched
    bundle = Bundle.load(project["root"] / "models" / "table-german_credit")
    assert bundle.model_name == doc["champion"]
    assert _champion_version(project, "-table-german_credit").tags[tracking.MODEL_TAG] == doc["champion"]
    assert (production.read_text() if production.exists() else None) == before
    raw = pd.read_csv(GERMAN).head(20)  # the bundle scores the raw table's rows
    assert np.isfinite(bundle.model.predict_proba(raw[bundle.features])[:, 1]).all()


def test_flat_table_out_of_time_without_baseline(project: dict, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 800
    x = rng.normal(size=n)
    frame = pd.DataFrame({
        "loan_id": [f"L{i}" for i in range(n)],
        "month": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "ratio": x,
        "sector": rng.choice(["a", "b", "c"], n),
        "bad": (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 1.2 * x)))).astype(int),
    })
    frame.loc[::17, "ratio"] = np.nan
    table = tmp_path / "flat.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "flat_out"
    code, output = _train(project, "--table", str(table), "--target", "bad", "--id", "loan_id",
                          "--time", "month", "--out", str(out))
    assert code == 0, output
    doc = json.loads((out / "metrics.json").read_text())
    check_metrics_schema(doc, source="table", split="out_of_time", baseline=False, oracle=False)
    assert doc["data"]["n_test"] == 200 and doc["data"]["n_train"] == 600  # the latest 25% of time


def test_empty_test_period_is_refused_clearly(project: dict, tmp_path: Path) -> None:
    params = write_params(tmp_path / "p", {**SMALL_BASE, "split": {**SMALL_BASE["split"],
                                           "test_start": "2023-03-31", "test_end": "2023-06-30"}})
    code, output = _train({"params": params}, "--data", str(project["raw"]), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "test period 2023-03-31..2023-06-30" in output and "holds no rows" in output
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_unknown_target_column_is_refused_clearly(project: dict, tmp_path: Path) -> None:
    code, output = _train(project, "--table", str(GERMAN), "--target", "defaulted", "--out", str(tmp_path))
    assert code == 1 and "defaulted" in output
    assert not (tmp_path / "metrics.json").exists()


def test_out_of_time_split_takes_the_params_periods_and_refuses_one_class() -> None:
    settings = load_settings()  # train 2020-03-31..2022-03-31, test 2023-03-31..2023-12-31
    dates = pd.to_datetime(["2020-03-31", "2022-03-31", "2022-06-30", "2023-03-31", "2023-12-31", "2024-03-31"])
    table = pd.DataFrame({"customer_id": list("abcdef"), "snapshot_date": dates, "default_12m": [0, 1, 1, 0, 1, 1]})
    train, test = _split_out_of_time(table, settings)
    assert list(train["customer_id"]) == ["a", "b"] and list(test["customer_id"]) == ["d", "e"]
    one_class = table.assign(default_12m=[0, 1, 1, 0, 0, 1])
    with pytest.raises(ConfigError, match=r"test period 2023-03-31..2023-12-31 .* has 2 rows but only label "
                                          r"default_12m=0"):
        _split_out_of_time(one_class, settings)


@pytest.mark.slow
def test_train_without_history_leaves_its_features_out_and_says_so(project: dict, tmp_path: Path) -> None:
    """An old folder without customer_terms trains; the history features are out of every model and the card."""
    import shutil

    from riskmodel.features.registration import HISTORY_FEATURES

    old = tmp_path / "raw_old"
    shutil.copytree(project["raw"], old)
    for f in old.glob("customer_terms.*"):
        f.unlink()
    out = tmp_path / "out_old"
    code, output = _train(project, "--data", str(old), "--out", str(out))
    assert code == 0, output
    doc = json.loads((out / "metrics.json").read_text())
    left_out = doc["data"]["features_left_out"]
    assert all(f in left_out for f in HISTORY_FEATURES) and "customer_terms" in left_out
    assert "Features left out" in (out / "report.html").read_text()
    bundle = Bundle.load(project["root"] / "models" / "champion")
    assert not set(bundle.features) & set(HISTORY_FEATURES)
    assert "features left out" in bundle.model_card and "reg_log_credit_limit" in bundle.model_card
