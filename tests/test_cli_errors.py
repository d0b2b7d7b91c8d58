"""Issue 12.6: every error a user can cause reaches them as ONE line naming what to fix, exit code 1, no traceback.

Each case runs the installed ``riskmodel`` entry point in a subprocess (the real
console script, real stderr) with one deliberate mistake: an unknown command or
option, a missing or unreadable option value, a broken params.yaml, a bad date,
a missing or corrupt file, a table that breaks the data contract, an unknown
customer, no champion.  The project is a small simulated base on disk with no
trained model (so the missing-champion path is real and no training is needed).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from _tracking_helpers import FAST_SEARCH, ONE_THREAD
from riskmodel.config import DEFAULT_PARAMS, deep_merge
from riskmodel.io import write_frame

pytestmark = pytest.mark.slow  # ~40 subprocesses of the real entry point

AS_OF = "2024-12-31"
#: a log record line (``_setup_logging``'s format); every other stderr line must be the one error line
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL)\s")


def _entry_point() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else the module."""
    script = Path(sys.executable).with_name("riskmodel")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "riskmodel.cli"]


@dataclass(frozen=True)
class Project:
    root: Path
    params: Path  # paths inside root, no trained model
    raw: Path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    from riskmodel.data.simulator import simulate

    root = tmp_path_factory.mktemp("cli_errors")
    raw = root / "data" / "raw"
    for name, frame in simulate(150, dt.date(2019, 1, 1), 6, 7).tables.as_dict().items():
        write_frame(frame, raw / f"{name}.parquet")
    params = deep_merge(deep_merge(yaml.safe_load(DEFAULT_PARAMS.read_text()), FAST_SEARCH), ONE_THREAD)
    params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
    params["tracking"]["uri"] = f"sqlite:///{root / 'mlruns.db'}"
    pfile = root / "params.yaml"
    pfile.write_text(yaml.safe_dump(params))

    # a data folder that breaks the contract twice: a required column missing, a number that is text
    bad = root / "bad_tables"
    for name in ("customers", "invoices", "financials", "visits", "events", "defaults", "customer_terms"):
        frame = pd.read_parquet(raw / f"{name}.parquet")
        if name == "customers":
            frame = frame.drop(columns=["industry"])
        if name == "invoices":
            frame = frame.astype({"amount": str})
            frame.loc[frame.index[3], "amount"] = "abc"
        write_frame(frame, bad / f"{name}.parquet")
    corrupt = root / "corrupt_tables"
    corrupt.mkdir()
    for p in raw.iterdir():
        (corrupt / p.name).write_bytes(p.read_bytes())
    (corrupt / "visits.parquet").write_bytes(b"not a parquet file")

    # a book with one defaulting customer in the training period: nothing to learn from (sklearn's
    # "Only 1 class/es in training fold" before)
    few = root / "one_default"
    for p in raw.iterdir():
        (few / p.name).parent.mkdir(exist_ok=True)
        (few / p.name).write_bytes(p.read_bytes())
    defaults = pd.read_parquet(raw / "defaults.parquet")
    when = pd.to_datetime(defaults["default_date"])
    in_training = defaults[(when > "2020-06-30") & (when <= "2021-12-31")]
    keep = (defaults["customer_id"] == in_training["customer_id"].iloc[0]) | (when > "2023-03-31")  # test labels
    write_frame(defaults[keep].reset_index(drop=True), few / "defaults.parquet")

    # score files for --previous: duplicated ids; a corrupt one
    ids = pd.read_parquet(raw / "customers.parquet")["customer_id"].astype(str)
    write_frame(pd.DataFrame({"customer_id": [ids[0], ids[0], ids[1]], "grade": ["B1", "B1", "A2"]}),
                root / "dup_scores.parquet")
    (root / "corrupt_scores.parquet").write_bytes(b"PAR1 garbage")

    (root / "bad_yaml.yaml").write_text("paths: [\n")
    (root / "unknown_key.yaml").write_text(yaml.safe_dump({**params, "bogus_setting": 1}))
    wrong_value = yaml.safe_load(pfile.read_text())
    wrong_value["simulation"]["n_customers"] = "many"
    (root / "wrong_value.yaml").write_text(yaml.safe_dump(wrong_value))
    (root / "a_file").write_text("in the way")
    return Project(root, pfile, raw)


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("RISKMODEL_PARAMS", None)
    return subprocess.run([*_entry_point(), *args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env=env)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 1, no traceback, exactly one non-log line on stderr, starting ``error:`` and naming ``names``."""
    shown = f"exit {done.returncode}\nstdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert done.returncode == 1, shown
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, shown
    lines, in_record = [], False
    for ln in done.stderr.splitlines():  # log records (a warning may carry an indented report) are not the error
        in_record = bool(LOG_LINE.match(ln)) or (in_record and ln[:1].isspace())
        if ln.strip() and not in_record:
            lines.append(ln)
    assert len(lines) == 1, shown
    line = lines[0]
    assert line.startswith("error: "), shown
    for name in names:
        assert name in line, f"{name!r} not named in: {line}"
    return line


Case = Callable[[Project], tuple[list[str], tuple[str, ...]]]

CASES: dict[str, Case] = {
    # usage: commands and options
    "unknown command": lambda p: (["scroe"], ("scroe", "riskmodel --help")),
    "unknown option": lambda p: (["score", "--as-off", AS_OF], ("--as-off", "riskmodel score --help")),
    "missing required option": lambda p: (["score", "--params", str(p.params)], ("--as-of",)),
    "text for a number": lambda p: (["simulate", "--customers", "many"], ("--customers",)),
    "port out of range": lambda p: (["serve", "--port", "99999", "--params", str(p.params)], ("--port", "65535")),
    "--table without --target": lambda p: (["train", "--table", str(p.raw / "customers.parquet"),
                                            "--params", str(p.params)], ("--target",)),
    "negative count": lambda p: (["simulate", "--customers", "-5", "--out", str(p.root / "sim"),
                                  "--params", str(p.params)], ("n_customers", "-5")),
    "unknown score format": lambda p: (["score", "--as-of", AS_OF, "--format", "xlsx", "--params", str(p.params)],
                                       ("--format", "xlsx")),
    "unknown memo format": lambda p: (["explain", "C000001", "--format", "docx", "--params", str(p.params)],
                                      ("--format", "docx")),
    "output suffix unknown": lambda p: (["score", "--as-of", AS_OF, "--out", str(p.root / "scores.txt"),
                                         "--params", str(p.params)], ("scores.txt", ".parquet or .csv")),
    "output suffix contradicts --format": lambda p: (
        ["score", "--as-of", AS_OF, "--out", str(p.root / "scores.csv"), "--format", "parquet",
         "--params", str(p.params)], ("scores.csv", "--format")),
    "features output suffix": lambda p: (["features", "--out", str(p.root / "table.xlsx"),
                                          "--params", str(p.params)], ("table.xlsx",)),
    "memo output suffix": lambda p: (["explain", "C000001", "--out", str(p.root / "memo.docx"),
                                      "--params", str(p.params)], ("memo.docx",)),
    # params.yaml
    "params file missing": lambda p: (["score", "--as-of", AS_OF, "--params", str(p.root / "nope.yaml")],
                                      ("nope.yaml", "not found")),
    "params not YAML": lambda p: (["validate", "--params", str(p.root / "bad_yaml.yaml")],
                                  ("bad_yaml.yaml", "YAML", "line 2")),
    "params unknown key": lambda p: (["validate", "--params", str(p.root / "unknown_key.yaml")],
                                     ("bogus_setting", "unknown key")),
    "params wrong value": lambda p: (["validate", "--params", str(p.root / "wrong_value.yaml")],
                                     ("simulation.n_customers", "many")),
    # dates
    "date not ISO": lambda p: (["score", "--as-of", "31/12/2024", "--params", str(p.params)],
                               ("31/12/2024", "YYYY-MM-DD")),
    "date that does not exist": lambda p: (["explain", "C000001", "--as-of", "2024-02-30",
                                            "--params", str(p.params)], ("2024-02-30",)),
    "date before the data": lambda p: (["score", "--as-of", "1990-01-01", "--params", str(p.params)],
                                       ("1990-01-01",)),
    # files and tables
    "data folder missing": lambda p: (["score", "--as-of", AS_OF, "--data", str(p.root / "no_such_folder"),
                                       "--params", str(p.params)], ("no_such_folder",)),
    "table file missing": lambda p: (["validate", "--data", str(p.root / "sim_empty"), "--params",
                                      str(p.params)], ("customers",)),
    "table breaks the contract": lambda p: (["score", "--as-of", AS_OF, "--data", str(p.root / "bad_tables"),
                                             "--params", str(p.params)],
                                            ("customers.industry", "missing_column", "invoices.amount", "abc",
                                             "riskmodel validate")),
    "table file corrupt": lambda p: (["features", "--data", str(p.root / "corrupt_tables"),
                                      "--params", str(p.params)], ("visits.parquet",)),
    "one defaulting customer to train on": lambda p: (["train", "--data", str(p.root / "one_default"), "--out",
                                                       str(p.root / "train_out"), "--params", str(p.params)],
                                                      ("training period", "more customers")),
    "flat table missing": lambda p: (["train", "--table", str(p.root / "flat.csv"), "--target", "y",
                                      "--params", str(p.params)], ("flat.csv",)),
    "flat table target missing": lambda p: (["train", "--table", str(p.raw / "customers.parquet"), "--target",
                                             "defaulted", "--params", str(p.params)], ("defaulted",)),
    "--previous missing": lambda p: (["score", "--as-of", AS_OF, "--previous", str(p.root / "missing.parquet"),
                                      "--params", str(p.params)], ("--previous", "missing.parquet")),
    "--previous corrupt": lambda p: (["score", "--as-of", AS_OF, "--previous",
                                      str(p.root / "corrupt_scores.parquet"), "--params", str(p.params)],
                                     ("--previous", "corrupt_scores.parquet")),
    "--previous duplicated ids": lambda p: (["score", "--as-of", AS_OF, "--previous",
                                             str(p.root / "dup_scores.parquet"), "--params", str(p.params)],
                                            ("--previous", "more than once")),
    "output path under a file": lambda p: (["simulate", "--customers", "20", "--years", "2", "--out",
                                            str(p.root / "a_file" / "raw"), "--params", str(p.params)],
                                           ("a_file",)),
    # customers and models
    "unknown customer": lambda p: (["explain", "NO_SUCH_CUSTOMER", "--params", str(p.params)],
                                   ("NO_SUCH_CUSTOMER",)),
    "no champion (score)": lambda p: (["score", "--as-of", AS_OF, "--params", str(p.params)],
                                      ("champion", "riskmodel train")),
    "no champion (serve)": lambda p: (["serve", "--params", str(p.params)], ("champion", "riskmodel train")),
}


#: errors found after the champion is loaded: run against a project with a trained bundle (the tests' small one)
CHAMPION_CASES: dict[str, Callable[[Path], tuple[list[str], tuple[str, ...]]]] = {
    "monitor before any matured cohort": lambda params: (["monitor", "--as-of", "2015-01-01", "--params",
                                                          str(params)], ("2015-01-01", "--as-of")),
    "recalibrate before any matured cohort": lambda params: (["recalibrate", "--as-of", "2015-01-01", "--params",
                                                              str(params)], ("2015-01-01", "--as-of")),
    "serve on an address not of this machine": lambda params: (["serve", "--host", "10.255.255.1", "--params",
                                                                str(params)], ("10.255.255.1", "--host")),
}


@pytest.fixture(scope="module")
def champion_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from _scoring_helpers import project_on_disk

    return project_on_disk(tmp_path_factory.mktemp("cli_errors_champion"))


@pytest.mark.parametrize("case", list(CHAMPION_CASES), ids=list(CHAMPION_CASES))
def test_user_error_after_loading_the_champion_is_one_line(champion_project: tuple[Path, Path], case: str) -> None:
    root, params = champion_project
    args, names = CHAMPION_CASES[case](params)
    assert_one_line_error(run_cli(args, cwd=root), *names)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_user_error_is_one_line_with_exit_code_1(project: Project, case: str) -> None:
    args, names = CASES[case](project)
    (project.root / "sim_empty").mkdir(exist_ok=True)
    assert_one_line_error(run_cli(args, cwd=project.root), *names)


def test_a_port_in_use_is_one_line(champion_project: tuple[Path, Path]) -> None:
    """uvicorn alone logs the bind failure among INFO lines and exits with code 3."""
    import socket

    root, params = champion_project
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(["serve", "--port", str(port), "--params", str(params)], cwd=root)
    assert_one_line_error(done, str(port), "in use", "--port")


def test_no_arguments_prints_the_help_not_an_error(project: Project) -> None:
    done = run_cli([], cwd=project.root)
    assert "Traceback" not in done.stderr
    assert "score" in done.stdout and "explain" in done.stdout and "error:" not in done.stderr


def test_the_help_of_every_command_works(project: Project) -> None:
    """--help is never an error: a regression here would hide every option's documentation."""
    for command in ("simulate", "validate", "features", "train", "score", "explain", "serve", "recalibrate",
                    "monitor", "demo"):
        done = run_cli([command, "--help"], cwd=project.root)
        assert done.returncode == 0 and "--params" in done.stdout and "Traceback" not in done.stderr, command


def test_a_failure_inside_a_command_shows_its_traceback_with_verbose(project: Project) -> None:
    done = run_cli(["score", "--as-of", AS_OF, "--previous", str(project.root / "dup_scores.parquet"),
                    "--params", str(project.params), "--verbose"], cwd=project.root)
    assert done.returncode == 1 and "Traceback" in done.stderr and "error: --previous" in done.stderr


def test_one_line_joins_a_listed_message() -> None:
    from riskmodel.cli import one_line

    assert one_line("invalid parameters in p.yaml:\n  - a: Field required\n  - b: unknown key") == \
        "invalid parameters in p.yaml: a: Field required; b: unknown key"
    assert one_line("x" * 5000, limit=100).endswith("…") and len(one_line("x" * 5000, limit=100)) == 100
