"""The feature registry says everything about a feature once, for the feature settings in force."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from riskmodel.config import FeatureSettings
from riskmodel.explain import templates
from riskmodel.explain.templates import TEMPLATES, render_body
from riskmodel.features.dictionary import (
    CONCEPTS,
    CREDIT_DIRECTION,
    FEATURES,
    concepts,
    credit_direction,
    feature_catalog,
    feature_registry,
    reason_templates,
)

OTHER = FeatureSettings(windows_months=(1, 2, 18), late_thresholds_days=(15, 45))


@pytest.mark.parametrize("settings", [FeatureSettings(), OTHER], ids=["default", "other windows"])
def test_every_built_feature_has_a_reason_a_direction_and_a_concept(settings: FeatureSettings) -> None:
    catalog = feature_catalog(settings)
    registry = feature_registry(settings)
    assert list(registry)[: len(catalog)] == list(catalog)
    assert set(reason_templates(settings)) == set(catalog)
    assert set(credit_direction(settings)) <= set(catalog)
    members = [f for m in concepts(settings).values() for f in m]
    assert set(members) <= set(catalog) and len(members) == len(set(members))
    for name in catalog:
        entry = registry[name]
        assert entry.info == catalog[name] and entry.reason is not None and entry.direction in (-1, 0, 1)


def test_windows_and_thresholds_follow_the_settings() -> None:
    registry = feature_registry(OTHER)
    assert render_body(registry["pay_n_invoices_18m"].reason, 4.0) == "4 invoices issued in the last 18 months"
    assert render_body(registry["pay_n_late_15_12m"].reason, 1.0) == \
        "1 invoice paid more than 15 days late in the last 12 months"
    assert registry["pay_n_late_45_12m"].direction == 1
    assert registry["pay_n_late_45_12m"].concept == "payment delays"
    assert registry["pay_amount_1m"].concept == "trading volume"
    assert "pay_n_invoices_3m" not in registry and "pay_n_late_30_12m" not in registry


def test_the_defaults_are_the_default_settings_registry() -> None:
    registry = feature_registry()
    assert {f: e.reason for f, e in registry.items() if e.reason is not None} == TEMPLATES
    assert {f: e.direction for f, e in registry.items() if e.direction} == CREDIT_DIRECTION
    assert concepts() == CONCEPTS and feature_catalog() == FEATURES


def test_reason_texts_hold_no_feature_name() -> None:
    """The sentences live in the registry; explain/templates.py only renders them."""
    text = Path(templates.__file__).read_text()
    assert not re.findall(r"[\"'](?:pay|fin|vis|reg|evt|ptf)_[a-z0-9_]+[\"']", text)
