"""Shared set-up of the scoring and service benchmarks: a champion trained on the default simulated base.

The model is the shipped default (params.yaml models.lightgbm), trained through
the real pipeline functions (simulate -> modelling table -> train_and_compare
-> export.build_bundle) on ``--customers`` simulated customers.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskmodel.bundle import Bundle
from riskmodel.config import Settings, load_settings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables

log = logging.getLogger("benchmark")


@dataclass
class Champion:
    settings: Settings
    tables: Tables
    table: pd.DataFrame  # the modelling table (all snapshots)
    bundle: Bundle
    metrics: dict[str, Any]
    seconds: float


def train_champion(n_customers: int, overrides: dict[str, Any] | None = None, model: str = "lightgbm") -> Champion:
    """Simulate ``n_customers``, build the modelling table, train, and package ``model`` as a bundle."""
    from riskmodel.config import deep_merge
    from riskmodel.data.simulator import simulate
    from riskmodel.export import build_bundle
    from riskmodel.features.build import build_modelling_table
    from riskmodel.training import train_and_compare

    t0 = time.perf_counter()
    base = {"simulation": {"n_customers": n_customers}, "evaluation": {"bootstrap_samples": 100}}
    settings = load_settings(overrides=deep_merge(base, overrides or {}))
    sim = settings.simulation
    result = simulate(sim.n_customers, sim.start_date, sim.years, sim.seed)
    table = build_modelling_table(result.tables, settings.snapshots, settings.features)
    dates = table[S.SNAPSHOT_DATE]
    sp = settings.split
    train = table[(dates >= str(sp.train_start)) & (dates <= str(sp.train_end))]
    test = table[(dates >= str(sp.test_start)) & (dates <= str(sp.test_end))]
    feats = [c for c in table.columns if c not in (S.CUSTOMER_ID, S.SNAPSHOT_DATE, S.LABEL)]
    trained = train_and_compare(train[feats], train[S.LABEL].to_numpy(), test[feats], test[S.LABEL].to_numpy(),
                                settings, settings.baseline, {"source": "simulated", "split": "out_of_time"})
    bundle = build_bundle(trained, settings, run_id=None, model_name=model,
                          created_at=dt.datetime.now(dt.UTC))
    metrics = {name: {"auc": float(m.metrics["auc"])} for name, m in trained.models.items()}
    return Champion(settings, result.tables, table, bundle, metrics, time.perf_counter() - t0)
