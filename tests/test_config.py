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
    # collateral belongs to the limit and loss side, not to the PD card (see params.yaml)
    assert {i.c for i in s.baseline.indicators} == {"character", "capacity", "capital", "conditions"}
    assert s.root == DEFAULT_PARAMS.parent


def test_params_ship_inside_the_package() -> None:
    """The package carries params.yaml (package data) as its default; in a checkout it is the project's file."""
    from riskmodel.config import PACKAGED_PARAMS

    assert PACKAGED_PARAMS.is_file()
    assert PACKAGED_PARAMS.read_text() == DEFAULT_PARAMS.read_text()


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


def _indicator(base: dict, feature: str) -> dict:
    return next(i for i in base["baseline"]["indicators"] if i["feature"] == feature)


def test_the_experts_card_holds_the_evidence_the_seeds_name() -> None:
    card = {i.feature: i for i in load_settings().baseline.indicators}
    seeds = {
        "our ledger and its ageing": {"pay_max_dpd_12m", "pay_share_late_12m", "pay_overdue_share", "pay_overdue_90p"},
        "references and agencies": {"evt_trade_ref_mean_24m", "evt_bank_ref_last", "evt_agency_rating_last"},
        "public records": {"evt_lawsuits_24m", "evt_tax_arrears_24m"},
        "registration": {"reg_business_scope_ok", "reg_address_verified", "reg_paid_in_ratio", "reg_legal_form"},
        "site visits": {"vis_last_premises", "vis_last_inventory_rating", "vis_last_management",
                        "vis_last_staff_morale", "vis_last_disclosure", "vis_lavish_office_24m",
                        "vis_licence_checked_share_24m"},
        "contact quality": {"vis_last_correspondence", "vis_last_responsiveness", "vis_last_expertise"},
        "statements": {"fin_cfo_to_debt", "fin_equity_ratio", "fin_current_ratio", "fin_interest_cover"},
    }
    for what, features in seeds.items():
        assert features <= set(card), f"{what}: {sorted(features - set(card))} missing from the card"
    # collateral moved to the limit and loss side; region has no expert reason on a static card
    assert not {"evt_collateral_to_limit", "evt_collateral_value", "reg_region"} & set(card)
    assert all(len(i.rationale.strip()) > 20 for i in card.values())
    from riskmodel.features.dictionary import FEATURES
    assert set(card) <= set(FEATURES)  # every indicator is a feature the modelling table has


def test_card_refuses_an_indicator_without_rationale(tmp_path: Path, base: dict) -> None:
    del _indicator(base, "evt_tax_arrears_24m")["rationale"]
    _indicator(base, "reg_legal_form")["rationale"] = "   "
    with pytest.raises(ConfigError, match=r"without a rationale: \['evt_tax_arrears_24m', 'reg_legal_form'\]"):
        load_settings(_write(tmp_path, base))


def test_refit_settings_are_typed(tmp_path: Path, base: dict) -> None:
    assert load_settings().baseline.refit.enabled is True
    base["baseline"]["refit"]["C"] = 0
    with pytest.raises(ConfigError, match=r"baseline\.refit\.C"):
        load_settings(_write(tmp_path, base))


def test_indicator_points_must_match_cuts(tmp_path: Path, base: dict) -> None:
    _indicator(base, "evt_lawsuits_24m")["points"] = [10, 5]
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
