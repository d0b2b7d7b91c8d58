"""Outputs are written atomically: a failed write leaves the previous file intact and no debris."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from riskmodel.io import read_frame, write_frame, write_text_atomic


def test_failed_parquet_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "scores.parquet"
    good = pd.DataFrame({"customer_id": ["C1", "C2"], "pd": [0.01, 0.2]})
    write_frame(good, target)
    bad = pd.DataFrame({"customer_id": ["C3"], "pd": [object()]})  # pyarrow cannot write this column
    with pytest.raises(pa.ArrowInvalid, match="Conversion failed for column pd"):
        write_frame(bad, target)
    pd.testing.assert_frame_equal(read_frame(target), good)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # no temporary file left


def test_atomic_text_and_csv(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text() == "{}"
    df = pd.DataFrame({"d": pd.to_datetime(["2024-12-31"]), "x": [1.5]})
    write_frame(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines() == ["d,x", "2024-12-31,1.5"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "t.csv").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
