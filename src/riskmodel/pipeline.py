"""The stages of riskmodel, each a function from settings and paths to files on disk.

This is the only module (with ``io``) that reads and writes files; the logic it
calls (simulator, validation, features, models, evaluation, scoring) is pure.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskmodel.config import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    import pandas as pd

    from riskmodel.data.tables import Tables
    from riskmodel.training import TrainResult

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ simulate
def run_simulate(
    settings: Settings,
    n_customers: int | None = None,
    years: int | None = None,
    seed: int | None = None,
    out_dir: Path | None = None,
    fmt: str | None = None,
    partitioned: bool = False,
) -> Path:
    """Simulate the customer base into ``out_dir`` (tables) and ``out_dir/oracle`` (true PDs).

    ``partitioned`` simulates and writes the book in customer partitions of
    ``scale.partition_customers`` customers (Parquet only, issue 14; bounded memory, see
    ``riskmodel.data.sim_partitioned``): ``<table>/part-NNNNN.parquet`` and the oracle as
    ``oracle/true_pd_12m/part-NNNNN.parquet``.
    """
    import pandas as pd

    from riskmodel.data.simulator import oracle_path_for, simulate, summarise
    from riskmodel.exceptions import ConfigError
    from riskmodel.io import write_frame

    sim = settings.simulation
    n_customers = sim.n_customers if n_customers is None else n_customers
    years = sim.years if years is None else years
    seed = sim.seed if seed is None else seed
    fmt = (fmt or sim.format).lower()
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"simulate: format must be 'parquet' or 'csv', got {fmt!r}")
    # a folder given on the command line is relative to the working directory, params paths to params.yaml
    out = Path(out_dir).resolve() if out_dir is not None else settings.resolve(settings.paths.raw_dir)
    log.info("simulating %d customers over %d years from %s (seed %d)", n_customers, years,
             sim.start_date, seed)
    if partitioned:  # issue 14: <table>/part-NNNNN.parquet, a customer's rows in one part
        if fmt != "parquet":
            raise ConfigError(f"simulate: partitioned output is Parquet only, got format {fmt!r}")
        return _simulate_partitioned(settings, n_customers, years, seed, out)
    result = simulate(n_customers, sim.start_date, years, seed, materiality=settings.default_definition.materiality())
    import shutil

    shutil.rmtree(oracle_path_for(out).with_suffix(""), ignore_errors=True)  # one layout: no oracle parts left
    for name in result.tables.as_dict():  # one layout: no stale partitions left
        for stale in (out / name).glob("part-*.parquet"):
            stale.unlink()
    for name, frame in result.tables.as_dict().items():
        if fmt == "csv":  # booleans as true/false; dates are written as YYYY-MM-DD by write_frame
            frame = frame.assign(**{c: frame[c].map({True: "true", False: "false"})
                                    for c in frame.columns if pd.api.types.is_bool_dtype(frame[c])})
        write_frame(frame, out / f"{name}.{fmt}", fmt)
    oracle_file = oracle_path_for(out)
    write_frame(result.oracle, oracle_file, "parquet")
    s = summarise(result)
    rates = ", ".join(f"{y}: {r:.1%}" for y, r in s["default_rate_by_year"].items())
    log.info("simulated %d customers, %d invoices, %d defaults; default rate by year %s; "
             "%.1f%% of paid invoices late -> %s (oracle: %s)", s["customers"], s["invoices"], s["defaults"],
             rates, 100 * s["late_share"], out, oracle_file)
    _warn_if_grid_outruns(settings, start=sim.start_date, years=years)
    return out


def _write_sim_part(out: Path, plan: "Any", result: "Any") -> dict[str, int]:
    """Write one simulated partition (tables and oracle) as ``part-NNNNN.parquet`` files; its counts."""
    from riskmodel.data.partition import part_name
    from riskmodel.data.simulator import oracle_path_for
    from riskmodel.io import write_frame

    name = part_name(plan.index)
    for table, frame in result.tables.as_dict().items():
        write_frame(frame.reset_index(drop=True), out / table / name, "parquet")
    write_frame(result.oracle, oracle_path_for(out).with_suffix("") / name, "parquet")
    return {"customers": len(result.tables.customers), "invoices": len(result.tables.invoices),
            "defaults": len(result.tables.defaults)}


def _simulate_partitioned(settings: Settings, n_customers: int, years: int, seed: int, out: Path) -> Path:
    """``run_simulate --partitioned``: the book simulated and written one customer partition at a time.

    Partitions run ``scale.workers`` at a time (0: as many as the CPUs and
    ``scale.memory_ceiling_gb`` allow, planned with ``sim_partitioned.sim_memory_gb``).
    """
    import functools
    import os

    from riskmodel.data import schemas as S
    from riskmodel.data.partition import PART_GLOB, warn_above_ceiling
    from riskmodel.data.sim_partitioned import plan_parts, sim_workers, simulate_partitioned, summarise_parts
    from riskmodel.data.simulator import oracle_path_for

    sim, scale = settings.simulation, settings.scale
    per_part = scale.partition_customers
    workers = sim_workers(per_part, scale.memory_ceiling_gb, os.cpu_count(), scale.workers)
    n_parts = len(plan_parts(n_customers, per_part))
    log.info("simulating in %d customer partitions of at most %d customers, %d at a time", n_parts, per_part,
             min(workers, n_parts))
    summaries = simulate_partitioned(n_customers, sim.start_date, years, seed, per_part,
                                     functools.partial(_write_sim_part, out),
                                     materiality=settings.default_definition.materiality(), workers=workers)
    oracle_parts = oracle_path_for(out).with_suffix("")
    oracle_path_for(out).unlink(missing_ok=True)  # one layout: the whole-book oracle of an earlier run goes
    for folder in [out / name for name in S.ALL_TABLE_NAMES] + [oracle_parts]:
        for stale in [folder.with_suffix(".parquet"), folder.with_suffix(".csv"),
                      *(p for p in folder.glob(PART_GLOB) if int(p.stem.split("-")[1]) >= n_parts)]:
            stale.unlink(missing_ok=True)
    s = summarise_parts(summaries)
    log.info("simulated %d customers, %d invoices, %d defaults in %d partitions -> %s (oracle: %s)",
             s["customers"], s["invoices"], s["defaults"], s["parts"], out, oracle_parts)
    _warn_if_grid_outruns(settings, start=sim.start_date, years=years)
    warn_above_ceiling("simulate", scale.memory_ceiling_gb)
    return out


def _warn_if_grid_outruns(settings: Settings, start: dt.date, years: int) -> None:
    """Tell the user at simulate time when params' snapshot grid needs data past the simulated period."""
    import pandas as pd

    h = settings.snapshots.horizon_months
    data_end = (pd.Timestamp(start) + pd.DateOffset(years=years) - pd.DateOffset(days=1)).date()
    needed = (pd.Timestamp(settings.snapshots.end) + pd.DateOffset(months=h)).date()
    if needed > data_end:
        log.warning("this base ends on %s, but snapshots.end %s needs data through %s for its %d-month labels: "
                    "run `riskmodel features --fit-to-data` or set snapshots.end (and split) in params.yaml",
                    data_end, settings.snapshots.end, needed, h)


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
    _, report = validate_tables(load_raw_tables(data_dir, settings.safety.na_values), settings.safety,
                                settings.default_definition.materiality())
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
def run_features(
    settings: Settings,
    data_dir: Path | None = None,
    out_file: Path | None = None,
    fit_to_data: bool = False,
    allow_partial_labels: bool = False,
) -> Path:
    """Build the modelling table and its data dictionary; return the table's path.

    Reads the six tables from ``data_dir`` (``paths.raw_dir`` by default),
    validates them, builds the table for ``settings.snapshots`` and writes it
    to ``out_file`` (``paths.generated_dir/modelling_table.parquet`` by
    default; CSV when the suffix is ``.csv``), with ``data_dictionary.csv`` and
    ``data_dictionary.md`` beside it.  Every file is written atomically.
    ``fit_to_data`` ends the snapshot grid at the last date whose label horizon
    the data observes; ``allow_partial_labels`` keeps later snapshots anyway.
    """
    from riskmodel.data import schemas as S
    from riskmodel.data.validation import load_and_validate
    from riskmodel.features.build import build_modelling_table
    from riskmodel.features.dictionary import data_dictionary, data_dictionary_markdown
    from riskmodel.io import write_frame, write_text_atomic

    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    out = (Path(out_file) if out_file is not None
           else settings.resolve(settings.paths.generated_dir) / "modelling_table.parquet")
    from riskmodel.data.partition import is_partitioned

    if is_partitioned(data_dir):  # issue 14: one customer partition in memory at a time
        return _run_features_partitioned(settings, data_dir, out, fit_to_data, allow_partial_labels)
    tables = load_and_validate(data_dir, settings.safety, settings.default_definition.materiality())
    snapshots = settings.snapshots
    if fit_to_data:
        from riskmodel.features.build import fit_snapshots_to_data

        snapshots = fit_snapshots_to_data(snapshots, tables)
    table = build_modelling_table(tables, snapshots, settings.features, allow_partial_labels=allow_partial_labels)
    write_frame(table, out)
    write_frame(data_dictionary(settings.features), out.parent / "data_dictionary.csv", fmt="csv")
    write_text_atomic(out.parent / "data_dictionary.md",
                      data_dictionary_markdown(settings.features, settings.snapshots.horizon_months))
    n_snap = table[S.SNAPSHOT_DATE].nunique()
    rate = float(table[S.label_name(settings.snapshots.horizon_months)].mean()) if len(table) else float("nan")
    log.info("features: %d rows, %d snapshots, %d features, default rate %.2f%% -> %s",
             len(table), n_snap, table.shape[1] - 3, 100 * rate, out)
    from riskmodel.data.partition import warn_above_ceiling

    warn_above_ceiling("features", settings.scale.memory_ceiling_gb)  # issue 14
    return out


def partitioned_snapshots(settings: Settings, book: Tables, span: "tuple[Any, Any]", fit_to_data: bool,
                          allow_partial_labels: bool) -> "Any":
    """The snapshot grid of ``features`` on a partitioned book (single machine or Spark).

    With ``fit_to_data`` it ends where the data's labels end; otherwise a grid whose last labels
    reach past the data (``span``'s end) is refused unless ``allow_partial_labels``: a partitioned
    book is written part by part, so the check comes before any part is built.
    """
    from riskmodel.exceptions import ConfigError
    from riskmodel.features.build import fit_snapshots_to_data

    snapshots = settings.snapshots
    fitted = fit_snapshots_to_data(snapshots, book)
    if fit_to_data:
        return fitted
    if fitted.end != snapshots.end and not allow_partial_labels:
        raise ConfigError(
            f"snapshots after {fitted.end} have a {snapshots.horizon_months}-month label horizon reaching past "
            f"the end of the data ({span[1].date()}): their labels are not fully observed. Set "
            f"snapshots.end to {fitted.end} or earlier in params.yaml, or run `riskmodel features "
            "--fit-to-data` or `--allow-partial-labels`.")
    return snapshots


def _run_features_partitioned(settings: Settings, data_dir: Path, out: Path, fit_to_data: bool,
                              allow_partial_labels: bool) -> Path:
    """``run_features`` on a folder of customer partitions: validated, built and written part by part.

    The rows are those of the single-file path (the same features, the portfolio
    indicators from the whole book), written partition after partition (each sorted
    by snapshot_date then customer_id) into one Parquet file as row groups, so
    memory follows the partition. The portfolio indicators are recomputed from the
    book's ledger columns for every partition (cost: partitions x one pass).
    """
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from riskmodel.data import schemas as S
    from riskmodel.data.partition import PartitionedBook
    from riskmodel.exceptions import RiskModelError
    from riskmodel.features.build import build_modelling_table
    from riskmodel.features.dictionary import data_dictionary, data_dictionary_markdown
    from riskmodel.features.portfolio import attach_portfolio_features
    from riskmodel.io import atomic_path, write_frame, write_text_atomic

    if out.suffix.lower() == ".csv":
        raise RiskModelError("features: a partitioned folder writes Parquet only; give --out a .parquet file")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".riskmodel-parts-", dir=out.parent) as scratch:
        book = PartitionedBook.open(data_dir, Path(scratch), settings.safety,
                                    settings.default_definition.materiality(), workers=_open_workers(settings))
        snapshots = partitioned_snapshots(settings, book.book, book.span, fit_to_data, allow_partial_labels)
        from riskmodel.features.snapshots import snapshot_dates

        indicators = _partitioned_indicators(book, snapshot_dates(snapshots))  # the whole book's, summed by part
        n_rows, n_defaults, snaps, n_features = 0, 0, set(), 0
        with atomic_path(out) as tmp:
            writer = None
            for part in book.parts():
                frame = build_modelling_table(part, snapshots, settings.features, allow_partial_labels=True)
                frame = attach_portfolio_features(frame, book.book, indicators)  # the whole book's, not the part's
                arrow = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, arrow.schema)
                writer.write_table(arrow.cast(writer.schema))
                n_rows += len(frame)
                n_defaults += int(frame[S.label_name(settings.snapshots.horizon_months)].sum())
                snaps |= set(frame[S.SNAPSHOT_DATE].unique())
                n_features = frame.shape[1] - 3
            if writer is None:
                raise RiskModelError(f"features: {data_dir} holds no partition")
            writer.close()
    write_frame(data_dictionary(settings.features), out.parent / "data_dictionary.csv", fmt="csv")
    write_text_atomic(out.parent / "data_dictionary.md",
                      data_dictionary_markdown(settings.features, settings.snapshots.horizon_months))
    log.info("features: %d rows, %d snapshots, %d features, default rate %.2f%%, %d partitions -> %s",
             n_rows, len(snaps), n_features, 100 * n_defaults / max(n_rows, 1), len(book.names), out)
    from riskmodel.data.partition import warn_above_ceiling

    warn_above_ceiling("features", settings.scale.memory_ceiling_gb)
    return out


def _open_workers(settings: Settings) -> int:
    """Partitions validated at once when a command opens a partitioned folder (``scale.workers``, 0: planned)."""
    from riskmodel.data.partition import open_workers

    sc = settings.scale
    return open_workers(sc.memory_ceiling_gb, sc.partition_customers, sc.workers)


def _partitioned_indicators(book: "Any", snapshots: "Any") -> dict:
    """The whole book's portfolio indicators (issue 9) at ``snapshots``, summed over the partitions of ``book``
    (a ``PartitionedBook``): the whole ledger is never in memory (issue 14)."""
    from riskmodel.features.portfolio_parts import COLUMNS, PortfolioSums

    sums = PortfolioSums(book.book.customers, snapshots)
    for part in book.parts(COLUMNS):
        sums.add(part)
    return sums.indicators()


# --------------------------------------------------------------------- train
def run_train(settings: Settings, data_dir: Path | None = None, out_dir: Path | None = None) -> Path:
    """Features -> models -> out-of-time evaluation -> MLflow -> champion bundle.

    Writes ``metrics.json``, ``report.html``, ``plots/`` and ``params.yaml`` into
    ``out_dir`` (default ``reports/train``), exports the champion bundle to
    ``models/champion`` and logs the run to MLflow (models registered, alias
    ``champion``).  Returns ``out_dir``.
    """
    out_dir = Path(out_dir) if out_dir is not None else settings.resolve(settings.paths.reports_dir) / "train"
    _preflight_training(settings, out_dir)
    return publish_training(train_from_tables(settings, data_dir), settings, out_dir, run_name="train")


def leave_out_unavailable(settings: Settings, unavailable: Sequence[str]) -> Settings:
    """Settings whose models and 5C card leave out features the data cannot give point in time.

    Without ``customer_terms`` the credit limit, terms, paid-in capital and
    registration checks exist only as of the extract (look-ahead), so their
    features (``features.build.unavailable_features``) are added to
    ``models.exclude_features`` and dropped from the baseline's indicators,
    with a warning naming them.  Unchanged when nothing is unavailable.
    """
    if not unavailable:
        return settings
    excluded = tuple(dict.fromkeys([*settings.models.exclude_features, *unavailable]))
    kept = tuple(i for i in settings.baseline.indicators if i.feature not in set(unavailable))
    dropped = [i.feature for i in settings.baseline.indicators if i.feature in set(unavailable)]
    log.warning("no customer_terms history: leaving %s out of training and scoring "
                "(5C indicators dropped: %s)", ", ".join(unavailable), ", ".join(dropped) or "none")
    return settings.model_copy(update={
        "models": settings.models.model_copy(update={"exclude_features": excluded}),
        "baseline": settings.baseline.model_copy(update={"indicators": kept}),
    })


def require_history_for(model_features: Sequence[str], tables: Tables, model_name: str) -> None:
    """Refuse to score with a model that reads history features the tables cannot give point in time.

    A champion trained with ``customer_terms`` needs it to score: without it the
    limit, terms, paid-in capital and checks are known only as of the extract.
    """
    from riskmodel.exceptions import RiskModelError
    from riskmodel.features.build import unavailable_features

    needed = [f for f in unavailable_features(tables) if f in set(model_features)]
    if needed:
        raise RiskModelError(
            f"the model {model_name} was trained with the customer_terms history and reads {', '.join(needed)}; "
            "this folder has no customer_terms table (the customers table holds those facts only as of the "
            "extract, which would be look-ahead). Add customer_terms.parquet/.csv, or retrain on this folder "
            "(the features are then left out).")


def _preflight_training(settings: Settings, out_dir: Path) -> None:
    """Before minutes of training: the report folder, the bundle folder and the MLflow store must be usable."""
    from riskmodel.safety import check_tracking_store, preflight_output
    from riskmodel.tracking import resolve_tracking_uri

    preflight_output(Path(out_dir) / "metrics.json", need_bytes=50_000_000)
    preflight_output(settings.resolve(settings.paths.models_dir) / "champion" / "manifest.json")
    check_tracking_store(resolve_tracking_uri(settings))


#: peak memory of building the modelling table, per customer (issue 14: `features` at 50,000-200,000 customers
#: peaked at 32-34 KB a customer); training plans half of scale.memory_ceiling_gb for it
TRAIN_BYTES_PER_CUSTOMER = 40_000


def _training_sample(settings: Settings, data_dir: Path) -> tuple[Tables, Tables, dict, str | None]:
    """The validated tables of the customers training can hold under the memory ceiling, the whole book's
    customers and its portfolio indicators at the snapshot grid (summed over the partitions), and a sentence
    saying what was sampled (None: everyone).

    Customers, not rows, are sampled (all their snapshots kept: the out-of-time split is unchanged),
    uniformly at random with ``simulation.seed``.
    """
    import tempfile

    import numpy as np
    import pandas as pd

    from riskmodel.data import schemas as S
    from riskmodel.data.partition import PartitionedBook, subset_tables
    from riskmodel.data.tables import Tables

    cap = max(1, int(settings.scale.memory_ceiling_gb * 0.5 * 1e9 / TRAIN_BYTES_PER_CUSTOMER))
    with tempfile.TemporaryDirectory(prefix=".riskmodel-parts-", dir=data_dir.parent) as scratch:
        book = PartitionedBook.open(data_dir, Path(scratch), settings.safety,
                                    settings.default_definition.materiality(), workers=_open_workers(settings))
        ids = book.book.customers[S.CUSTOMER_ID].astype(str).to_numpy()
        sampled = None
        if len(ids) > cap:
            keep = np.random.default_rng(settings.simulation.seed).choice(len(ids), size=cap, replace=False)
            chosen = np.sort(ids[keep])
            sampled = (f"{cap:,} of {len(ids):,} customers ({cap / len(ids):.1%}), uniformly at random (seed "
                       f"{settings.simulation.seed}), all their snapshots: the modelling table of the whole book "
                       f"would pass scale.memory_ceiling_gb = {settings.scale.memory_ceiling_gb:g}")
            log.warning("training on a sample: %s", sampled)
            parts = [subset_tables(part, chosen) for part in book.parts()]
        else:
            parts = list(book.parts())
        frames = {name: pd.concat([getattr(p, name) for p in parts], ignore_index=True)
                  for name in parts[0].as_dict()}
        from riskmodel.features.snapshots import snapshot_dates

        indicators = _partitioned_indicators(book, snapshot_dates(settings.snapshots))
    return Tables.from_dict(frames), book.book, indicators, sampled


def train_from_tables(settings: Settings, data_dir: Path | None = None) -> "TrainResult":
    """Read the six tables, build the modelling table, split out of time and compare the models.

    Reads from ``data_dir`` (default ``paths.raw_dir``) and splits by
    ``settings.split``.  When the simulator's oracle sits beside the data
    (``oracle_path_for(data_dir)``), the true PDs of the test rows are evaluated
    too and the data source is "simulated".  Nothing is written.
    """
    from riskmodel.data import schemas as S
    from riskmodel.data.sim_oracle import oracle_horizon_refusal
    from riskmodel.data.simulator import oracle_path_for
    from riskmodel.data.validation import load_and_validate
    from riskmodel.features.build import build_modelling_table, unavailable_features
    from riskmodel.features.portfolio import PREFIX as PORTFOLIO_PREFIX
    from riskmodel.io import read_frame
    from riskmodel.training import train_and_compare

    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    from riskmodel.data.partition import is_partitioned

    if is_partitioned(data_dir):  # issue 14: a sample of customers under scale.memory_ceiling_gb
        tables, book, indicators, sampled = _training_sample(settings, data_dir)
    else:
        tables, book, indicators, sampled = load_and_validate(data_dir, settings.safety,
                                                              settings.default_definition.materiality()), None, None, None
    left_out = unavailable_features(tables)
    settings = leave_out_unavailable(settings, left_out)
    table = build_modelling_table(tables, settings.snapshots, settings.features)
    if book is not None:  # the portfolio indicators of the whole book, not of the sample
        from riskmodel.features.portfolio import attach_portfolio_features

        table = attach_portfolio_features(table, book, indicators)
    train, test = _split_out_of_time(table, settings)
    _require_customers_of_each_class(train, settings)
    keys = [S.CUSTOMER_ID, S.SNAPSHOT_DATE]
    label = S.label_name(settings.snapshots.horizon_months)
    features = [c for c in table.columns if c not in (*keys, label)
                and (settings.calibration.portfolio_in_model or not c.startswith(PORTFOLIO_PREFIX))]

    oracle_test = None
    oracle_file = oracle_path_for(data_dir)
    refusal = oracle_horizon_refusal(settings.snapshots.horizon_months)
    if oracle_file.is_file() and refusal:
        log.warning("%s: the oracle in %s is left out of the evaluation", refusal, oracle_file)
    elif oracle_file.is_file():
        oracle = read_frame(oracle_file)
        joined = test[keys].merge(oracle[[*keys, S.TRUE_PD]], on=keys, how="left", validate="one_to_one")
        if joined[S.TRUE_PD].isna().any():
            log.warning("the oracle in %s misses %d of %d test rows; it is left out of the evaluation",
                        oracle_file, int(joined[S.TRUE_PD].isna().sum()), len(joined))
        else:
            oracle_test = joined[S.TRUE_PD].to_numpy(dtype=float)
    split = settings.split
    data_info = {
        "source": "simulated" if oracle_test is not None else "table",
        "split": "out_of_time",
        "train_period": [split.train_start.isoformat(), split.train_end.isoformat()],
        "test_period": [split.test_start.isoformat(), split.test_end.isoformat()],
    }
    if sampled:  # issue 14: the report and the model card say what training saw
        data_info["sample"] = sampled
    if left_out:  # the report's data table and the model card say what was left out, and why
        data_info["features_left_out"] = f"{', '.join(left_out)} (no customer_terms history)"
    log.info("training on %d rows (%s..%s), testing on %d rows (%s..%s)", len(train), split.train_start,
             split.train_end, len(test), split.test_start, split.test_end)
    result = train_and_compare(
        train[features], train[label].to_numpy(dtype=int), test[features], test[label].to_numpy(dtype=int),
        settings, settings.baseline, data_info, test_keys=test[keys].reset_index(drop=True),
        oracle_test=oracle_test, train_groups=train[S.CUSTOMER_ID].astype(str).to_numpy(),
        train_snapshots=train[S.SNAPSHOT_DATE].to_numpy(),
    )
    if settings.calibration.enabled:  # issue 9: the PD level for the declared rating philosophy
        import pandas as pd

        from riskmodel.features.labels import first_default_dates
        from riskmodel.training import ImmatureRows, calibrate_levels

        ptf = [c for c in table.columns if c.startswith(PORTFOLIO_PREFIX)]
        # the cohorts between the training and the test period: immature at the cut, their early defaults count
        dates = pd.to_datetime(table[S.SNAPSHOT_DATE])
        cut = pd.Timestamp(split.train_end) + pd.DateOffset(months=settings.snapshots.horizon_months)
        gap = table[(dates > pd.Timestamp(split.train_end)) & (dates < cut)].reset_index(drop=True)
        immature = ImmatureRows(gap[features], gap[S.SNAPSHOT_DATE].to_numpy(), gap[ptf],
                                first_default_dates(tables, gap))
        result = calibrate_levels(result, settings, train[S.SNAPSHOT_DATE].to_numpy(),
                                  train[ptf].reset_index(drop=True), test[ptf].reset_index(drop=True),
                                  train[S.CUSTOMER_ID].astype(str).to_numpy(),
                                  first_default_train=first_default_dates(tables, train), immature=immature,
                                  oof=result.extra.get("oof_pd"))  # issue 13: the out-of-fold PDs already fitted
    if settings.learning_curve.enabled:  # issue 13.4: would more history help?
        from riskmodel.evaluation.learning_curve import learning_curve
        from riskmodel.models.factory import BASELINE_NAMES

        result.extra["learning_curve"] = learning_curve(
            result, train[S.CUSTOMER_ID].astype(str).to_numpy(), settings.learning_curve.shares,
            seed=settings.models.seed, skip=BASELINE_NAMES)
    result.extra.setdefault("train_period", data_info["train_period"])
    result.extra.setdefault("test_period", data_info["test_period"])
    return result


def run_train_table(
    settings: Settings,
    table: Path,
    target: str,
    id_col: str | None = None,
    time_col: str | None = None,
    baseline_file: Path | None = None,
    out_dir: Path | None = None,
    group_col: str | None = None,
) -> Path:
    """The flat-table path: train and compare on a ready-made modelling table.

    With ``time_col`` the latest ``split.flat_test_share`` of time is the test set
    (out of time); without it, stratified ``split.cv_folds``-fold cross-validation
    with metrics on all out-of-fold rows.  The 5C baseline row exists only with a
    ``baseline_file``.  Same outputs as :func:`run_train` (data source "table").
    ``group_col`` (a panel table's customer) keeps each group's rows in one fold (issue 13.2).
    """
    from riskmodel.flat import load_baseline_file, load_flat_panel, load_flat_table, train_flat

    table = Path(table)
    out_dir = Path(out_dir) if out_dir is not None else settings.resolve(settings.paths.reports_dir) / "train"
    _preflight_training(settings, out_dir)
    groups = None
    if group_col is not None:
        X, y, ids, times, groups = load_flat_panel(table, target=target, group_col=group_col, id_col=id_col,
                                                   time_col=time_col)
    else:
        X, y, ids, times = load_flat_table(table, target=target, id_col=id_col, time_col=time_col)
    baseline = load_baseline_file(baseline_file) if baseline_file is not None else None
    log.info("flat table %s: %d rows, %d features, default rate %.3f; %s; %s", table, len(y), X.shape[1],
             float(y.mean()), f"out of time by {time_col!r}" if time_col else
             f"{settings.split.cv_folds}-fold cross-validation", "with the 5C baseline" if baseline else "no baseline")
    result = train_flat(X, y, settings, baseline=baseline, ids=ids, times=times,
                        data_info={"table": table.name, "target": target}, groups=groups)
    result.extra.setdefault("target", target)
    # a flat table is another population: its champion must not replace the production one
    name = f"table-{table.stem}"
    flat_settings = settings.model_copy(update={"tracking": settings.tracking.model_copy(
        update={"registered_model": f"{settings.tracking.registered_model}-{name}"})})
    return publish_training(result, flat_settings, out_dir, run_name=f"train-{table.stem}", bundle_name=name)


def _split_out_of_time(table: "pd.DataFrame", settings: Settings) -> "tuple[pd.DataFrame, pd.DataFrame]":
    """Training and test rows of the modelling table by the snapshot periods of ``settings.split``.

    Raises ConfigError when a side is empty or has a single class, naming the
    period and the snapshot dates the table has.
    """
    import pandas as pd

    from riskmodel.data import schemas as S
    from riskmodel.exceptions import ConfigError

    sp = settings.split
    label = S.label_name(settings.snapshots.horizon_months)
    dates = pd.to_datetime(table[S.SNAPSHOT_DATE])
    sides = {
        "training": (sp.train_start, sp.train_end, "split.train_start/train_end"),
        "test": (sp.test_start, sp.test_end, "split.test_start/test_end"),
    }
    out = []
    for side, (start, end, keys) in sides.items():
        part = table[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]
        have = sorted({d.date().isoformat() for d in dates.unique()})
        span = f"{have[0]}..{have[-1]}" if have else "none"
        if part.empty:
            raise ConfigError(
                f"the {side} period {start}..{end} ({keys}) holds no rows of the modelling table; its "
                f"snapshots run {span} ({len(have)} dates). Adjust split or snapshots in params.yaml."
            )
        classes = sorted(pd.unique(part[label]).tolist())
        if len(classes) < 2:
            raise ConfigError(
                f"the {side} period {start}..{end} ({keys}) has {len(part):,} rows but only label "
                f"{label}={classes[0]}: a model cannot be {'fitted' if side == 'training' else 'evaluated'}. "
                "Widen the period or use more customers."
            )
        out.append(part.reset_index(drop=True))
    return out[0], out[1]


def _require_customers_of_each_class(train: "pd.DataFrame", settings: Settings) -> None:
    """ConfigError (one line) when the training rows hold fewer than 2 defaulting or non-defaulting customers:
    the models' calibration folds by customer then have a fold with one class (sklearn's "Only 1 class/es in
    training fold" after minutes of work), and so few defaults teach nothing."""
    from riskmodel.data import schemas as S
    from riskmodel.exceptions import ConfigError

    per_class = train.groupby(S.label_name(settings.snapshots.horizon_months))[S.CUSTOMER_ID].nunique()
    if int(per_class.min()) < 2:
        sp = settings.split
        raise ConfigError(
            f"the training period {sp.train_start}..{sp.train_end} (split.train_start/train_end) has "
            f"{int(per_class.get(1, 0))} defaulting and {int(per_class.get(0, 0))} non-defaulting customer(s): the "
            "models' cross-validated calibration needs at least 2 customers of each, and a model learnt from so "
            "few defaults would not be worth reading. Widen the period or use more customers."
        )


def publish_training(result: "TrainResult", settings: Settings, out_dir: Path, run_name: str,
                     bundle_name: str = "champion") -> Path:
    """Write metrics.json, report.html, plots and params.yaml; export the champion; log to MLflow.

    The bundle goes to ``models_dir/<bundle_name>`` (``champion`` is the one
    scoring and the service load).  The MLflow run id is kept in
    ``result.extra["mlflow_run_id"]``.  Returns ``out_dir``.
    """
    import contextlib
    import json
    import shutil
    import tempfile

    import yaml

    from riskmodel import tracking
    from riskmodel.evaluation.report import build_plots, render_report
    from riskmodel.export import build_bundle, to_jsonable
    from riskmodel.features.dictionary import data_dictionary
    from riskmodel.io import write_atomic, write_frame, write_text_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params_file = write_text_atomic(
        out_dir / "params.yaml",
        yaml.safe_dump(settings.model_dump(mode="json", exclude={"root"}), sort_keys=False, allow_unicode=True),
    )
    with contextlib.ExitStack() as stack:
        run_id = stack.enter_context(tracking.training_run(
            settings, run_name=run_name, tags={"data.source": str(result.data.get("source"))}))
        bundle = build_bundle(result, settings, run_id)
        champion_dir = settings.resolve(settings.paths.models_dir) / bundle_name
        champion_dir.parent.mkdir(parents=True, exist_ok=True)
        # staged beside its target: logged to MLflow first, swapped in last, so models/ never
        # holds a champion the registry does not know
        staging = Path(tempfile.mkdtemp(prefix=f".{bundle_name}.staging.", dir=champion_dir.parent))
        stack.callback(shutil.rmtree, staging, ignore_errors=True)
        bundle.save(staging)
        figures = build_plots(result, settings)
        for stale in (out_dir / "plots").glob("*.png"):  # a previous run's figures must not be logged
            if stale.stem not in figures:
                stale.unlink()
        for name, png in figures.items():
            write_atomic(out_dir / "plots" / f"{name}.png", lambda p, b=png: p.write_bytes(b))  # type: ignore[misc]
        write_text_atomic(out_dir / "report.html", render_report(result, settings, figures=figures))
        metrics = to_jsonable(result.metrics_json(), nan_as_none=True)
        write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False))
        dictionary = data_dictionary(settings.features)
        dictionary = dictionary[dictionary["feature"].isin(result.features)]
        if len(dictionary):  # the six-table features; a flat table's own columns have no entry
            write_frame(dictionary, out_dir / "data_dictionary.csv")
        else:
            (out_dir / "data_dictionary.csv").unlink(missing_ok=True)
        tracking.log_training_run(result, settings, params_file, out_dir, staging, run_id=run_id)
        _replace_dir(champion_dir, lambda tmp: shutil.copytree(staging, tmp, dirs_exist_ok=True))
        result.extra["mlflow_run_id"] = run_id
    verdict = ", ".join(f"{k}: AUC {m.metrics['auc']:.3f}" for k, m in result.models.items())
    log.info("champion %s (%s); report %s; bundle %s; MLflow run %s", result.champion, verdict,
             out_dir / "report.html", champion_dir, run_id)
    return out_dir


def _replace_dir(target: Path, write: "Callable[[Path], object]") -> Path:
    """Build a folder beside ``target`` with ``write(tmp_dir)``, then swap it in (old one removed)."""
    import shutil
    import tempfile

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = target.parent / f".{target.name}.old-{tmp.name.rsplit('.', 1)[-1]}"
    try:
        write(tmp)
        if target.exists():
            target.rename(old)
        try:
            tmp.rename(target)
        except OSError:
            if old.exists():  # put the previous folder back rather than leave none
                old.rename(target)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


# --------------------------------------------------------------------- score
def _read_previous_scores(previous: Path | str) -> "pd.DataFrame":
    """The ``--previous`` scores, checked before anything is scored or written (one clear error)."""
    from riskmodel.exceptions import DataNotFoundError, RiskModelError
    from riskmodel.io import read_frame

    path = Path(previous)
    if not path.is_file():
        raise DataNotFoundError(f"--previous {path}: no such file; give an earlier `riskmodel score` output")
    try:
        prev = read_frame(path)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        raise RiskModelError(f"--previous {path} is not a readable scores file ({type(err).__name__}); give an "
                             "earlier `riskmodel score` output (.parquet or .csv)") from None
    missing = [c for c in ("customer_id", "grade") if c not in prev.columns]
    if missing:
        raise RiskModelError(f"--previous {path} has no column {', '.join(missing)}; give an earlier "
                             "`riskmodel score` output")
    dup = prev["customer_id"].astype(str).duplicated()
    if dup.any():
        raise RiskModelError(f"--previous {path} lists {int(dup.sum())} customer id(s) more than once (e.g. "
                             f"{prev.loc[dup, 'customer_id'].astype(str).head(3).tolist()}); give an earlier "
                             "`riskmodel score` output, one row per customer")
    return prev


def write_scores(result: pd.DataFrame, ids: Any, date: pd.Timestamp, drift: Any, reason_counts: dict[str, int],
                 scorer: Any, bundle: Any, settings: Settings, prev: pd.DataFrame | None, previous: Any,
                 out: Path, fmt: str) -> None:
    """Check that every customer was scored once, then write the scores, their drift report and migration
    together (atomically); shared by the single-machine and the Spark engine."""
    import json

    from riskmodel.data import schemas as S
    from riskmodel.drift import STATUS_ALERT, STATUS_EXPECTED, STATUS_WARNING
    from riskmodel.exceptions import RiskModelError
    from riskmodel.io import atomic_group, frame_writer
    from riskmodel.migration import migration_matrix, migration_summary
    from riskmodel.scoring import SCORED, STATUS

    got = result[S.CUSTOMER_ID].astype(str)
    if len(result) != len(ids) or got.duplicated().any() or set(got) != set(ids):
        raise RiskModelError(f"scoring lost or repeated customers: {len(ids)} in, {len(result)} out "
                             f"({int(got.duplicated().sum())} repeated)")
    if not (result[STATUS] == SCORED).any():
        from riskmodel.exceptions import NoDataError

        raise NoDataError(f"no customer can be scored as of {date.date()} (statuses: "
                          f"{result[STATUS].value_counts().to_dict()}); choose a date inside the data")
    report = drift.report()
    flagged = report[report["status"].isin([STATUS_WARNING, STATUS_ALERT])]
    for row in flagged.itertuples():
        log.warning("drift %s on %s: PSI %.3f", row.status, row.variable, row.psi)
    drift_doc = {
        "as_of": str(date.date()),
        "model_version": bundle.version,
        "thresholds": {"warning": settings.scoring.psi_warning, "alert": settings.scoring.psi_alert},
        "n_scored": int((result[STATUS] == SCORED).sum()),
        "score_psi": (None if (report["variable"] == "score").sum() == 0
                      else float(report.loc[report["variable"] == "score", "psi"].iloc[0])),
        "alerts": report.loc[report["status"] == STATUS_ALERT, "variable"].tolist(),
        "warnings": report.loc[report["status"] == STATUS_WARNING, "variable"].tolist(),
        "expected": report.loc[report["status"] == STATUS_EXPECTED, "variable"].tolist(),
        "variables": json.loads(report.to_json(orient="records")),
        # reasons whose direction contradicts the value they quote (must be 0), and reasons withheld
        # because no member of their concept could be quoted without contradiction
        "reasons": {"reference": scorer.reference_label, **reason_counts},
        "pd_level": level_age(bundle.manifest, date, settings),
    }
    if reason_counts.get("contradictions"):
        log.error("%d reasons contradict the value they quote", reason_counts["contradictions"])
    matrix = migration_matrix(prev, result, scorer.grade_names()) if prev is not None else None
    # the scores and their drift report (and migration) are replaced together or not at all
    targets = [out, Path(f"{out}.drift.json")] + ([Path(f"{out}.migration.csv")] if matrix is not None else [])
    with atomic_group(targets) as tmps:
        frame_writer(result, fmt)(tmps[0])
        tmps[1].write_text(json.dumps(drift_doc, indent=2), encoding="utf-8")
        if matrix is not None:
            tmps[2].write_text(matrix.to_csv(), encoding="utf-8")
    if matrix is not None:
        log.info("rating migration against %s: %s", previous, migration_summary(matrix, scorer.grade_names()))


def run_score(
    settings: Settings,
    as_of: str,
    data_dir: Path | None = None,
    out_file: Path | None = None,
    fmt: str = "parquet",
    previous: Path | None = None,
) -> Path:
    """Score every customer as of a date with the champion bundle.

    Every customer of the input appears exactly once: scored (PD, grade, 5C levels,
    reasons, limit and terms) or with a status saying why not (in_default,
    not_yet_onboarded, no_activity).  Work is chunked over customers
    (``scoring.chunk_size``) with a progress bar on a terminal.  Writes, atomically:
    the scores (``out_file``, default ``generated_dir/scores_<as_of>.parquet``), the
    drift report ``<out>.drift.json`` (PSI of score and features vs training, flagged
    at ``scoring.psi_warning`` / ``psi_alert``) and, with ``previous``, the rating
    migration matrix ``<out>.migration.csv``.  Returns the scores' path.
    """
    import sys

    import pandas as pd
    from tqdm import tqdm

    from riskmodel.data import schemas as S
    from riskmodel.data.partition import (
        check_as_of,
        chunk_tables,
        data_span,
        iter_chunks,
        parse_as_of,
    )
    from riskmodel.data.validation import load_and_validate
    from riskmodel.exceptions import RiskModelError

    if fmt not in ("parquet", "csv"):
        raise RiskModelError(f"score: --format must be 'parquet' or 'csv', got {fmt!r}")
    date = parse_as_of(as_of)
    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    out = (Path(out_file) if out_file is not None
           else settings.resolve(settings.paths.generated_dir) / f"scores_{date.date()}.{fmt}")
    prev = _read_previous_scores(previous) if previous is not None else None  # before any work or write
    from riskmodel.safety import preflight_output

    preflight_output(out, need_bytes=20_000_000)  # writable, with room, before minutes of work
    import tempfile

    from riskmodel.data.partition import PartitionedBook, is_partitioned

    scratch = (tempfile.TemporaryDirectory(prefix=".riskmodel-parts-", dir=out.parent)  # removed when done
               if is_partitioned(data_dir) else None)
    book = (PartitionedBook.open(data_dir, Path(scratch.name), settings.safety,
                                 settings.default_definition.materiality(), workers=_open_workers(settings))
            if scratch is not None else None)  # issue 14: one customer partition in memory at a time
    tables = book.book if book is not None else load_and_validate(data_dir, settings.safety,
                                                                    settings.default_definition.materiality())
    check_as_of(date, *(book.span if book is not None else data_span(tables)))
    # the model's side, imported once the arguments and the tables have been checked (MLflow alone takes
    # seconds to import: a mistyped date or a broken table is reported without waiting for it)
    from riskmodel.champion import load_champion_bundle
    from riskmodel.drift import DriftAccumulator
    from riskmodel.features.build import build_features
    from riskmodel.features.dictionary import CALENDAR_DRIVEN
    from riskmodel.scoring import SCORED, STATUS, Scorer

    bundle = load_champion_bundle(settings)
    require_history_for(bundle.features, tables, bundle.model_name)
    scorer = Scorer(bundle, settings.scoring, limit_review=settings.limit_review)
    drift = DriftAccumulator(bundle.reference, settings.scoring.psi_warning, settings.scoring.psi_alert,
                             expected_drift=CALENDAR_DRIVEN)

    ids = tables.customers[S.CUSTOMER_ID].astype("str").sort_values(kind="stable").to_numpy()
    size = settings.scoring.chunk_size
    parts = []
    reason_counts: dict[str, int] = {}  # shown, contradictions, withheld over all chunks (issue 10.1)
    n_chunks = len(list(iter_chunks(len(ids), size)))
    parts_iter: Iterable[tuple[slice | None, Tables]] = (
        [(slice(0, len(ids)), tables)] if n_chunks == 1 else chunk_tables(tables, ids, size))
    if book is not None:  # the partitions on disk are the chunks
        n_chunks, parts_iter = len(book.names), ((None, part) for part in book.parts())
    bar = tqdm(parts_iter, total=n_chunks, desc=f"scoring {len(ids):,} customers", unit="chunk",
               disable=not sys.stderr.isatty())
    ptf = _portfolio_at(tables, ids, date,  # issue 9: segment indicators of the whole book, not of a chunk
                        None if book is None else _partitioned_indicators(book, [date]))
    for _, part_tables in bar:
        feats = build_features(part_tables, [date], settings.features, population="all")
        feats = feats.join(ptf, on=S.CUSTOMER_ID)
        scored = scorer.score_features(feats)
        mask = (scored[STATUS] == SCORED).to_numpy()
        drift.update(feats.loc[mask], scored.loc[mask, "pd"].to_numpy())
        for key, value in scored.attrs.get("reasons", {}).items():
            reason_counts[key] = reason_counts.get(key, 0) + int(value)
        parts.append(scored)
    result = pd.concat(parts, ignore_index=True) if parts else scorer.score_features(pd.DataFrame())
    if scratch is not None:
        scratch.cleanup()
    write_scores(result, ids, date, drift, reason_counts, scorer, bundle, settings, prev, previous, out, fmt)
    counts = result[STATUS].value_counts().to_dict()
    grades = result["grade"].value_counts().sort_index().to_dict()
    log.info("scored %d customers as of %s with %s %s: %s; grades %s -> %s", len(result), date.date(),
             bundle.model_name, bundle.version, counts, {k: v for k, v in grades.items() if v}, out)
    from riskmodel.data.partition import warn_above_ceiling

    warn_above_ceiling("score", settings.scale.memory_ceiling_gb)  # issue 14
    return out


def level_age(manifest: dict, date: "pd.Timestamp", settings: Settings) -> dict:
    """How old the PD level is at ``date``; logs a warning past ``calibration.max_level_age_months``.

    A point-in-time level is only as current as the outcomes it was fitted on: the
    operating cycle re-estimates it with ``riskmodel recalibrate`` every quarter.
    """
    import pandas as pd

    ct = manifest.get("central_tendency") or {}
    if not ct.get("as_of"):
        return {"fitted_as_of": None, "age_months": None, "stale": None}
    fitted = pd.Timestamp(ct["as_of"])
    months = (date.year - fitted.year) * 12 + (date.month - fitted.month)
    stale = months > settings.calibration.max_level_age_months
    if stale:
        log.warning("the PD level was fitted on outcomes known at %s, %d months before %s (philosophy %s): "
                    "run `riskmodel recalibrate --as-of %s` so the level follows the defaults recorded since",
                    fitted.date(), months, date.date(), ct.get("philosophy"), date.date())
    return {"fitted_as_of": str(fitted.date()), "age_months": months, "stale": stale,
            "philosophy": ct.get("philosophy")}


def _portfolio_at(tables: "Tables", ids: "Any", date: "pd.Timestamp", indicators: dict | None = None
                  ) -> "pd.DataFrame":
    """The portfolio features (issue 9) of customers ``ids`` at ``date``, from the whole book, by customer_id
    (from ``indicators`` when given: summed over customer partitions)."""
    import pandas as pd

    from riskmodel.data import schemas as S
    from riskmodel.features.portfolio import portfolio_features

    keys = pd.DataFrame({S.CUSTOMER_ID: [str(i) for i in ids], S.SNAPSHOT_DATE: pd.Timestamp(date)})
    return portfolio_features(tables, keys, indicators).set_index(keys[S.CUSTOMER_ID])


def run_explain(
    settings: Settings,
    customer_id: str,
    as_of: str | None = None,
    fmt: str = "html",
    data_dir: Path | None = None,
    out_file: Path | None = None,
) -> Path:
    """Write the committee memo for one customer (HTML, PDF or JSON); return its path.

    ``as_of`` defaults to the latest quarter end covered by the data.  An unknown
    customer raises UnknownCustomerError; a date with no data (before the first
    record, long after the last, or before the customer was onboarded) raises
    NoDataError.  Default output: ``reports_dir/memos/memo_<customer>_<as_of>.<fmt>``.
    """
    import json

    from riskmodel.data import schemas as S
    from riskmodel.data.partition import (
        check_as_of,
        data_span,
        default_as_of,
        parse_as_of,
        subset_tables,
    )
    from riskmodel.data.validation import load_and_validate
    from riskmodel.exceptions import NoDataError, RiskModelError, UnknownCustomerError
    from riskmodel.io import write_atomic, write_text_atomic

    if fmt not in ("html", "pdf", "json"):
        raise RiskModelError(f"explain: --format must be html, pdf or json, got {fmt!r}")
    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    tables = load_and_validate(data_dir, settings.safety, settings.default_definition.materiality())
    ids = tables.customers[S.CUSTOMER_ID].astype(str)
    if customer_id not in set(ids):
        examples = ", ".join(ids.sort_values().head(3))
        raise UnknownCustomerError(f"customer {customer_id!r} is not in {data_dir} ({len(ids):,} customers, "
                                   f"e.g. {examples})")
    first, last = data_span(tables)
    date = parse_as_of(as_of) if as_of is not None else default_as_of(last)
    check_as_of(date, first, last)
    # the model's side once the arguments and the tables are checked (as in run_score: MLflow takes seconds)
    from riskmodel.champion import load_champion_bundle
    from riskmodel.explain.memo import build_memo
    from riskmodel.features.build import build_features
    from riskmodel.scoring import NOT_YET_ONBOARDED, Scorer

    bundle = load_champion_bundle(settings)
    require_history_for(bundle.features, tables, bundle.model_name)
    scorer = Scorer(bundle, settings.scoring, limit_review=settings.limit_review)
    mine = subset_tables(tables, [customer_id])
    feats = build_features(mine, [date], settings.features, population="all")
    feats = feats.join(_portfolio_at(tables, [customer_id], date), on=S.CUSTOMER_ID)  # issue 9
    explanation = scorer.explain_frame(feats)[0]
    if explanation.status == NOT_YET_ONBOARDED:
        onboarded = mine.customers[S.ONBOARDED_DATE].iloc[0]
        raise NoDataError(f"customer {customer_id} was onboarded on {onboarded.date()}, not before the as-of date "
                          f"{date.date()}: nothing to explain")
    memo = build_memo(explanation, mine, date, settings.features.publication_lag_months, bundle.manifest,
                      scorer.master_scale, currency=settings.reporting.currency, limit_review=settings.limit_review)
    if out_file is not None:
        out = Path(out_file)
    else:  # the id comes from the data: encode it and keep the file inside the memo folder
        from riskmodel.safety import ensure_inside, safe_name

        memo_dir = settings.resolve(settings.paths.reports_dir) / "memos"
        out = ensure_inside(memo_dir, memo_dir / f"memo_{safe_name(customer_id)}_{date.date()}.{fmt}")
    if fmt == "html":
        write_text_atomic(out, memo.html())
    elif fmt == "pdf":
        pdf = memo.pdf()
        write_atomic(out, lambda p: p.write_bytes(pdf))
    else:
        write_text_atomic(out, json.dumps(memo.to_dict(), indent=2))
    log.info("memo for %s as of %s: PD %s, grade %s -> %s", customer_id, date.date(),
             "n/a" if explanation.pd is None else f"{explanation.pd:.2%}", explanation.grade, out)
    return out


def run_serve(settings: Settings, host: str | None = None, port: int | None = None,
              workers: int | None = None) -> None:
    """Run the REST service with uvicorn (the champion is loaded once at start-up, in every worker)."""
    import uvicorn

    from riskmodel.champion import load_champion_bundle
    from riskmodel.scoring import Scorer
    from riskmodel.service.app import create_app

    host = host or settings.service.host
    port = port or settings.service.port
    workers = workers or settings.service.workers
    bundle = load_champion_bundle(settings)  # verified and tested here, so a bad model is one line, not a traceback
    Scorer(bundle, settings.scoring, limit_review=settings.limit_review).self_test()
    from riskmodel.safety import preflight_listen

    preflight_listen(host, port)  # a taken port or a foreign address is one line, not uvicorn's log and exit 3
    log.info("serving on http://%s:%d (OpenAPI at /docs)%s", host, port,
             f" with {workers} worker processes" if workers > 1 else "")
    if workers == 1:
        uvicorn.run(create_app(settings, bundle), host=host, port=port, log_level="info", access_log=False)
        return
    _serve_workers(settings, host, port, workers)


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """uvicorn with several worker processes: they import the app by name, so the settings travel to them
    through the environment (as JSON) and each worker loads and verifies the champion itself."""
    import os

    import uvicorn

    from riskmodel.service.app import SETTINGS_ENV

    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run("riskmodel.service.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="info", access_log=False)


# ---------------------------------------------------------------------- demo
def run_demo(settings: Settings) -> None:
    """The main job end to end on the simulated base.

    simulate (into ``paths.raw_dir``) -> validate -> features -> train (report,
    MLflow, champion bundle) -> as of the data's last quarter end: monitor the
    level, recalibrate it (issue 9) -> score the base and write one memo (issue 4).
    """
    from riskmodel.exceptions import SchemaError

    raw_dir = settings.resolve(settings.paths.raw_dir)
    run_simulate(settings, out_dir=raw_dir)
    if not run_validate(settings, data_dir=raw_dir):
        raise SchemaError(f"the simulated tables in {raw_dir} break the data contract (see the report above)")
    run_features(settings, data_dir=raw_dir)
    report_dir = run_train(settings, data_dir=raw_dir)
    log.info("demo: comparison report in %s", Path(report_dir) / "report.html")
    # --- demo continues here: score the base and write one committee memo (issue 4, scoring helper) ---
    from riskmodel.data.partition import data_span, default_as_of
    from riskmodel.data.validation import load_and_validate
    from riskmodel.io import read_frame
    from riskmodel.scoring import SCORED

    as_of = default_as_of(data_span(load_and_validate(raw_dir, settings.safety))[1])
    if settings.calibration.enabled:  # the operating cycle: check the level, then re-estimate it before scoring
        run_monitor(settings, as_of=str(as_of.date()), data_dir=raw_dir)
        run_recalibrate(settings, as_of=str(as_of.date()), data_dir=raw_dir)
    scores_file = run_score(settings, as_of=str(as_of.date()), data_dir=raw_dir)
    scores = read_frame(scores_file)
    scored = scores[scores["status"] == SCORED]
    if len(scored):  # the memo goes to the riskiest customer still rated (a committee case)
        customer = str(scored.sort_values(["pd", "customer_id"], ascending=[False, True])["customer_id"].iloc[0])
        memo = run_explain(settings, customer, as_of=str(as_of.date()), data_dir=raw_dir)
        log.info("demo: scores in %s; committee memo for %s in %s", scores_file, customer, memo)


# ------------------------------------------------- recalibrate and monitor (issue 9)
def _model_pds(settings: Settings, bundle: "Any", table: "pd.DataFrame", level: bool) -> "tuple[pd.DataFrame, Any]":
    """Score modelling-table rows with a bundle: the scored rows and their PDs (with or without its level)."""
    from riskmodel.scoring import SCORED, STATUS, Scorer

    scorer = Scorer(bundle, settings.scoring, limit_review=settings.limit_review)
    if not level:
        scorer.central_tendency = None
    scored = scorer.score_features(table)
    ok = (scored[STATUS] == SCORED).to_numpy()
    return table[ok].reset_index(drop=True), scored.loc[ok, "pd"].to_numpy(dtype=float)


def run_monitor(settings: Settings, as_of: str, data_dir: Path | None = None, out_file: Path | None = None) -> Path:
    """Realised against predicted default rates of every cohort matured by ``as_of``, with traffic lights.

    Scores each matured cohort (``snapshot + horizon <= as_of``) with the champion bundle,
    backtests it per grade and industry, and alerts when a cohort's default rate leaves the
    band of its mean PD.  Writes ``reports_dir/monitor/monitor_<as_of>.json`` (or ``out_file``);
    every flagged cohort is logged at WARNING.  Returns the file.
    """
    import json

    from riskmodel.champion import load_champion_bundle
    from riskmodel.data import schemas as S
    from riskmodel.data.partition import parse_as_of
    from riskmodel.data.validation import load_and_validate
    from riskmodel.export import to_jsonable
    from riskmodel.features import names as N
    from riskmodel.io import write_text_atomic
    from riskmodel.monitoring import matured_table, monitor_cohorts

    date = parse_as_of(as_of)
    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    tables = load_and_validate(data_dir)
    bundle = load_champion_bundle(settings)
    rows, p = _model_pds(settings, bundle, matured_table(tables, settings, date), level=True)
    doc = monitor_cohorts(rows[S.label_name(settings.snapshots.horizon_months)].to_numpy(dtype=int), p, rows[S.SNAPSHOT_DATE].to_numpy(),
                          rows[N.REG_INDUSTRY].astype(str).to_numpy() if N.REG_INDUSTRY in rows else None, settings,
                          date, {"name": bundle.model_name, "version": bundle.version,
                                 "rating_philosophy": bundle.manifest.get("rating_philosophy")},
                          train_end=(bundle.manifest.get("training_period") or [None, None])[1])
    out = (Path(out_file) if out_file is not None
           else settings.resolve(settings.paths.reports_dir) / "monitor" / f"monitor_{date.date()}.json")
    write_text_atomic(out, json.dumps(to_jsonable(doc, nan_as_none=True), indent=2))
    for c in doc["cohorts"]:
        if c["light"] != "green":
            log.warning("monitor: central tendency of cohort %s: realised %.2f%% against predicted %.2f%% (band %.2f%%..%.2f%% at 95%%): %s",
                        c["snapshot_date"], 100 * c["observed_rate"], 100 * c["mean_pd"], 100 * c["band"]["low_95"],
                        100 * c["band"]["high_95"], c["light"])
    log.info("monitor as of %s (%s %s): %s -> %s", date.date(), bundle.model_name, bundle.version, doc["summary"], out)
    return out


def run_recalibrate(settings: Settings, as_of: str, data_dir: Path | None = None) -> Path:
    """Re-estimate the champion's PD level from the outcomes matured by ``as_of``; register the new version.

    The model (its ranking) is unchanged; only the central-tendency calibration is refitted, for
    ``calibration.philosophy``, on cohorts with ``snapshot + horizon <= as_of`` (rows of the
    training period are scored in sample).  The same champion gate as training decides the alias:
    on the matured cohorts after the training period, the recalibrated model must beat the 5C
    baseline (higher AUC, clustered DeLong p < ``evaluation.champion_alpha``), unless it is the
    baseline itself.  A version that passes replaces ``models/champion``; one that fails is kept in
    ``models/recalibrated-<as_of>`` and registered without the alias.  Returns the bundle folder.
    """
    import json
    import shutil
    import tempfile

    import numpy as np
    import pandas as pd

    from riskmodel import tracking
    from riskmodel.bundle import Bundle
    from riskmodel.champion import load_champion_bundle
    from riskmodel.data import schemas as S
    from riskmodel.data.partition import parse_as_of
    from riskmodel.data.validation import load_and_validate
    from riskmodel.evaluation.backtest import run_backtest
    from riskmodel.evaluation.delong import delong_roc_test
    from riskmodel.export import model_card, to_jsonable
    from riskmodel.features import names as N
    from riskmodel.features.portfolio import PREFIX
    from riskmodel.models.central_tendency import fit_central_tendency, matured
    from riskmodel.models.factory import BASELINE_NAME
    from riskmodel.monitoring import calibration_table

    date = parse_as_of(as_of)
    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    tables = load_and_validate(data_dir)
    bundle = load_champion_bundle(settings)
    table, first_default = calibration_table(tables, settings, date)
    keys = table[[S.CUSTOMER_ID, S.SNAPSHOT_DATE]].assign(_first_default=first_default)
    rows, p_model = _model_pds(settings, bundle, table, level=False)
    first_default = rows[[S.CUSTOMER_ID, S.SNAPSHOT_DATE]].merge(
        keys, on=[S.CUSTOMER_ID, S.SNAPSHOT_DATE], how="left", validate="one_to_one")["_first_default"].to_numpy()
    y = rows[S.label_name(settings.snapshots.horizon_months)].to_numpy(dtype=int)
    snaps = rows[S.SNAPSHOT_DATE].to_numpy()
    cov = rows[[c for c in rows.columns if c.startswith(PREFIX)]]
    h = settings.snapshots.horizon_months
    ct = fit_central_tendency(p_model, y, snaps, cov, settings.calibration, h, date, first_default=first_default)
    p_new = ct.apply(p_model, cov)
    train_end = pd.Timestamp((bundle.manifest.get("training_period") or [None, settings.split.train_end])[1])
    # the gate and the backtest read outcomes, so matured cohorts only
    oot = ((pd.to_datetime(pd.Series(snaps)) > train_end).to_numpy() & matured(snaps, date, h))
    if not oot.any() or len(np.unique(y[oot])) < 2:
        from riskmodel.exceptions import NoDataError

        raise NoDataError(f"no matured cohort after the training period ({train_end.date()}) by {date.date()} with "
                          "defaults and non-defaults: the champion gate cannot be run; choose a later --as-of")
    X_oot = rows[oot].reset_index(drop=True)
    groups = X_oot[S.CUSTOMER_ID].astype(str).to_numpy()
    gate: dict = {"evaluated_on": sorted({str(pd.Timestamp(s).date()) for s in snaps[oot]}),
                  "n": int(oot.sum())}
    if bundle.model_name == BASELINE_NAME or bundle.baseline is None:
        gate.update(passed=True, reason="the champion is the 5C baseline, which keeps the alias when nothing beats it")
    else:
        p_base = bundle.baseline.predict_proba(X_oot)[:, 1]
        a1, a0, z, pv = delong_roc_test(y[oot], p_new[oot], p_base, groups=groups)
        passed = bool(a1 > a0 and pv < settings.evaluation.champion_alpha)
        gate.update(passed=passed, auc=a1, auc_baseline=a0, p_value=pv,
                    reason=f"AUC {a1:.3f} vs 5C {a0:.3f}, DeLong p {pv:.2g}")
    backtest = run_backtest(y[oot], p_new[oot], settings.master_scale, settings.calibration.asset_correlation,
                            snapshot=snaps[oot], industry=X_oot[N.REG_INDUSTRY].astype(str).to_numpy()
                            if N.REG_INDUSTRY in X_oot else None, bins=settings.evaluation.calibration_bins,
                            philosophy=settings.calibration.philosophy)
    created = pd.Timestamp.now(tz="UTC").to_pydatetime()
    manifest = json.loads(json.dumps(bundle.manifest, default=str))
    metrics = manifest.setdefault("metrics", {})
    metrics["backtest"] = {"model": bundle.model_name, "philosophy": settings.calibration.philosophy,
                           "evaluated_on": "matured cohorts after the training period", **backtest}
    manifest.update(rating_philosophy=settings.calibration.philosophy, central_tendency=ct.to_dict(),
                    recalibration={"as_of": str(date.date()), "previous_version": bundle.version, "gate": gate})
    with tracking.training_run(settings, run_name=f"recalibrate-{date.date()}",
                               tags={"recalibrated_from": bundle.version}) as run_id:
        manifest["version"] = f"{created:%Y%m%d-%H%M%S}-{run_id[:8]}"
        manifest["created_at"] = created.isoformat(timespec="seconds")
        manifest["mlflow_run_id"] = run_id
        new = Bundle(model=bundle.model, baseline=bundle.baseline, reference=bundle.reference,
                     manifest=to_jsonable(manifest), model_card=model_card(manifest))
        name = "champion" if gate["passed"] else f"recalibrated-{date.date()}"
        target = settings.resolve(settings.paths.models_dir) / name
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.staging.", dir=target.parent))
        try:
            new.save(staging)
            version = tracking.log_recalibration(settings, run_id, staging, new, rows[oot].reset_index(drop=True),
                                                 gate_passed=gate["passed"], ct=ct.to_dict(), backtest=backtest)
            _replace_dir(target, lambda tmp: shutil.copytree(staging, tmp, dirs_exist_ok=True))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    (log.info if gate["passed"] else log.warning)(
        "recalibrated %s as of %s: %s; gate %s (%s); registered version %s%s -> %s", bundle.model_name, date.date(),
        ct.describe(), "passed" if gate["passed"] else "FAILED", gate["reason"], version,
        " with the champion alias" if gate["passed"] else " without the alias", target)
    return target
