"""The commands agree: what `simulate --out DIR --years Y` writes, `features --data DIR` can read.

Real CLI calls (typer's runner, no mocks): the oracle lands inside DIR, the
refusal of a grid that outruns the data names options the user can pass, and
those options work.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from riskmodel.cli import app
from riskmodel.data import schemas as S
from riskmodel.io import read_frame

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def short_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-year base (2019-2022): the default grid (2020-03-31 .. 2023-12-31) outruns it."""
    out = tmp_path_factory.mktemp("cmd") / "raw"
    res = RUNNER.invoke(app, ["simulate", "--customers", "150", "--years", "4", "--seed", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_simulate_writes_everything_inside_out(short_base: Path) -> None:
    assert (short_base / "oracle" / "true_pd_12m.parquet").is_file()
    assert sorted(p.name for p in short_base.parent.iterdir()) == ["raw"]  # nothing beside DIR


def test_features_refusal_names_options_the_user_can_pass(short_base: Path, tmp_path: Path) -> None:
    res = RUNNER.invoke(app, ["features", "--data", str(short_base), "--out", str(tmp_path / "t.parquet")])
    assert res.exit_code == 1
    msg = " ".join(res.output.split())
    assert "--fit-to-data" in msg and "--allow-partial-labels" in msg and "snapshots.end" in msg
    assert "allow_partial_labels=True" not in msg
    assert "2021-12-31 or earlier" in msg  # the last quarter end whose 12 months the 2019-2022 data covers


def test_fit_to_data_builds_the_grid_the_data_covers(short_base: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    res = RUNNER.invoke(app, ["features", "--data", str(short_base), "--out", str(out), "--fit-to-data"])
    assert res.exit_code == 0, res.output
    snaps = sorted(read_frame(out)[S.SNAPSHOT_DATE].unique())
    # the data (to 2022-12-31) covers 12-month labels up to the snapshot of 2021-12-31
    assert snaps[0] == pd.Timestamp("2020-03-31") and snaps[-1] == pd.Timestamp("2021-12-31")


def test_allow_partial_labels_flag_keeps_the_late_snapshots(short_base: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    res = RUNNER.invoke(app, ["features", "--data", str(short_base), "--out", str(out), "--allow-partial-labels"])
    assert res.exit_code == 0, res.output
    assert max(read_frame(out)[S.SNAPSHOT_DATE]) == pd.Timestamp("2023-12-31")
