"""File helpers shared by every stage: atomic writes and table formats."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

#: a temporary file of an atomic write older than this is left over by a killed run
STALE_TEMP_SECONDS = 600
JOURNAL_SUFFIX = ".commit"


@contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    Readers never see a half-written file: either the old file or the new one.
    On error the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:  # the data is on disk before the rename makes it visible
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def clean_stale_temps(target: Path | str, max_age_s: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Finish or remove what a killed run left beside ``target``; return the removed temp files.

    A pending group journal (see :func:`atomic_group`) is rolled forward first, so
    files meant to be replaced together are; then temporary files of ``target``
    older than ``max_age_s`` (a live writer's are younger) are deleted.
    """
    target = Path(target)
    folder = target.parent
    if not folder.is_dir():
        return []
    for journal in folder.glob(f".*{JOURNAL_SUFFIX}"):
        recover_group(journal)
    removed = []
    now = time.time()
    for tmp in folder.glob(f".{target.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # removed meanwhile by another run
            continue
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run beside %s", len(removed), target)
    return removed


def recover_group(journal: Path | str, interrupted: bool = True) -> None:
    """Complete a group replacement whose journal was committed: move every remaining temp file in place.

    ``interrupted``: the journal was left by an earlier run (said in the log); False for the normal commit.
    """
    journal = Path(journal)
    try:
        pairs = json.loads(journal.read_text(encoding="utf-8"))["pairs"]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("ignoring an unreadable commit journal %s", journal)
        journal.unlink(missing_ok=True)
        return
    for tmp, target in pairs:
        if Path(tmp).exists():
            os.replace(tmp, target)
    journal.unlink(missing_ok=True)
    if interrupted:
        log.info("completed an interrupted replacement of %s", ", ".join(Path(t).name for _, t in pairs))


@contextmanager
def atomic_group(targets: Sequence[Path | str]) -> Iterator[list[Path]]:
    """Yield temporary paths for several files that are replaced together or not at all.

    The files are written to temporary paths; on success a journal listing
    (temp, target) pairs is committed atomically, then each temp file is renamed
    over its target and the journal removed.  A kill before the journal leaves
    every target untouched (the temp files are cleaned on the next write); a kill
    after it is rolled forward on the next write (:func:`clean_stale_temps`).
    All targets must be in one folder.
    """
    paths = [Path(t) for t in targets]
    folder = paths[0].parent
    if any(p.parent != folder for p in paths):
        raise ValueError("atomic_group: all targets must be in one folder")
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths:
        clean_stale_temps(p)
    tmps: list[Path] = []
    try:
        for p in paths:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
            os.close(fd)
            tmps.append(Path(tmp_name))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_name, 0o666 & ~umask)
        yield tmps
        for tmp in tmps:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        journal = folder / f".{paths[0].name}{JOURNAL_SUFFIX}"
        doc = json.dumps({"pairs": [[str(t), str(p)] for t, p in zip(tmps, paths)]})
        write_text_atomic(journal, doc)
        recover_group(journal, interrupted=False)
    finally:
        for tmp in tmps:
            if tmp.exists() and not (folder / f".{paths[0].name}{JOURNAL_SUFFIX}").exists():
                tmp.unlink()


def frame_writer(df: pd.DataFrame, fmt: str) -> Callable[[Path], None]:
    """A function writing ``df`` as ``fmt`` ('parquet' or 'csv') to a path."""
    if fmt == "csv":
        return lambda p: df.to_csv(p, index=False, date_format="%Y-%m-%d")
    if fmt == "parquet":
        return lambda p: df.to_parquet(p, index=False)
    raise ValueError(f"unknown format {fmt!r}: expected 'parquet' or 'csv'")


def write_atomic(target: Path | str, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def write_text_atomic(target: Path | str, text: str) -> Path:
    """Write text to ``target`` atomically."""
    return write_atomic(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_frame(df: pd.DataFrame, target: Path | str, fmt: str | None = None) -> Path:
    """Write a frame as Parquet or CSV (chosen by ``fmt`` or the suffix), atomically."""
    target = Path(target)
    fmt = fmt or ("csv" if target.suffix.lower() == ".csv" else "parquet")
    if fmt == "csv":
        return write_atomic(target, lambda p: df.to_csv(p, index=False, date_format="%Y-%m-%d"))
    if fmt == "parquet":
        return write_atomic(target, lambda p: df.to_parquet(p, index=False))
    raise ValueError(f"unknown format {fmt!r}: expected 'parquet' or 'csv'")


def read_frame(path: Path | str) -> pd.DataFrame:
    """Read a Parquet or CSV file by its suffix."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)
