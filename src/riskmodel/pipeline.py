"""The stages of riskmodel, each a function from settings and paths to files on disk.

This is the only module (with ``io``) that reads and writes files; the logic it
calls (simulator, validation, features, models, evaluation, scoring) is pure.
"""

from __future__ import annotations

import logging
from pathlib import Path

from riskmodel.config import Settings

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ simulate
def run_simulate(
    settings: Settings,
    n_customers: int | None = None,
    years: int | None = None,
    seed: int | None = None,
    out_dir: Path | None = None,
    fmt: str | None = None,
) -> Path:
    """Simulate the customer base into ``out_dir`` (tables) and ``out_dir/../oracle`` (true PDs)."""
    raise NotImplementedError("run_simulate")


# ------------------------------------------------------------------ validate
def run_validate(settings: Settings, data_dir: Path | None = None) -> bool:
    """Validate the six tables; log the report; return True when no error-level rule is broken."""
    raise NotImplementedError("run_validate")


# ------------------------------------------------------------------ features
def run_features(settings: Settings, data_dir: Path | None = None, out_file: Path | None = None) -> Path:
    """Build the modelling table and its data dictionary; return the table's path."""
    raise NotImplementedError("run_features")


# --------------------------------------------------------------------- train
def run_train(settings: Settings, data_dir: Path | None = None, out_dir: Path | None = None) -> Path:
    """Features -> models -> out-of-time evaluation -> MLflow -> champion bundle."""
    raise NotImplementedError("run_train")


def run_train_table(
    settings: Settings,
    table: Path,
    target: str,
    id_col: str | None = None,
    time_col: str | None = None,
    baseline_file: Path | None = None,
    out_dir: Path | None = None,
) -> Path:
    """The flat-table path: train and compare on a ready-made modelling table."""
    raise NotImplementedError("run_train_table")


# --------------------------------------------------------------------- score
def run_score(
    settings: Settings,
    as_of: str,
    data_dir: Path | None = None,
    out_file: Path | None = None,
    fmt: str = "parquet",
    previous: Path | None = None,
) -> Path:
    """Score every customer as of a date with the champion bundle."""
    raise NotImplementedError("run_score")


def run_explain(
    settings: Settings,
    customer_id: str,
    as_of: str | None = None,
    fmt: str = "html",
    data_dir: Path | None = None,
    out_file: Path | None = None,
) -> Path:
    """Write the committee memo for one customer."""
    raise NotImplementedError("run_explain")


def run_serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the REST service with uvicorn."""
    raise NotImplementedError("run_serve")


# ---------------------------------------------------------------------- demo
def run_demo(settings: Settings) -> None:
    """The main job end to end on the simulated base."""
    raise NotImplementedError("run_demo")
