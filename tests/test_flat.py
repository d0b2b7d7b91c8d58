"""The flat-table path: loading and checking a table, splitting, baseline files, German credit end to end."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _datasets import dataset, datasets_dir
from _tracking_helpers import FAST_SEARCH
from riskmodel.config import load_settings
from riskmodel.exceptions import ConfigError, DataNotFoundError, SchemaError
from riskmodel.flat import (
    binary_target,
    find_target_proxies,
    load_baseline_file,
    load_flat_table,
    split_flat,
    train_flat,
)

ROOT = Path(__file__).resolve().parents[1]
DATASETS = datasets_dir()
GERMAN = DATASETS / "german_credit" / "german_credit.csv"
TAIWAN = DATASETS / "taiwan_credit_card_default" / "default_of_credit_card_clients.csv"
BASELINES = ROOT / "configs" / "baselines"


def _need(path: Path) -> None:
    dataset(str(path.relative_to(DATASETS)))  # fails loudly, naming the file, when it is absent


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f"],
        "month": ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"],
        "income": [10.0, np.nan, 30.0, 40.0, 50.0, 60.0],
        "sector": ["retail", "farm", None, "retail", "farm", "retail"],
        "flag": [True, False, True, False, True, False],
        "status": ["bad", "good", "good", "bad", "good", "bad"],
    })


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_flat_table_types_ids_times(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    df = _table()
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    X, y, ids, times = load_flat_table(path, "status", id_col="id", time_col="month")
    assert y.tolist() == [1, 0, 0, 1, 0, 1]  # "bad" reads as default
    assert list(X.columns) == ["income", "sector", "flag"]
    assert isinstance(X["sector"].dtype, pd.CategoricalDtype) and X["sector"].isna().sum() == 1
    assert np.isnan(X["income"].iloc[1])  # missing values kept
    assert ids.tolist() == list("abcdef") and times.iloc[0] == pd.Timestamp("2020-01-01")


def test_target_values_are_read_or_refused() -> None:
    assert binary_target(pd.Series([1, 2, 2, 1], name="class"))[0].tolist() == [0, 1, 1, 0]
    assert binary_target(pd.Series([True, False], name="t"))[0].tolist() == [1, 0]
    assert binary_target(pd.Series(["No", "Yes"], name="t"))[0].tolist() == [0, 1]
    with pytest.raises(SchemaError, match=r"'grade'.*three|'grade'.*found 3"):
        binary_target(pd.Series(["A", "B", "C"], name="grade"))
    with pytest.raises(SchemaError, match="cannot tell"):
        binary_target(pd.Series(["red", "blue"], name="colour"))
    with pytest.raises(SchemaError, match=r"missing values: 1 row\(s\), first at rows \[2\]"):
        binary_target(pd.Series([0, 1, None], name="default"))


def test_bad_tables_are_refused_with_the_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    df = _table()
    df.to_csv(path, index=False)
    with pytest.raises(DataNotFoundError):
        load_flat_table(tmp_path / "none.csv", "status")
    with pytest.raises(SchemaError, match="'target_x'"):
        load_flat_table(path, "target_x")
    df.assign(id=["a", "a", "c", "d", "e", "f"]).to_csv(path, index=False)
    with pytest.raises(SchemaError, match="not unique.*'a'"):
        load_flat_table(path, "status", id_col="id")
    df.assign(month=["2020-01", "soon", "2020-03", "2020-04", "2020-05", "2020-06"]).to_csv(path, index=False)
    with pytest.raises(SchemaError, match="'month'.*soon"):
        load_flat_table(path, "status", time_col="month")


def test_columns_that_relabel_the_target_are_dropped(tmp_path: Path, caplog) -> None:
    df = _table().assign(outcome=lambda d: d["status"].map({"bad": "B", "good": "G"}))
    assert find_target_proxies(df[["income", "outcome"]], (df["status"] == "bad").to_numpy()) == ["outcome"]
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    with caplog.at_level(logging.WARNING):
        X, *_ = load_flat_table(path, "status", id_col="id", time_col="month")
    assert "outcome" not in X.columns and "outcome" in caplog.text


def test_split_flat_out_of_time_and_cv() -> None:
    s = load_settings().split
    y = np.array([0, 1] * 10)
    times = pd.Series(pd.date_range("2020-01-31", periods=20, freq="ME"))
    sp = split_flat(y, times, s)
    assert sp.kind == "out_of_time" and len(sp.test) == 5 and len(sp.train) == 15
    assert times.iloc[sp.train].max() < times.iloc[sp.test].min()
    tied = pd.Series(np.repeat([1, 2, 3, 4], 5))  # rows sharing a time stay together
    sp = split_flat(y, tied, s)
    assert set(tied.iloc[sp.test]) == {4} and len(sp.test) == 5
    assert split_flat(y, None, s).kind == "cv" and split_flat(y, None, s).folds == s.cv_folds
    with pytest.raises(SchemaError, match="one class"):
        split_flat(np.r_[np.zeros(15, int), np.array([0, 1, 0, 1, 0])], times, s)


def test_baseline_files(tmp_path: Path) -> None:
    bad = tmp_path / "b.yaml"
    bad.write_text("indicators:\n  - {feature: x, c: character, weight: 1, cuts: [1, 0], "
                   "direction: higher_is_better}\n")
    with pytest.raises(ConfigError, match="ascending"):
        load_baseline_file(bad)
    bad.write_text("indicators:\n  - {feature: x, c: charisma, weight: 1, categories: {a: 1}}\n")
    with pytest.raises(ConfigError, match=r"indicators\.0\.c"):
        load_baseline_file(bad)
    bad.write_text("weights: {}\n")
    with pytest.raises(ConfigError, match="indicators"):
        load_baseline_file(bad)
    ok = tmp_path / "ok.yaml"
    ok.write_text("baseline:\n  indicators:\n    - {feature: x, c: capital, weight: 2, cuts: [0], points: [1, 9]}\n")
    with pytest.raises(ConfigError, match=r"without a rationale: \['x'\]"):  # a card explains every indicator
        load_baseline_file(ok)
    ok.write_text("baseline:\n  indicators:\n    - {feature: x, c: capital, weight: 2, cuts: [0], points: [1, 9],\n"
                  "       rationale: \"the more capital paid in, the more stands behind the firm\"}\n")
    assert load_baseline_file(ok).indicators[0].weight == 2


@pytest.mark.parametrize("data, target, id_col, name", [
    (GERMAN, "default", None, "german_credit.yaml"),
    (TAIWAN, "default_payment_next_month", "ID", "taiwan_credit.yaml"),
])
def test_shipped_baselines_match_their_tables(data: Path, target: str, id_col, name: str) -> None:
    _need(data)
    base = load_baseline_file(BASELINES / name)
    df = pd.read_csv(data)
    for ind in base.indicators:
        assert ind.feature in df.columns, ind.feature
        if ind.categories is not None:  # every category label is spelled as in the data
            values = {str(v) for v in df[ind.feature].dropna().unique()}
            assert values <= set(ind.categories), (ind.feature, values - set(ind.categories))
    assert {i.c for i in base.indicators} >= {"character", "capacity", "capital", "conditions"}
    assert all(len(i.rationale) > 20 for i in base.indicators)


@pytest.fixture(scope="module")
def german_result():
    _need(GERMAN)
    settings = load_settings(overrides={
        "models": {"n_jobs": 1, "calibration_folds": 2, "lightgbm": {"params": {"n_estimators": 80}}},
        "evaluation": {"bootstrap_samples": 200},
        **FAST_SEARCH,  # the tests' small model search: the shipped 60-second one is tested in test_model_selection
    })
    X, y, ids, times = load_flat_table(GERMAN, "default")
    base = load_baseline_file(BASELINES / "german_credit.yaml")
    return train_flat(X, y, settings, base, ids=ids, times=times), X


@pytest.mark.slow
def test_german_credit_cross_validated(german_result) -> None:
    res, X = german_result
    assert "class" not in X.columns  # the relabelled target is not a feature
    doc = json.loads(json.dumps(res.metrics_json()))
    assert doc["data"] == {"source": "table", "split": "cv5", "n_train": 1000, "n_test": 1000,
                           "test_positive_rate": 0.3}
    assert set(doc["models"]) == {"baseline_5c", "baseline_5c_refit", "lightgbm", "logistic_scorecard"}
    for name in ("lightgbm", "logistic_scorecard"):
        assert 0.70 < doc["models"][name]["auc"] < 0.85, name
        assert {"auc_diff", "auc_diff_ci95", "p_value"} <= set(doc["vs_baseline"][name])
        assert {"auc_diff", "auc_diff_ci95", "p_value"} <= set(doc["vs_refitted"][name])
    assert 0.6 < doc["models"]["baseline_5c"]["auc"] < 0.8  # the expert scorecard carries signal
    assert "oracle" not in doc and doc["champion"] in doc["models"]
    base = res.models["baseline_5c"].estimator
    subs = base.sub_scores(X.iloc[:5])
    assert list(subs.columns) == ["character", "capacity", "capital", "collateral", "conditions"]
    assert ((subs >= 0.1) & (subs <= 1)).all().all()


@pytest.mark.slow
def test_german_credit_out_of_time_with_a_made_up_time_column(german_result) -> None:
    res, X = german_result
    _, y, _, _ = load_flat_table(GERMAN, "default")
    times = pd.Series(pd.date_range("2001-01-01", periods=len(y), freq="D"))
    s = load_settings(overrides={"models": {"n_jobs": 1, "enabled": ["logistic_scorecard"],
                                            "calibration": "none"},
                                 "evaluation": {"bootstrap_samples": 100}})
    r = train_flat(X, y, s, None, times=times)
    assert r.data["split"] == "out_of_time" and r.data["n_test"] == 250
    assert r.test_frame["time"].min() > pd.Timestamp(r.data["time_cutoff"])
    assert r.champion == "logistic_scorecard"


@pytest.mark.slow
def test_registered_pyfunc_of_a_table_with_text_categories_returns_reasons(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A text column (here ``sector``) must not stop the registered pyfunc from giving reasons (issue 10.5)."""
    import mlflow

    from riskmodel.pipeline import run_train_table

    rng = np.random.default_rng(7)
    n = 400
    sector = rng.choice(["retail", "farm", "tech"], n)
    income = rng.normal(50, 15, n)
    logit = -1.0 - 0.05 * (income - 50) + np.where(sector == "farm", 1.5, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    table = tmp_path / "shops.csv"
    pd.DataFrame({"income": income, "sector": sector, "default": y}).to_csv(table, index=False)
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    settings = load_settings(overrides={
        "paths": {k: str(tmp_path / k) for k in ("raw_dir", "generated_dir", "models_dir", "reports_dir")},
        "tracking": {"uri": uri, "artifact_dir": str(tmp_path / "artifacts")},
        "models": {"n_jobs": 1, "calibration_folds": 2, "lightgbm": {"params": {"n_estimators": 40}}},
        "evaluation": {"bootstrap_samples": 50},
    })
    run_train_table(settings, table, "default", out_dir=tmp_path / "report")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # not mlflow.set_tracking_uri: that global would leak
    model = mlflow.pyfunc.load_model(f"models:/{settings.tracking.registered_model}-table-shops@champion")
    rows = pd.DataFrame({"income": [20.0, 80.0, 50.0], "sector": ["farm", "tech", "retail"]})
    out = model.predict(rows)
    assert len(out) == 3 and out["pd"].between(0, 1).all()
    assert {"reason_up_1", "reason_down_1", "reason_up_1_code"} <= set(out.columns)
    texts = pd.concat([out[c] for c in out.columns if c.startswith("reason_") and not c.endswith("_code")])
    assert texts.notna().sum() >= 3  # every row explained
    sector_texts = [t for t in texts.dropna() if t.startswith("Other: sector is ")]
    # a text category is quoted as a level, against the reference customer's level
    assert sector_texts and all("(typical customer in good standing: " in t for t in sector_texts)
