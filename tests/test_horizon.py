"""The label horizon (snapshots.horizon_months) is said once: label name, texts and the oracle follow it.

A tiny simulated base with ``horizon_months: 6``: the modelling table's label is ``default_6m`` (never
``default_12m``), a 6-month label is a sub-window of the 12-month one, the data dictionary names it,
and training leaves the simulator's 12-month oracle out with a warning that says why, never using
the label as a feature.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from _tracking_helpers import write_params
from riskmodel.bundle import Bundle
from riskmodel.cli import app
from riskmodel.config import load_settings
from riskmodel.data import schemas as S
from riskmodel.data.sim_oracle import ORACLE_HORIZON_MONTHS
from riskmodel.data.validation import load_and_validate
from riskmodel.export import model_card
from riskmodel.features.build import build_modelling_table
from riskmodel.io import read_frame

SIX = {
    "simulation": {"n_customers": 300, "years": 5},
    "snapshots": {"start": "2020-03-31", "end": "2022-12-31", "horizon_months": 6},
    "split": {"train_start": "2020-03-31", "train_end": "2021-06-30",
              "test_start": "2022-06-30", "test_end": "2022-12-31"},
}


@pytest.fixture(scope="module")
def six(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 6-month-horizon project on a tiny simulated base (with the simulator's oracle beside it)."""
    root = tmp_path_factory.mktemp("horizon6")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        params = write_params(root, SIX)
        raw = root / "data" / "raw"
        res = CliRunner().invoke(app, ["simulate", "--params", str(params), "--out", str(raw)])
        assert res.exit_code == 0, res.output
    return {"root": root, "params": params, "raw": raw}


def test_label_name_follows_the_horizon() -> None:
    assert S.label_name(6) == "default_6m" and S.label_name(12) == S.LABEL
    assert S.is_label("default_6m") and S.is_label(S.LABEL) and not S.is_label("pay_max_dpd_12m")


def test_features_name_the_six_month_label(six: dict) -> None:
    out = six["root"] / "generated" / "table.parquet"
    res = CliRunner().invoke(app, ["features", "--params", str(six["params"]), "--data", str(six["raw"]),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = read_frame(out)
    assert list(table.columns[:3]) == [S.CUSTOMER_ID, S.SNAPSHOT_DATE, "default_6m"]
    assert not any(c.startswith("default_") and c != "default_6m" for c in table.columns)
    md = (out.parent / "data_dictionary.md").read_text()
    assert "`default_6m`" in md and "snapshot + 6 months" in md and S.LABEL not in md


def test_a_six_month_label_is_inside_the_twelve_month_one(six: dict) -> None:
    settings = load_settings(six["params"])
    tables = load_and_validate(six["raw"])
    six_m = build_modelling_table(tables, settings.snapshots, settings.features)
    twelve = build_modelling_table(tables, settings.snapshots.model_copy(update={"horizon_months": 12}),
                                   settings.features)
    assert (six_m[[S.CUSTOMER_ID, S.SNAPSHOT_DATE]].equals(twelve[[S.CUSTOMER_ID, S.SNAPSHOT_DATE]]))
    y6, y12 = six_m["default_6m"].to_numpy(), twelve[S.LABEL].to_numpy()
    assert np.all(y6 <= y12) and 0 < y6.sum() < y12.sum()


@pytest.mark.slow
def test_training_refuses_the_oracle_and_keeps_the_label_out(six: dict, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.WARNING):
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        res = CliRunner().invoke(app, ["train", "--params", str(six["params"]), "--data", str(six["raw"]),
                                       "--out", str(out)])
    assert res.exit_code == 0, res.output
    said = res.output + caplog.text
    assert (f"the simulator's oracle holds {ORACLE_HORIZON_MONTHS}-month PDs and cannot be compared with "
            "6-month labels") in said and "left out of the evaluation" in said
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["data"]["source"] == "table" and "oracle" not in doc
    bundle = Bundle.load(six["root"] / "models" / "champion")
    assert not any(S.is_label(f) for f in bundle.features)
    assert bundle.manifest["horizon_months"] == 6
    card = model_card(bundle.manifest)
    assert "within the next 6 months" in card and "12-month" not in card
