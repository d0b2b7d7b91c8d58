"""Shared set-up for the scoring, memo and service tests: a small simulated base and real trained bundles.

Not a test module (no ``test_`` prefix); imported by ``tests/test_scoring*.py``,
``tests/test_memo*.py``, ``tests/test_service*.py`` and ``tests/test_reasons*.py``.
Everything is real: the simulator, the feature builder, LightGBM, the logistic
scorecard and the 5C baseline, exported with ``riskmodel.export.build_bundle``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _tracking_helpers import FAST_SEARCH
from riskmodel.bundle import Bundle
from riskmodel.config import Settings, load_settings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables

N_CUSTOMERS = 500
SEED = 11

# small and fast, same shape as the shipped defaults
OVERRIDES: dict[str, Any] = {
    "simulation": {"n_customers": N_CUSTOMERS, "years": 6, "seed": SEED},
    "snapshots": {"start": "2020-03-31", "end": "2023-12-31"},
    "evaluation": {"bootstrap_samples": 50},
    "models": {"n_jobs": 1, "calibration_folds": 2, "lightgbm": {"params": {"n_estimators": 40, "learning_rate": 0.15,
                                                               "num_leaves": 15, "max_depth": 4,
                                                               "min_child_samples": 40}}},
    **FAST_SEARCH,
}


def small_settings(root: Path | None = None, **extra: Any) -> Settings:
    """Project settings with the small overrides; paths resolve under ``root`` when given."""
    from riskmodel.config import deep_merge

    over = deep_merge(OVERRIDES, extra)
    s = load_settings(overrides=over)
    if root is not None:
        s = s.model_copy(update={"root": Path(root)})
    return s


@dataclass(frozen=True)
class World:
    settings: Settings
    tables: Tables
    table: Any  # the modelling table
    bundles: dict[str, Bundle]  # by model name: lightgbm, baseline_5c


def _train(settings: Settings, table: Any) -> dict[str, Bundle]:
    from riskmodel.export import build_bundle
    from riskmodel.training import train_and_compare

    dates = table[S.SNAPSHOT_DATE]
    sp = settings.split
    train = table[(dates >= str(sp.train_start)) & (dates <= str(sp.train_end))]
    test = table[(dates >= str(sp.test_start)) & (dates <= str(sp.test_end))]
    feats = [c for c in table.columns if c not in (S.CUSTOMER_ID, S.SNAPSHOT_DATE, S.LABEL)
             and not c.startswith("ptf_")]  # the portfolio indicators set the level, they are not model features
    result = train_and_compare(train[feats], train[S.LABEL].to_numpy(), test[feats], test[S.LABEL].to_numpy(),
                               settings, settings.baseline, {"source": "simulated", "split": "out_of_time"})
    created = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    return {name: build_bundle(result, settings, run_id=None, model_name=name, created_at=created)
            for name in result.models}


@functools.lru_cache(maxsize=1)
def world() -> World:
    """Simulate, build the modelling table, train LightGBM + the 5C baseline and export bundles (once)."""
    from riskmodel.data.simulator import simulate
    from riskmodel.features.build import build_modelling_table

    settings = small_settings(models={"enabled": ["lightgbm"]})
    sim = simulate(N_CUSTOMERS, dt.date(2019, 1, 1), 6, SEED)
    table = build_modelling_table(sim.tables, settings.snapshots, settings.features)
    return World(settings, sim.tables, table, _train(settings, table))


@functools.lru_cache(maxsize=1)
def scorecard_bundle() -> Bundle:
    """The logistic scorecard trained on the same modelling table."""
    w = world()
    settings = small_settings(models={"enabled": ["logistic_scorecard"]})
    return _train(settings, w.table)["logistic_scorecard"]


def save_bundle(bundle: Bundle, root: Path) -> Path:
    """Save ``bundle`` where ``riskmodel`` looks for the champion under ``root`` (models/champion)."""
    return bundle.save(root / "models" / "champion")


def write_tables(tables: Tables, folder: Path) -> Path:
    """Write the six tables as Parquet (the raw-data layout ``load_and_validate`` reads)."""
    from riskmodel.io import write_frame

    for name, frame in tables.as_dict().items():
        write_frame(frame, folder / f"{name}.parquet")
    return folder


class LiveServer:
    """Run an ASGI app with uvicorn in a background thread on a free loopback port (a context manager)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.url = ""

    def __enter__(self) -> "LiveServer":
        import socket
        import threading
        import time

        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the server stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start within 60 s")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def project_on_disk(tmp_path: Path) -> tuple[Path, Path]:
    """A scoring project under ``tmp_path``: the LightGBM bundle, the tables and a params file whose
    paths (and MLflow store) point inside it. Returns (project root, params file)."""
    import yaml

    from riskmodel.config import DEFAULT_PARAMS, deep_merge

    w = world()
    root = tmp_path / "proj"
    save_bundle(w.bundles["lightgbm"], root)
    write_tables(w.tables, root / "data" / "raw")
    params = deep_merge(yaml.safe_load(DEFAULT_PARAMS.read_text()), OVERRIDES)
    params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
    params["tracking"]["uri"] = f"sqlite:///{root / 'mlruns.db'}"
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params))
    return root, pfile
