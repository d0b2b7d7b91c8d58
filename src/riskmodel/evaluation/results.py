"""What a training run produced, before it is written anywhere: one ModelResult per model, one TrainResult.

:mod:`riskmodel.training` fills them; the report, tracking and the bundle export read them.
They live here, below both, so that presentation does not depend on the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class ModelResult:
    """One model's fitted estimator, predictions and out-of-sample evaluation.

    ``metrics`` has at least auc, auc_ci95 [lo, hi], gini, ks, brier, log_loss,
    psi (score PSI train vs test).  ``calibration_decile`` and
    ``calibration_grade`` are tables of expected vs observed defaults (with a
    Jeffreys-test p-value per grade).
    """

    name: str
    estimator: Any
    pd_train: np.ndarray
    pd_test: np.ndarray
    metrics: dict[str, Any]
    calibration_decile: pd.DataFrame
    calibration_grade: pd.DataFrame


@dataclass
class TrainResult:
    """Everything one training run produced, before it is written anywhere.

    ``data`` follows the metrics.json "data" block (source, split, n_train,
    n_test, test_positive_rate).  ``test_frame`` holds the test rows' keys,
    label and each model's PD (columns ``pd_<name>``) for plots and reports.
    ``vs_baseline`` maps every model but the experts' card (the refitted card
    included) -> its lift over the experts' card: {"auc_diff", "auc_diff_ci95",
    "p_value", "z"} (auc_diff = model - card; a paired bootstrap interval and a
    two-sided DeLong test, both clustered by customer when customers repeat;
    plus "oracle_gap_closed" = (model - card) / (oracle - card) when the oracle
    is known); it is empty when there is no baseline.  ``vs_refitted`` holds the
    same for each learned model against the refitted card (empty without one).
    ``oracle`` is {"auc", "brier"} on simulated data.
    ``extra["monotone_check"]`` maps model -> {feature: constraint held};
    cross-validated runs add ``extra["folds"]`` (each row's fold).
    """

    data: dict[str, Any]
    features: list[str]
    categorical_levels: dict[str, list[str]]
    models: dict[str, ModelResult]
    vs_baseline: dict[str, dict[str, float]]
    champion: str
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    test_frame: pd.DataFrame
    oracle: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    vs_refitted: dict[str, dict[str, Any]] = field(default_factory=dict)
    champion_gate: dict[str, Any] = field(default_factory=dict)

    def metrics_json(self) -> dict[str, Any]:
        """The metrics.json document (schema in issue 3)."""
        out: dict[str, Any] = {
            "data": self.data,
            "models": {
                name: {k: v for k, v in m.metrics.items()} for name, m in self.models.items()
            },
            "champion": self.champion,
        }
        if self.vs_baseline:
            out["vs_baseline"] = self.vs_baseline
        if self.vs_refitted:
            out["vs_refitted"] = self.vs_refitted
        if self.champion_gate:
            out["champion_gate"] = self.champion_gate
        if self.oracle is not None:
            out["oracle"] = self.oracle
        if "backtest" in self.extra:  # issue 9: correlation-adjusted backtest of the champion's PDs
            out["backtest"] = self.extra["backtest"]
        for key in ("model_selection", "learning_curve"):  # issue 13
            if key in self.extra:
                out[key] = self.extra[key]
        return out
