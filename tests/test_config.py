"""params.yaml is parsed into one typed Settings object; wrong keys or values are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from riskmodel.config import DEFAULT_PARAMS, deep_merge, load_settings
from riskmodel.exceptions import ConfigError


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.fixture()
def base() -> dict:
    return yaml.safe_load(DEFAULT_PARAMS.read_text())


def test_project_params_load() -> None:
    s = load_settings()
    assert s.snapshots.horizon_months == 12
    assert len(s.master_scale.grades) >= 7
    assert {i.c for i in s.baseline.indicators} == {
        "character", "capacity", "capital", "collateral", "conditions"}
    assert s.root == DEFAULT_PARAMS.parent


def test_unknown_key_is_named(tmp_path: Path, base: dict) -> None:
    base["snapshots"]["horizon_monthz"] = 6
    with pytest.raises(ConfigError, match=r"snapshots\.horizon_monthz: unknown key"):
        load_settings(_write(tmp_path, base))


def test_wrong_value_is_named(tmp_path: Path, base: dict) -> None:
    base["snapshots"]["horizon_months"] = -3
    with pytest.raises(ConfigError, match=r"snapshots\.horizon_months.*-3"):
        load_settings(_write(tmp_path, base))


def test_split_must_be_out_of_time(tmp_path: Path, base: dict) -> None:
    base["split"]["test_start"] = "2021-03-31"
    with pytest.raises(ConfigError, match="train_end < test_start"):
        load_settings(_write(tmp_path, base))


def test_training_labels_must_end_before_the_test_period(tmp_path: Path, base: dict) -> None:
    base["split"]["train_end"] = "2022-06-30"  # + 12 months = 2023-06-30 > test_start 2023-03-31
    with pytest.raises(ConfigError, match=r"runs past split.test_start 2023-03-31.*train_end <= 2022-03-31"):
        load_settings(_write(tmp_path, base))


def test_indicator_points_must_match_cuts(tmp_path: Path, base: dict) -> None:
    base["baseline"]["indicators"][3]["points"] = [10, 5]
    with pytest.raises(ConfigError, match="evt_lawsuits_24m.*expected 5 points"):
        load_settings(_write(tmp_path, base))


def test_master_scale_must_end_at_one(tmp_path: Path, base: dict) -> None:
    base["master_scale"]["grades"][-1]["max_pd"] = 0.5
    with pytest.raises(ConfigError, match="max_pd must be 1.0"):
        load_settings(_write(tmp_path, base))


def test_overrides_and_relative_paths(tmp_path: Path, base: dict) -> None:
    s = load_settings(_write(tmp_path, base), overrides={"simulation": {"n_customers": 50}})
    assert s.simulation.n_customers == 50
    assert s.resolve(s.paths.raw_dir) == (tmp_path / "data" / "raw").resolve()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_deep_merge_does_not_mutate() -> None:
    a = {"x": {"y": 1, "z": 2}}
    out = deep_merge(a, {"x": {"y": 3}})
    assert out == {"x": {"y": 3, "z": 2}} and a == {"x": {"y": 1, "z": 2}}


def test_params_env_variable(tmp_path: Path, base: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    base["simulation"]["n_customers"] = 77
    monkeypatch.setenv("RISKMODEL_PARAMS", str(_write(tmp_path, base)))
    assert load_settings().simulation.n_customers == 77
