"""File helpers shared by every stage: atomic writes and table formats."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd


@contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    Readers never see a half-written file: either the old file or the new one.
    On error the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
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


def write_atomic(target: Path | str, write: Callable[[Path], None]) -> Path:
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
