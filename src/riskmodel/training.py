"""Fit the 5C baseline and the learned models on one split and compare them (pure: no file I/O).

``train_and_compare`` is shared by the six-table path (``riskmodel train``) and
the flat-table path (``riskmodel train --table``); tracking, reports and the
bundle export consume its :class:`TrainResult`.
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
    ``vs_baseline`` maps learned model -> {"auc_diff", "p_value"}; it is empty
    when there is no baseline.  ``oracle`` is {"auc", "brier"} on simulated data.
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
        if self.oracle is not None:
            out["oracle"] = self.oracle
        return out


def train_and_compare(*args: Any, **kwargs: Any) -> TrainResult:
    """Fit every enabled model and the baseline, evaluate on the test rows, choose the champion."""
    raise NotImplementedError("train_and_compare")
