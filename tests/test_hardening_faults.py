"""Issue 11.5: faults reach the user as one line with exit code 1 (a traceback only with --verbose), are found
before expensive work, and a kill never leaves a scores file beside another date's drift report."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from _scoring_helpers import project_on_disk
from riskmodel.io import clean_stale_temps, write_text_atomic
from riskmodel.safety import TrackingStoreError, check_tracking_store, describe_failure

AS_OF = "2024-12-31"


@pytest.fixture
def project(tmp_path: Path):
    return project_on_disk(tmp_path)


def _invoke(args: list[str]):
    from riskmodel.cli import app

    result = CliRunner().invoke(app, args)
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    return result, errors


def _one_line_failure(result, errors: list[str]) -> str:
    assert result.exit_code == 1, result.output[-2000:]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output[-2000:]
    return errors[0]


def test_disk_full_is_one_line_and_leaves_nothing_behind(project, monkeypatch) -> None:
    root, pfile = project

    def full(self, path, *a, **k):  # noqa: ANN001, ANN202 - the disk fills up while the scores are written
        Path(path).write_bytes(b"x" * 10)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = root / "out" / "scores.parquet"
    result, errors = _invoke(["score", "--as-of", AS_OF, "--out", str(out), "--params", str(pfile)])
    line = _one_line_failure(result, errors)
    assert "No space left on device" in line and "free some space" in line
    assert not out.exists() and not list(out.parent.glob(".*"))  # no scores, no drift report, no temp file
    verbose, _ = _invoke(["score", "--as-of", AS_OF, "--out", str(out), "--params", str(pfile), "--verbose"])
    assert verbose.exit_code == 1 and "Traceback" in verbose.output


def test_output_under_a_file_is_refused_before_scoring(project) -> None:
    root, pfile = project
    blocker = root / "blocker"
    blocker.write_text("a file, not a folder")
    start = time.monotonic()
    result, errors = _invoke(["score", "--as-of", AS_OF, "--out", str(blocker / "scores.parquet"),
                              "--params", str(pfile)])
    line = _one_line_failure(result, errors)
    assert "a file is in the way" in line or "is a file, not a folder" in line
    assert time.monotonic() - start < 20  # found before the data is read and scored


@pytest.mark.parametrize("kind", ["missing", "garbage", "wrong_columns"])
def test_a_bad_previous_is_refused_before_new_scores_are_written(project, kind: str) -> None:
    root, pfile = project
    prev = root / f"prev_{kind}.parquet"
    if kind == "garbage":
        prev.write_bytes(b"not parquet at all")
    elif kind == "wrong_columns":
        pd.DataFrame({"x": [1]}).to_parquet(prev)
    out = root / "new" / "scores.parquet"
    result, errors = _invoke(["score", "--as-of", AS_OF, "--out", str(out), "--previous", str(prev),
                              "--params", str(pfile)])
    line = _one_line_failure(result, errors)
    assert "--previous" in line
    assert not out.exists() and not Path(f"{out}.drift.json").exists()


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from riskmodel import io
    folder, when = Path(sys.argv[1]), sys.argv[2]
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if when == "between_renames" and str(dst).endswith(".drift.json"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)

    os.replace = replace
    with io.atomic_group([folder / "scores.csv", folder / "scores.csv.drift.json"]) as (a, b):
        a.write_text("new scores")
        b.write_text("new drift")
        if when == "before_commit":
            os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.parametrize("when", ["before_commit", "between_renames"])
def test_a_kill_between_the_two_writes_is_all_or_nothing(tmp_path: Path, when: str) -> None:
    scores, drift = tmp_path / "scores.csv", tmp_path / "scores.csv.drift.json"
    scores.write_text("old scores")
    drift.write_text("old drift")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path), when], env=env, timeout=120)
    assert proc.returncode == -9
    for tmp in tmp_path.glob(".*.tmp"):  # what the killed run left is now old
        os.utime(tmp, (time.time() - 3600, time.time() - 3600))
    clean_stale_temps(scores)  # the next run's start
    pair = (scores.read_text(), drift.read_text())
    assert pair == (("old scores", "old drift") if when == "before_commit" else ("new scores", "new drift"))
    assert not list(tmp_path.glob(".*"))  # no temp file, no journal left


def test_an_interrupted_single_write_leaves_no_temp_file_for_ever(tmp_path: Path) -> None:
    target = tmp_path / "memo.html"
    stale = tmp_path / ".memo.html.abc123.tmp"
    stale.write_bytes(b"")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / ".memo.html.live99.tmp"  # a concurrent writer's: left alone
    fresh.write_bytes(b"")
    write_text_atomic(target, "memo")
    assert not stale.exists() and fresh.exists() and target.read_text() == "memo"


def _store(path: Path) -> str:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x INTEGER)")
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_a_locked_store_is_found_in_seconds(tmp_path: Path) -> None:
    uri = _store(tmp_path / "mlruns.db")
    holder = sqlite3.connect(tmp_path / "mlruns.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        with pytest.raises(TrackingStoreError, match="locked by another process"):
            check_tracking_store(uri, timeout_s=0.5)
        assert time.monotonic() - start < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    check_tracking_store(uri, timeout_s=0.5)  # free again: passes


def test_a_corrupt_store_stops_train_before_training(project) -> None:
    root, pfile = project
    (root / "mlruns.db").write_bytes(b"this is not a sqlite database" * 100)
    start = time.monotonic()
    result, errors = _invoke(["train", "--params", str(pfile)])
    line = _one_line_failure(result, errors)
    assert "MLflow store" in line and ("corrupt" in line or "cannot be used" in line)
    assert time.monotonic() - start < 30
    assert not (root / "reports" / "train" / "metrics.json").exists()


def test_credentials_never_reach_a_message() -> None:
    with pytest.raises(TrackingStoreError) as info:
        check_tracking_store("http://alice:hunter2@127.0.0.1:9/", timeout_s=1)
    assert "hunter2" not in str(info.value) and "unreachable" in str(info.value)


def test_describe_failure_says_what_to_do() -> None:
    assert "read-only" in describe_failure(OSError(errno.EROFS, "Read-only file system", "/x"))
    assert "permission" in describe_failure(PermissionError(errno.EACCES, "Permission denied", "/x"))
    assert "--verbose" in describe_failure(KeyError("boom"))
