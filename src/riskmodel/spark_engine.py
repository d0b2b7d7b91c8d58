"""``features`` and batch ``score`` on Apache Spark (issue 14.2): ``riskmodel features|score --engine spark``.

The same stages as :mod:`riskmodel.pipeline`, distributed by customer, running the very
same single-machine code on every customer group:

1. The input tables are read as Spark DataFrames (one Parquet or CSV file per table, or
   the ``<table>/part-*.parquet`` customer partitions of :mod:`riskmodel.data.partition`).
   Every table gets a group key ``_pk = pmod(xxhash64(customer_id), spark.customer_partitions)``
   (so a customer's rows are never split) and its columns prefixed ``<table>__``; the tables
   are unioned into one long frame (absent columns null) with a ``_table`` tag.
2. ``groupBy(_pk).applyInPandas`` hands each group to a pandas function that splits it back
   into the tables, restores the types the single-machine reader gives
   (:func:`riskmodel.data.validation.read_raw_table`), and validates and types them with
   :func:`riskmodel.data.validation.validate_tables`.
3. A first pass returns, per group, the contract report and the few columns the whole book
   is needed for (``partition.BOOK_COLUMNS``: the data's span and the portfolio indicators
   of issue 9). The driver computes the portfolio indicators once
   (:func:`riskmodel.features.portfolio.portfolio_indicators`) and ships them to the groups.
4. A second pass runs :func:`~riskmodel.features.build.build_modelling_table` (features) or
   :func:`~riskmodel.features.build.build_features` then
   :meth:`riskmodel.scoring.Scorer.score_features` (score, reasons included) on each group.
   The champion bundle's path and checksum travel to the workers; each Python worker loads
   it once (``_SCORERS``, a cache keyed by path and checksum, local to this module).
5. Each group's result comes back to the driver (pickled pandas, dtypes kept), is written as
   one Parquet file per group (``<out stem>_parts/part-NNNNN.parquet``) and concatenated into
   the single-machine output file (same rows, order, columns and types), all atomically.

Results equal the single-machine path's (tests/test_spark.py). pyspark is imported here
only, lazily: the single-machine engine never imports it.

Limits (said plainly): the driver holds the book columns (customer segment and onboarding
date, the ledger's dates and amounts, the default dates; about 60 bytes an invoice) for
the portfolio indicators and the data's span, and the final single file in memory; the
``_parts`` folder is the output that scales. Contract rules are checked within each group,
plus a global check of every table's key in Spark (ids repeated across groups).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from riskmodel.config import Settings
from riskmodel.data import schemas as S
from riskmodel.exceptions import RiskModelError, SchemaError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

    from riskmodel.data.tables import Tables
    from riskmodel.scoring import Scorer

log = logging.getLogger(__name__)

PK = "_pk"  # the customer group of a row
TABLE = "_table"  # the table a row of the union comes from
SEP = "__"  # <table>__<column> in the union
PAYLOAD = "_payload"
ROWS = "_rows"
REPORT = "_report"
OK = "_ok"

#: the champion's scorer per Python worker, keyed by (bundle path, checksum): loaded once per worker
_SCORERS: dict[tuple[str, str], tuple[Scorer, pd.DataFrame]] = {}


# ----------------------------------------------------------------------------- session
def spark_session(settings: Settings) -> SparkSession:
    """The Spark session of ``settings.spark`` (an active one, e.g. under spark-submit, is reused).

    Sets what the engine relies on: UTC session time (timestamps round-trip unchanged),
    nanosecond Parquet timestamps read as integers (pandas writes them; Spark 3.5 refuses
    them otherwise), Arrow for pandas, this Python for the workers, scratch and JVM temp
    files under ``spark.local_dir``, Java options for Arrow on Java 17, quiet logs. Any key
    of ``spark.conf`` overrides these.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the installation
        raise RiskModelError("--engine spark needs pyspark: pip install 'riskmodel[spark]' (and a Java 17 "
                             "runtime, e.g. Debian's openjdk-17-jre-headless)") from None
    import os

    # the Python workers run this interpreter (PySpark reads only the environment variable for that)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    cfg = settings.spark
    local_dir = settings.resolve(cfg.local_dir)
    local_dir.mkdir(parents=True, exist_ok=True)
    java = f"{cfg.java_options} -Djava.io.tmpdir={local_dir}".strip()
    conf: dict[str, str] = {
        "spark.app.name": cfg.app_name,
        "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.legacy.parquet.nanosAsLong": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.local.dir": str(local_dir),
        "spark.driver.extraJavaOptions": java,
        "spark.executor.extraJavaOptions": java,
        "spark.pyspark.python": sys.executable,
    }
    if cfg.master.startswith("local"):  # the workers import this very riskmodel (a source checkout too)
        import riskmodel

        conf["spark.executorEnv.PYTHONPATH"] = str(Path(riskmodel.__file__).resolve().parents[1])
    conf.update(cfg.conf)
    builder = SparkSession.builder.master(cfg.master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level)
    return spark


# ----------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class RawLayout:
    """How to turn a group's rows of the union back into the single-machine reader's frames.

    ``columns``: each table's columns in file order; ``schemas``: each Parquet table's Arrow
    schema (None for CSV, read as text); ``na_values``: extra missing markers of CSV cells.
    """

    columns: dict[str, list[str]]
    schemas: dict[str, pa.Schema | None]
    na_values: tuple[str, ...]


def _first_parquet(path: Path) -> Path:
    return path if path.is_file() else sorted(path.glob("*.parquet"))[0]


def read_union(spark: SparkSession, data_dir: Path, settings: Settings) -> tuple[SparkFrame, RawLayout]:
    """The input tables of ``data_dir`` as one Spark frame keyed by customer group, and their layout."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from riskmodel.data.validation import find_table_file
    from riskmodel.exceptions import DataNotFoundError

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataNotFoundError(f"data folder {data_dir} does not exist")
    n = settings.spark.customer_partitions
    frames, columns, schemas = [], {}, {}
    for table in S.ALL_TABLE_NAMES:
        try:
            path = find_table_file(data_dir, table)
        except DataNotFoundError:
            if table in S.OPTIONAL_TABLE_NAMES:
                continue
            raise
        if path.suffix.lower() == ".csv":
            df = spark.read.csv(str(path), header=True, inferSchema=False, escape='"', multiLine=True)
            schema = None
        else:
            df = spark.read.parquet(str(path))
            schema = pq.read_schema(_first_parquet(path)).remove_metadata()
        if S.CUSTOMER_ID not in df.columns:
            raise SchemaError(f"table {table!r} ({path}) has no column {S.CUSTOMER_ID!r}: rule required column; "
                              f"found {df.columns[:12]}")
        cols = []
        for name, kind in df.dtypes:
            col = F.col(f"`{name}`")
            field = schema.field(name) if schema is not None and name in schema.names else None
            if field is not None and kind == "bigint" and getattr(field.type, "unit", None) == "ns":
                col = F.expr(f"timestamp_micros(div(`{name}`, 1000))")  # day-precision dates: exact
            cols.append(col.alias(f"{table}{SEP}{name}"))
        key = F.pmod(F.xxhash64(F.col(f"`{S.CUSTOMER_ID}`").cast("string")), F.lit(n)).cast("int")
        frames.append(df.select(key.alias(PK), F.lit(table).alias(TABLE), *cols))
        columns[table] = list(df.columns)
        schemas[table] = schema
    union = frames[0]
    for other in frames[1:]:
        union = union.unionByName(other, allowMissingColumns=True)
    return union, RawLayout(columns, schemas, tuple(settings.safety.na_values))


def check_keys(spark_tables: SparkFrame, layout: RawLayout) -> None:
    """Every table's key is unique over the whole book (a group's validation sees only its customers).

    One Spark job over all tables: the key (columns joined as text) counted per table.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    keyed = []
    for table, cols in layout.columns.items():
        key = list(S.SPECS[table].key)
        if not key or any(c not in cols for c in key):
            continue  # a missing key column is reported by the group's validation
        text = F.concat_ws("/", *[F.col(f"`{table}{SEP}{c}`").cast("string") for c in key])
        keyed.append(spark_tables.where(F.col(TABLE) == table).select(F.col(TABLE), text.alias("_key")))
    if not keyed:
        return
    dup = (reduce(lambda x, y: x.unionByName(y), keyed).groupBy(TABLE, "_key").count()
           .where(F.col("count") > 1).limit(10).collect())
    if dup:
        rows = "; ".join(f"table {r[TABLE]!r}, column {'+'.join(S.SPECS[r[TABLE]].key)}: {r['_key']} ({r['count']} rows)"
                         for r in dup)
        raise SchemaError(f"rule unique key broken (the same key on several rows): {rows}")


# ----------------------------------------------------------------------------- in the workers
def _restore(frame: pd.DataFrame, schema: pa.Schema | None, na_values: tuple[str, ...]) -> pd.DataFrame:
    """A group's rows of one table as the single-machine reader gives them (Parquet types, or CSV text)."""
    import pyarrow as pa

    if schema is None:  # CSV: text; an empty cell (Spark: null) and the listed markers are missing
        out = frame.astype("str").where(frame.notna(), np.nan)
        return out.replace(list(na_values), np.nan) if na_values else out
    table = pa.Table.from_pandas(frame, preserve_index=False)
    arrays = [table.column(f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema).to_pandas()


def group_tables(pdf: pd.DataFrame, layout: RawLayout, settings: Settings) -> tuple[Tables | None, Any]:
    """Split one group of the union into its tables, typed and validated like ``load_and_validate``."""
    from riskmodel.data.validation import validate_tables

    raw = {}
    for table, cols in layout.columns.items():
        rows = pdf.loc[pdf[TABLE] == table, [f"{table}{SEP}{c}" for c in cols]]
        rows.columns = cols
        raw[table] = _restore(rows.reset_index(drop=True), layout.schemas[table], layout.na_values)
    return validate_tables(raw, settings.safety, settings.default_definition.materiality())


def _pk_of(pdf: pd.DataFrame) -> int:
    return int(pdf[PK].iloc[0]) if len(pdf) else -1


def _packed(pk: int, rows: int, obj: Any) -> pd.DataFrame:
    return pd.DataFrame({PK: [pk], ROWS: [rows], PAYLOAD: [pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)]})


_PACKED_SCHEMA = f"{PK} int, {ROWS} long, {PAYLOAD} binary"


def _book_types() -> dict[str, str]:
    """The Spark type of every ``BOOK_COLUMNS`` column (dates as timestamps, amounts as doubles, else text)."""
    from riskmodel.data.partition import BOOK_COLUMNS

    kinds = {"date": "timestamp", "float": "double"}
    return {c: kinds.get(S.SPECS[table].column(c).kind, "string") for table, cols in BOOK_COLUMNS.items()
            for c in cols}


def _book_schema() -> str:
    """The Spark schema of pass 1's rows: a group's report, then the book columns of every table."""
    types = _book_types()
    fields = [f"{TABLE} string", f"{PK} int", f"{OK} boolean", f"{REPORT} string"]
    return ", ".join(fields + [f"{c} {t}" for c, t in types.items()])


def _book_part(layout: RawLayout, settings: Settings) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Pass 1: validate a group; return its report and its ``BOOK_COLUMNS`` rows (typed)."""
    from riskmodel.data.partition import BOOK_COLUMNS

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        pk = _pk_of(pdf)
        tables, report = group_tables(pdf, layout, settings)
        text = report.to_text() if (tables is None or report.warnings) else ""
        head = pd.DataFrame({TABLE: [""], PK: [pk], OK: [tables is not None], REPORT: [text]})
        for c, kind in _book_types().items():  # the book columns empty, typed as the schema says
            head[c] = pd.Series([pd.NaT], dtype="datetime64[ns]") if kind == "timestamp" else (
                np.nan if kind == "double" else None)
        if tables is None:
            return _for_arrow(head)
        frames = [head]
        for table, cols in BOOK_COLUMNS.items():
            part = getattr(tables, table)[list(cols)].copy()
            for c in cols:
                if not pd.api.types.is_datetime64_any_dtype(part[c]) and not pd.api.types.is_float_dtype(part[c]):
                    part[c] = part[c].astype("str")
            part.insert(0, TABLE, table)
            part.insert(1, PK, pk)
            frames.append(part)
        return _for_arrow(pd.concat(frames, ignore_index=True))

    return run


def _for_arrow(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: PySpark 3.5 cannot hand pandas 3's chunked Arrow strings back to Spark."""
    return frame.astype({c: object for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)})


def _features_part(layout: RawLayout, settings: Settings, snapshots: Any,
                   indicators: dict) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Pass 2 of ``features``: the group's modelling table rows (portfolio features of the whole book)."""
    from riskmodel.features.build import build_modelling_table
    from riskmodel.features.portfolio import attach_portfolio_features

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        tables, report = group_tables(pdf, layout, settings)
        if tables is None:
            raise SchemaError(report.to_text(), report=report)
        frame = build_modelling_table(tables, snapshots, settings.features, allow_partial_labels=True)
        frame = attach_portfolio_features(frame, tables, indicators)  # the whole book's indicators
        return _packed(_pk_of(pdf), len(frame), frame)

    return run


def _worker_scorer(bundle_dir: str, checksum: str, settings: Settings) -> tuple[Scorer, pd.DataFrame]:
    """The champion's scorer (and drift reference), loaded once per Python worker and bundle version."""
    key = (bundle_dir, checksum)
    if key not in _SCORERS:
        from riskmodel.bundle import Bundle
        from riskmodel.scoring import Scorer

        bundle = Bundle.load(bundle_dir)
        if bundle_checksum(bundle.manifest) != checksum:
            raise RiskModelError(f"the champion bundle {bundle_dir} changed while scoring; run again")
        _SCORERS[key] = (Scorer(bundle, settings.scoring, limit_review=settings.limit_review), bundle.reference)
    return _SCORERS[key]


def bundle_checksum(manifest: dict) -> str:
    """One checksum of a bundle version (over its files' checksums in the manifest)."""
    return hashlib.sha256(json.dumps(manifest.get("checksums", {}), sort_keys=True).encode()).hexdigest()


def _score_part(layout: RawLayout, settings: Settings, date: pd.Timestamp, indicators: dict,
                bundle_dir: str, checksum: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Pass 2 of ``score``: the group's scores with reasons, its drift counts and reason counts."""
    from riskmodel.drift import DriftAccumulator
    from riskmodel.features.build import build_features
    from riskmodel.features.dictionary import CALENDAR_DRIVEN
    from riskmodel.pipeline import _portfolio_at
    from riskmodel.scoring import SCORED, STATUS

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        tables, report = group_tables(pdf, layout, settings)
        if tables is None:
            raise SchemaError(report.to_text(), report=report)
        scorer, reference = _worker_scorer(bundle_dir, checksum, settings)
        drift = DriftAccumulator(reference, settings.scoring.psi_warning, settings.scoring.psi_alert,
                                 expected_drift=CALENDAR_DRIVEN)
        feats = build_features(tables, [date], settings.features, population="all")
        ids = tables.customers[S.CUSTOMER_ID].astype("str").sort_values(kind="stable").to_numpy()
        feats = feats.join(_portfolio_at(tables, ids, date, indicators), on=S.CUSTOMER_ID)
        scored = scorer.score_features(feats)
        mask = (scored[STATUS] == SCORED).to_numpy()
        drift.update(feats.loc[mask], scored.loc[mask, "pd"].to_numpy())
        reasons = {k: int(v) for k, v in scored.attrs.get("reasons", {}).items()}
        return _packed(_pk_of(pdf), len(scored), (scored, drift, reasons))

    return run


# ----------------------------------------------------------------------------- on the driver
@dataclass
class SparkBook:
    """What the driver knows of the whole book after pass 1: the book columns, span and group count."""

    union: Any  # the Spark frame of the input tables
    layout: RawLayout
    book: Tables
    span: tuple[pd.Timestamp, pd.Timestamp]


def open_book(spark: SparkSession, data_dir: Path, settings: Settings) -> SparkBook:
    """Read, key-check and validate the input tables group by group; SchemaError with every group's report."""
    import time

    from riskmodel.data.partition import BOOK_COLUMNS, data_span
    from riskmodel.data.tables import Tables

    start = time.perf_counter()
    union, layout = read_union(spark, data_dir, settings)
    check_keys(union, layout)
    keys_s = time.perf_counter() - start
    got = cast(pd.DataFrame, union.groupBy(PK).applyInPandas(_book_part(layout, settings), _book_schema())
               .toPandas())
    log.info("spark: read and key checks %.1f s, contract checks and book columns of %d groups %.1f s", keys_s,
             settings.spark.customer_partitions, time.perf_counter() - start - keys_s)
    head = got[got[TABLE] == ""]
    bad = head[~head[OK].astype(bool)]
    if len(bad):
        text = "\n".join(f"customer group {int(r[PK])} of {settings.spark.customer_partitions}:\n{r[REPORT]}"
                         for _, r in bad.sort_values(PK).iterrows())
        raise SchemaError(f"{data_dir}: the input tables break the data contract\n{text}")
    for _, r in head[head[REPORT].astype(str).str.len() > 0].sort_values(PK).iterrows():
        log.warning("customer group %d: %s", int(r[PK]), r[REPORT])
    frames: dict[str, pd.DataFrame] = {}
    for table, cols in BOOK_COLUMNS.items():
        part = got[got[TABLE] == table].sort_values(PK, kind="stable")[list(cols)].reset_index(drop=True)
        for c in cols:
            if pd.api.types.is_datetime64_any_dtype(part[c]):
                part[c] = part[c].astype("datetime64[ns]")
        frames[table] = part
    if S.CUSTOMER_TERMS in layout.columns:
        frames[S.CUSTOMER_TERMS] = pd.DataFrame(columns=layout.columns[S.CUSTOMER_TERMS])
    book = Tables.from_dict(frames)
    return SparkBook(union, layout, book, data_span(book))


def _session(settings: Settings, spark: SparkSession | None) -> tuple[SparkSession, bool]:
    """The session to run on and whether this call owns it (stops it when done).

    A session given, or one already active (spark-submit's, a Databricks cluster's), is
    used and left running; otherwise one is started from ``settings.spark`` and stopped after.
    """
    if spark is not None:
        return spark, False
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    return spark_session(settings), active is None


def _collect(frame: SparkFrame) -> Iterator[tuple[int, Any]]:
    """The groups' pickled results, one at a time (the driver never holds two copies of a group)."""
    for row in frame.toLocalIterator(prefetchPartitions=False):
        yield int(row[PK]), pickle.loads(row[PAYLOAD])


def _parts_dir(out: Path) -> Path:
    return out.parent / f"{out.stem}_parts"


def run_features_spark(settings: Settings, data_dir: Path | None = None, out_file: Path | None = None,
                       fit_to_data: bool = False, allow_partial_labels: bool = False,
                       spark: SparkSession | None = None) -> Path:
    """``riskmodel features`` on Spark: the single-machine modelling table, built by customer group.

    Writes the table (``out_file``, default ``generated_dir/modelling_table.parquet``; sorted
    by snapshot_date then customer_id, as the single-machine path), its customer groups as
    ``<stem>_parts/part-NNNNN.parquet`` and the data dictionary, atomically.
    """
    from riskmodel.features.dictionary import data_dictionary, data_dictionary_markdown
    from riskmodel.features.portfolio import portfolio_indicators
    from riskmodel.features.snapshots import snapshot_dates
    from riskmodel.io import frame_writer, write_frame, write_text_atomic
    from riskmodel.pipeline import _replace_dir, partitioned_snapshots

    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    out = (Path(out_file) if out_file is not None
           else settings.resolve(settings.paths.generated_dir) / "modelling_table.parquet")
    fmt = "csv" if out.suffix.lower() == ".csv" else "parquet"
    spark, own = _session(settings, spark)
    try:
        sb = open_book(spark, data_dir, settings)
        snapshots = partitioned_snapshots(settings, sb.book, sb.span, fit_to_data, allow_partial_labels)
        indicators = portfolio_indicators(sb.book, snapshot_dates(snapshots))
        work = sb.union.groupBy(PK).applyInPandas(_features_part(sb.layout, settings, snapshots, indicators),
                                                  _PACKED_SCHEMA)
        parts: list[tuple[int, pd.DataFrame]] = []

        def write_parts(tmp: Path) -> None:
            for pk, frame in _collect(work):
                write_frame(frame, tmp / f"part-{pk:05d}.parquet", "parquet")
                parts.append((pk, frame))

        out.parent.mkdir(parents=True, exist_ok=True)
        _replace_dir(_parts_dir(out), write_parts)
    finally:
        if own:
            spark.stop()
    if not parts:
        raise RiskModelError(f"features: {data_dir} holds no customer")
    table = pd.concat([f for _, f in sorted(parts, key=lambda p: p[0])], ignore_index=True)
    table = table.sort_values([S.SNAPSHOT_DATE, S.CUSTOMER_ID], kind="stable", ignore_index=True)
    from riskmodel.io import write_atomic

    write_atomic(out, frame_writer(table, fmt))
    write_frame(data_dictionary(settings.features), out.parent / "data_dictionary.csv", fmt="csv")
    write_text_atomic(out.parent / "data_dictionary.md", data_dictionary_markdown(settings.features))
    rate = float(table[S.LABEL].mean()) if len(table) else float("nan")
    log.info("features (spark, %d customer groups): %d rows, %d snapshots, %d features, default rate %.2f%% -> %s",
             len(parts), len(table), table[S.SNAPSHOT_DATE].nunique(), table.shape[1] - 3, 100 * rate, out)
    return out


def run_score_spark(settings: Settings, as_of: str, data_dir: Path | None = None, out_file: Path | None = None,
                    fmt: str = "parquet", previous: Path | None = None,
                    spark: SparkSession | None = None) -> Path:
    """``riskmodel score`` on Spark: every customer scored with reasons, by customer group.

    Writes what :func:`riskmodel.pipeline.run_score` writes (the scores file, its
    ``.drift.json`` and, with ``previous``, ``.migration.csv``; the same rows, order and
    values) plus the scores by customer group as ``<stem>_parts/part-NNNNN.parquet``.
    """
    from riskmodel.champion import load_champion_bundle
    from riskmodel.data.partition import check_as_of, parse_as_of
    from riskmodel.drift import DriftAccumulator
    from riskmodel.features.dictionary import CALENDAR_DRIVEN
    from riskmodel.features.portfolio import portfolio_indicators
    from riskmodel.io import write_frame
    from riskmodel.pipeline import _read_previous_scores, _replace_dir, require_history_for, write_scores
    from riskmodel.safety import preflight_output
    from riskmodel.scoring import STATUS, Scorer

    if fmt not in ("parquet", "csv"):
        raise RiskModelError(f"score: --format must be 'parquet' or 'csv', got {fmt!r}")
    date = parse_as_of(as_of)
    data_dir = Path(data_dir) if data_dir is not None else settings.resolve(settings.paths.raw_dir)
    out = (Path(out_file) if out_file is not None
           else settings.resolve(settings.paths.generated_dir) / f"scores_{date.date()}.{fmt}")
    prev = _read_previous_scores(previous) if previous is not None else None
    preflight_output(out, need_bytes=20_000_000)
    bundle = load_champion_bundle(settings)
    bundle_dir = settings.resolve(settings.paths.models_dir) / "champion"
    checksum = bundle_checksum(bundle.manifest)
    if not (bundle_dir / "manifest.json").is_file() or bundle_checksum(
            json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))) != checksum:
        bundle_dir = settings.resolve(settings.spark.local_dir) / f"bundle-{checksum[:16]}"  # the registry's
        bundle.save(bundle_dir)
        checksum = bundle_checksum(bundle.manifest)
    scorer = Scorer(bundle, settings.scoring, limit_review=settings.limit_review)  # grade names, reference label
    spark, own = _session(settings, spark)
    try:
        sb = open_book(spark, data_dir, settings)
        check_as_of(date, *sb.span)
        require_history_for(bundle.features, sb.book, bundle.model_name)
        indicators = portfolio_indicators(sb.book, [date])
        work = sb.union.groupBy(PK).applyInPandas(
            _score_part(sb.layout, settings, date, indicators, str(bundle_dir.resolve()), checksum), _PACKED_SCHEMA)
        drift = DriftAccumulator(bundle.reference, settings.scoring.psi_warning, settings.scoring.psi_alert,
                                 expected_drift=CALENDAR_DRIVEN)
        reason_counts: dict[str, int] = {}
        parts: list[tuple[int, pd.DataFrame]] = []

        def write_parts(tmp: Path) -> None:
            for pk, (scored, acc, reasons) in _collect(work):
                write_frame(scored, tmp / f"part-{pk:05d}.parquet", "parquet")
                drift.merge(acc)
                for key, value in reasons.items():
                    reason_counts[key] = reason_counts.get(key, 0) + value
                parts.append((pk, scored))

        out.parent.mkdir(parents=True, exist_ok=True)
        _replace_dir(_parts_dir(out), write_parts)
    finally:
        if own:
            spark.stop()
    ids = sb.book.customers[S.CUSTOMER_ID].astype("str").sort_values(kind="stable").to_numpy()
    result = pd.concat([f for _, f in parts], ignore_index=True) if parts else scorer.score_features(pd.DataFrame())
    order = np.argsort(result[S.CUSTOMER_ID].astype("str").to_numpy(), kind="stable")
    result = result.take(order).reset_index(drop=True)
    write_scores(result, ids, date, drift, reason_counts, scorer, bundle, settings, prev, previous, out, fmt)
    log.info("scored %d customers as of %s with %s %s on spark (%d customer groups): %s -> %s", len(result),
             date.date(), bundle.model_name, bundle.version, len(parts), result[STATUS].value_counts().to_dict(), out)
    return out
