"""A feature name is spelled once, in riskmodel.features.names: the proof is a scan of src/.

Every string constant in src/ (ast, so docstrings and comments are read too) equal to the name of a
registered feature, at the default feature settings and at other windows and late thresholds, must
sit in the names module.  The negative control shows the scan finds a literal where one is written.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import riskmodel
from riskmodel.config import CalibrationSettings, FeatureSettings
from riskmodel.features import names as N
from riskmodel.features.dictionary import feature_registry
from riskmodel.service.deps import feature_range, feature_ranges

SRC = Path(riskmodel.__file__).resolve().parent
NAMES_MODULE = Path(N.__file__).resolve()
SETTINGS = {
    "default": FeatureSettings(),
    "other windows": FeatureSettings(windows_months=(1, 2, 18), late_thresholds_days=(15, 45)),
    "single window": FeatureSettings(windows_months=(9,), late_thresholds_days=(0,)),
}
# config.py is the one layer below the features (it cannot import the names module): its default
# calibration covariates are names written as configuration, checked to be registered below.
CONFIG = SRC / "config.py"


def literal_names(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) of every string constant in ``source`` equal to one of ``names``."""
    return [(node.lineno, node.value) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]


@pytest.mark.parametrize("key", list(SETTINGS))
def test_no_feature_name_is_written_outside_the_names_module(key: str) -> None:
    names = set(feature_registry(SETTINGS[key]))
    assert len(names) > 80  # the registry was built (all families, portfolio included)
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.resolve() in (NAMES_MODULE, CONFIG):
            continue
        hits = literal_names(path.read_text(encoding="utf-8"), names)
        if hits:
            found[str(path.relative_to(SRC))] = hits
    assert found == {}, f"feature names written as literals (import them from riskmodel.features.names): {found}"


def test_the_scan_finds_a_literal_and_the_names_module_holds_them() -> None:
    names = set(feature_registry())
    assert literal_names('x = frame["pay_mean_dpd_12m"]\n', names) == [(1, "pay_mean_dpd_12m")]  # negative control
    assert literal_names('x = frame[N.PAY_MEAN_DPD_12M]\n', names) == []
    spelled = {v for _, v in literal_names(NAMES_MODULE.read_text(encoding="utf-8"), names)}
    assert N.PAY_MEAN_DPD_12M in spelled and N.FIN_LEVERAGE in spelled


def test_config_defaults_name_registered_features() -> None:
    """The one exempt file: its feature names must be features the registry builds."""
    names = set(feature_registry())
    assert set(CalibrationSettings().covariates) <= names
    written = {v for _, v in literal_names(CONFIG.read_text(encoding="utf-8"), names)}
    assert written == set(CalibrationSettings().covariates)


@pytest.mark.parametrize("key", list(SETTINGS))
def test_names_follow_the_settings(key: str) -> None:
    s = SETTINGS[key]
    registry = feature_registry(s)
    assert {N.pay_n_invoices(w) for w in s.windows_months} <= set(registry)
    assert {N.pay_n_late(t) for t in s.late_thresholds_days} <= set(registry)
    for w in s.windows_months:
        assert registry[N.pay_amount(w)].window == w
    assert registry[N.PAY_TENURE_MONTHS].calendar_driven and not registry[N.pay_amount(s.windows_months[0])].calendar_driven


def test_service_ranges_come_from_the_served_settings() -> None:
    """feature_range reads the registry of the bundle's recorded feature settings, not the defaults."""
    other = SETTINGS["other windows"].model_dump(mode="json")
    assert feature_range(N.pay_n_invoices(18)) is None  # not a feature at the default windows
    assert feature_range(N.pay_n_invoices(18), other) == feature_range(N.pay_n_invoices(3))
    assert feature_range(N.pay_n_invoices(3), other) is None
    assert feature_range(N.PAY_DPD_TREND) == (-36_500.0, 36_500.0)  # a trend is signed
    assert feature_range(N.PAY_MEAN_DPD_12M) == (0.0, 36_500.0)
    assert feature_range(N.REG_INDUSTRY) is None  # a category has no range
    assert set(feature_ranges(other)) - set(feature_ranges()) == {
        N.pay_n_invoices(w) for w in (1, 2, 18)} | {N.pay_amount(w) for w in (1, 2, 18)} | {
        N.pay_n_late(t) for t in (15, 45)}
