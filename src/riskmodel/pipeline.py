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
    """Validate the six tables; log the report; return True when no error-level rule is broken.

    ``data_dir`` defaults to ``paths.raw_dir``.  A failing report is logged at
    WARNING (the CLI sends it to stderr and exits 1); a passing one logs the rows
    per table and the number of warnings at INFO.  A missing table file raises
    ``DataNotFoundError``.
    """
    from riskmodel.data.validation import load_raw_tables, validate_tables

    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    log.info("validating the six input tables in %s", data_dir)
    _, report = validate_tables(load_raw_tables(data_dir))
    if not report.ok:
        log.warning("data in %s breaks the data contract:\n%s", data_dir, report.to_text())
        return False
    if report.warnings or report.notes:
        log.warning("%s", report.to_text())
    rows = ", ".join(f"{name} {n:,}" for name, n in report.rows.items())
    log.info("data in %s is valid: rows per table: %s; %d warning(s)", data_dir, rows,
             len(report.warnings))
    return True


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
