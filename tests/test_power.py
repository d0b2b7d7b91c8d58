"""Univariate feature power: AUC orientation, IV, categorical handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskmodel.evaluation.power import feature_power


def test_feature_power_ranks_signal_above_noise() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.binomial(1, 0.1, n)
    t = pd.DataFrame({
        "y": y,
        "good": y * 1.5 + rng.normal(size=n),          # raises PD
        "inverse": -y * 1.0 + rng.normal(size=n),      # lowers PD
        "noise": rng.normal(size=n),
        "cat": pd.Categorical(np.where(y == 1, "a", rng.choice(["a", "b"], n))),
    })
    out = feature_power(t, "y", ["noise", "good", "inverse", "cat"]).set_index("feature")
    assert out.loc["good", "auc"] > 0.8 and out.loc["good", "direction"] == "raises PD"
    assert out.loc["inverse", "direction"] == "lowers PD" and out.loc["inverse", "auc"] > 0.7
    assert out.loc["noise", "auc"] < 0.56
    assert out.loc["good", "iv"] > out.loc["noise", "iv"]
    assert out.loc["cat", "auc"] > 0.6
    assert list(out.index[:1]) == ["good"]


def test_feature_power_handles_missing_and_constant() -> None:
    t = pd.DataFrame({"y": [0, 1, 0, 1], "x": [np.nan, 2.0, 1.0, np.nan], "k": [1.0] * 4})
    out = feature_power(t, "y", ["x", "k"]).set_index("feature")
    assert out.loc["k", "auc"] == pytest.approx(0.5)
    assert out.loc["x", "missing_share"] == pytest.approx(0.5)
