"""Shared by the tracking, report and export tests: small real training runs and a tmp project.

No tests here: it builds real TrainResults with ``riskmodel.training.train_and_compare``
(real 5C baseline, LightGBM and logistic scorecard) on synthetic frames, and a params
file under a temporary folder so the MLflow store and the bundle stay there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from riskmodel.config import DEFAULT_PARAMS, BaselineSettings, Settings, deep_merge, load_settings
from riskmodel.training import TrainResult, train_and_compare

#: a small model search and learning curve for tests: the paths run (and are checked) at a fraction of the
#: shipped budget (60 s, 12 shapes, up to 1,000 trees), which tests/test_model_selection.py covers on its own
FAST_SEARCH = {
    "model_selection": {"n_trials": 2, "budget_seconds": 10, "max_trees": 200},
    "learning_curve": {"shares": [0.5]},
}
#: one LightGBM thread per fit: tests run two xdist workers on 2 cores, and LightGBM's explicit ``n_jobs``
#: overrides OMP_NUM_THREADS (tests/conftest.py); two threads per worker oversubscribe the cores
ONE_THREAD = {"models": {"n_jobs": 1}}
#: fast settings for tests: few trees, few bootstrap samples, the small search, one thread
FAST = {
    "models": {"lightgbm": {"params": {"n_estimators": 40}}, "calibration_folds": 2, "n_jobs": 1},
    "evaluation": {"bootstrap_samples": 100},
    **FAST_SEARCH,
}
BASELINE_FEATURES = ("pay_max_dpd_12m", "fin_equity_ratio", "reg_industry")


def write_params(folder: Path, overrides: dict | None = None) -> Path:
    """The project's params.yaml with FAST (and ``overrides``) merged in, written to ``folder``."""
    data = yaml.safe_load(DEFAULT_PARAMS.read_text())
    data = deep_merge(data, FAST)
    if overrides:
        data = deep_merge(data, overrides)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def project_settings(folder: Path, overrides: dict | None = None) -> Settings:
    """Settings whose relative paths (MLflow store, artifacts, models, reports) live in ``folder``."""
    return load_settings(write_params(folder, overrides))


def synthetic(n: int, seed: int, learned_signal: bool) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features named like ours, labels and true PDs.

    With ``learned_signal`` much of the risk comes from ``vis_red_flags_24m`` (a feature
    the 5C baseline does not use) together with late payment, so LightGBM beats the
    baseline; without it the risk comes only from the baseline's own indicators.
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "pay_max_dpd_12m": rng.exponential(15, n),
        "fin_equity_ratio": rng.normal(0.3, 0.15, n),
        "vis_red_flags_24m": rng.poisson(0.4, n).astype(float),
        "evt_lawsuits_24m": rng.poisson(0.1, n).astype(float),
        "reg_industry": pd.Categorical(rng.choice(["construction", "retail", "services"], n)),
    })
    X.loc[rng.random(n) < 0.08, "fin_equity_ratio"] = np.nan
    logit = -3.2 + 0.03 * X["pay_max_dpd_12m"] - 2.0 * X["fin_equity_ratio"].fillna(0.3)
    if learned_signal:  # an interaction: a tree model sees it, an additive scorecard cannot
        flagged = (X["vis_red_flags_24m"] >= 1) != (X["pay_max_dpd_12m"] > 10)  # exclusive or
        logit = logit + 2.5 * flagged.to_numpy()
    p = 1.0 / (1.0 + np.exp(-logit.to_numpy()))
    y = (rng.random(n) < p).astype(int)
    return X, y, p


def baseline_for(settings: Settings) -> BaselineSettings:
    """The project's 5C indicators restricted to the synthetic features."""
    kept = [i for i in settings.baseline.indicators if i.feature in BASELINE_FEATURES]
    return BaselineSettings(indicators=tuple(kept))


def train_result(settings: Settings, learned_signal: bool = True, oracle: bool = True,
                 baseline: bool = True) -> TrainResult:
    """A real training run on synthetic data (1,500 training rows, 1,200 test rows)."""
    X_tr, y_tr, _ = synthetic(1500, 1, learned_signal)
    X_te, y_te, p_te = synthetic(1200, 2, learned_signal)
    keys = pd.DataFrame({"customer_id": [f"C{i:05d}" for i in range(len(y_te))],
                         "snapshot_date": pd.Timestamp("2023-03-31")})
    return train_and_compare(
        X_tr, y_tr, X_te, y_te, settings, baseline_for(settings) if baseline else None,
        {"source": "simulated" if oracle else "table", "split": "out_of_time"},
        test_keys=keys, oracle_test=p_te if oracle else None,
    )
