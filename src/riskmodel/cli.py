"""Command-line entry point: parse arguments, set up logging, call one pipeline stage.

Every subcommand is a thin wrapper over a function in ``riskmodel.pipeline``.
Every error a user can cause (a wrong option or value, a missing file, a bad
date or table, a broken params.yaml) becomes ONE line on stderr starting with
``error:`` and naming what to fix, with exit code 1 and no traceback
(``--verbose`` adds the traceback of a failure inside a command).
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from typer.core import TyperGroup

from riskmodel.exceptions import RiskModelError, SchemaError, UsageError

MAX_MESSAGE = 1_000  # characters of one error line


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """A possibly multi-line message as one line: a list under a heading becomes ``heading: a; b; c``."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return "no message"
    items = [ln[2:].strip() if ln.startswith("- ") else ln for ln in lines[1:]]
    out = lines[0] if not items else lines[0].rstrip(":") + ": " + "; ".join(items)
    out = " ".join(out.split())
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _schema_line(err: SchemaError) -> str | None:
    """A broken data contract as one line: the first broken rules (table.column rule: details) and where to
    see them all; None when the error carries no validation report."""
    from riskmodel.data.validation import ValidationReport

    report = err.report
    if not isinstance(report, ValidationReport) or not report.errors:
        return None
    shown = [f"{v.table}.{v.column} {v.rule}: {one_line(v.message, 160)}"
             + (f" (e.g. {', '.join(v.examples[:2])})" if v.examples else "") for v in report.errors[:3]]
    more = f"; and {len(report.errors) - 3} more" if len(report.errors) > 3 else ""
    return (f"the input tables break the data contract ({len(report.errors)} error(s)): " + "; ".join(shown)
            + more + "; `riskmodel validate --data <folder>` prints the full report")


def error_line(err: BaseException) -> str:
    """The one line shown for a failure inside a command (without the ``error:`` prefix)."""
    if isinstance(err, SchemaError):
        line = _schema_line(err)
        if line is not None:
            return one_line(line)
    if isinstance(err, RiskModelError):
        return one_line(str(err))
    from riskmodel.safety import describe_failure

    return one_line(describe_failure(err))


class _OneLineErrors(TyperGroup):
    """The command group: a usage error (unknown command or option, a missing or unreadable option value)
    is one ``error:`` line naming the option and where help is, with exit code 1, instead of click's
    usage box with exit code 2.  ``riskmodel`` alone still prints the help."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as err:
            if type(err).__name__ == "NoArgsIsHelpError":  # `riskmodel` alone: the help (printed already with rich)
                help_text = getattr(err, "format_message", lambda: "")()
                if help_text:
                    typer.echo(help_text)
                sys.exit(getattr(err, "exit_code", 2))
            ctx = getattr(err, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            message = err.format_message() if hasattr(err, "format_message") else str(err)
            typer.secho(f"error: {one_line(message)}{hint}", fg=typer.colors.RED, err=True)
            sys.exit(1)
        except typer.Abort:
            typer.secho("error: aborted", fg=typer.colors.RED, err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    help="riskmodel: explainable default probability over the label horizon (snapshots.horizon_months in params.yaml) "
         "for business customers.",
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])

ParamsOpt = Annotated[
    Optional[Path], typer.Option("--params", "-p", help="params.yaml to use (default: the project's).")
]
DataOpt = Annotated[
    Optional[Path], typer.Option("--data", "-d", help="Folder with the six input tables (default: paths.raw_dir).")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")]
EngineOpt = Annotated[str, typer.Option(
    "--engine", help="local (this process) or spark (Apache Spark, params.yaml `spark`: master, partitions, conf).")]


def _check_engine(engine: str) -> None:
    if engine not in ("local", "spark"):
        raise typer.BadParameter(f"--engine must be 'local' or 'spark', got {engine!r}")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "shap", "numba", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _handle_errors(func: F) -> F:
    """Turn every failure into one line on stderr and exit code 1, in one place.

    Domain errors carry their own message; a system fault (disk full, read-only
    folder, a path under a file) gets what failed and what to do; anything else is
    named with its type.  ``--verbose`` adds the traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise  # usage errors: one line from the command group (_OneLineErrors)
        except Exception as err:  # noqa: BLE001 - the one place where failures become a message
            if kwargs.get("verbose"):
                traceback.print_exc()
            typer.secho(f"error: {error_line(err)}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


def _output_format(out: Path | None, given: str | None, formats: tuple[str, ...]) -> str:
    """The output format of a command with ``--out`` (and ``--format``): ``--format`` when given, else the
    suffix of ``--out``, else the first of ``formats``.  UsageError when ``--out`` ends in another suffix
    (a Parquet file named ``.csv`` or ``.txt`` cannot be read back) or contradicts ``--format``.  An unknown
    ``--format`` is left to the command, which names the formats it writes."""
    if given is not None and given not in formats:
        return given
    if out is None:
        return given or formats[0]
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise UsageError(f"--out {out}: the file name must end in " + " or ".join(f".{f}" for f in formats)
                         + (f" (it is written as {given})" if given else ""))
    if given is not None and given != suffix:
        raise UsageError(f"--out {out} ends in .{suffix} but --format is {given}: make them agree")
    return suffix


def _settings(params: Path | None):  # noqa: ANN202 - imported lazily to keep --help fast
    from riskmodel.config import load_settings

    return load_settings(params)


@app.command()
@_handle_errors
def simulate(
    customers: Annotated[Optional[int], typer.Option(help="Number of customers (default: params).")] = None,
    years: Annotated[Optional[int], typer.Option(help="Years of history (default: params).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: params).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: paths.raw_dir).")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="parquet or csv.")] = None,
    partitioned: Annotated[bool, typer.Option(
        help="Write each table as customer partitions <table>/part-NNNNN.parquet (scale.partition_customers).",
    )] = False,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write a simulated customer base in the data contract, plus its oracle PDs."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    pipeline.run_simulate(_settings(params), n_customers=customers, years=years, seed=seed,
                          out_dir=out, fmt=format, partitioned=partitioned)


@app.command()
@_handle_errors
def validate(data: DataOpt = None, params: ParamsOpt = None, verbose: VerboseOpt = False) -> None:
    """Check the six input tables against the data contract; exit 1 with a report if broken."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    ok = pipeline.run_validate(_settings(params), data_dir=data)
    if not ok:
        raise typer.Exit(code=1)


@app.command()
@_handle_errors
def features(
    data: DataOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="Modelling table file (.parquet or .csv).")] = None,
    fit_to_data: Annotated[bool, typer.Option(
        "--fit-to-data", help="End the snapshot grid at the last date whose label horizon the data covers.")] = False,
    allow_partial_labels: Annotated[bool, typer.Option(
        "--allow-partial-labels", help="Keep snapshots whose label horizon runs past the data.")] = False,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
    engine: EngineOpt = "local",
) -> None:
    """Build the point-in-time modelling table (features + the label over snapshots.horizon_months) and its data dictionary."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    _output_format(out, None, ("parquet", "csv"))
    _check_engine(engine)
    if engine == "spark":  # issue 14.2
        from riskmodel import spark_engine

        spark_engine.run_features_spark(_settings(params), data_dir=data, out_file=out, fit_to_data=fit_to_data,
                                        allow_partial_labels=allow_partial_labels)
        return
    pipeline.run_features(_settings(params), data_dir=data, out_file=out, fit_to_data=fit_to_data,
                          allow_partial_labels=allow_partial_labels)


@app.command()
@_handle_errors
def train(
    data: DataOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder for metrics.json and report.html.")] = None,
    table: Annotated[Optional[Path], typer.Option(help="Flat modelling table instead of the six tables.")] = None,
    target: Annotated[Optional[str], typer.Option(help="Target column of --table.")] = None,
    id: Annotated[Optional[str], typer.Option("--id", help="Id column of --table.")] = None,
    time: Annotated[Optional[str], typer.Option(help="Time column of --table (out-of-time split).")] = None,
    baseline: Annotated[Optional[Path], typer.Option(help="5C baseline YAML for --table.")] = None,
    group: Annotated[Optional[str], typer.Option(
        "--group", help="Group column of --table (e.g. the customer of a panel table): a group's rows stay in "
                        "one fold and --id is not needed.")] = None,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Train the 5C baseline and learned models, evaluate out of time, track in MLflow, export the champion."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    settings = _settings(params)
    if table is not None:
        if target is None:
            raise typer.BadParameter("--target is required with --table")
        pipeline.run_train_table(settings, table=table, target=target, id_col=id, time_col=time,
                                 baseline_file=baseline, out_dir=out, group_col=group)
    else:
        pipeline.run_train(settings, data_dir=data, out_dir=out)


@app.command()
@_handle_errors
def score(
    as_of: Annotated[str, typer.Option("--as-of", help="Scoring date (YYYY-MM-DD).")],
    data: DataOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="Output file for the scores.")] = None,
    format: Annotated[Optional[str], typer.Option(
        "--format", help="parquet or csv (default: the suffix of --out, else parquet).")] = None,
    previous: Annotated[Optional[Path], typer.Option(help="Previous scores, for rating migration.")] = None,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
    engine: EngineOpt = "local",
) -> None:
    """Score every customer as of a date with the champion, with reasons, migration and drift."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    fmt = _output_format(out, format, ("parquet", "csv"))
    _check_engine(engine)
    if engine == "spark":  # issue 14.2
        from riskmodel import spark_engine

        spark_engine.run_score_spark(_settings(params), as_of=as_of, data_dir=data, out_file=out, fmt=fmt,
                                     previous=previous)
        return
    pipeline.run_score(_settings(params), as_of=as_of, data_dir=data, out_file=out, fmt=fmt,
                       previous=previous)


@app.command()
@_handle_errors
def explain(
    customer_id: Annotated[str, typer.Argument(help="Customer to explain.")],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date (default: latest data).")] = None,
    format: Annotated[Optional[str], typer.Option(
        "--format", help="html, pdf or json (default: the suffix of --out, else html).")] = None,
    data: DataOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="Output file for the memo.")] = None,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write a credit-committee memo for one customer."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    fmt = _output_format(out, format, ("html", "pdf", "json"))
    pipeline.run_explain(_settings(params), customer_id=customer_id, as_of=as_of, fmt=fmt,
                         data_dir=data, out_file=out)


@app.command()
@_handle_errors
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default: params).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: params).", min=1, max=65535)] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="Worker processes, each with the model (default: params service.workers).", min=1, max=64)] = None,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Serve scores and explanations over HTTP (FastAPI)."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    pipeline.run_serve(_settings(params), host=host, port=port, workers=workers)


@app.command()
@_handle_errors
def recalibrate(
    as_of: Annotated[str, typer.Option("--as-of", help="Use outcomes matured by this date only (YYYY-MM-DD).")],
    data: DataOpt = None,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Re-estimate the champion's PD level (rating philosophy of params.yaml) from outcomes matured by a date."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    pipeline.run_recalibrate(_settings(params), as_of=as_of, data_dir=data)


@app.command()
@_handle_errors
def monitor(
    as_of: Annotated[str, typer.Option("--as-of", help="Backtest every cohort matured by this date (YYYY-MM-DD).")],
    data: DataOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="Output JSON file.")] = None,
    params: ParamsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Realised vs predicted default rates of the matured cohorts, per grade and industry, with traffic lights."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    pipeline.run_monitor(_settings(params), as_of=as_of, data_dir=data, out_file=out)


@app.command()
@_handle_errors
def demo(params: ParamsOpt = None, verbose: VerboseOpt = False) -> None:
    """Run the whole job on the simulated base: simulate, validate, features, train, score, memo."""
    _setup_logging(verbose)
    from riskmodel import pipeline

    pipeline.run_demo(_settings(params))


if __name__ == "__main__":  # pragma: no cover
    app()
