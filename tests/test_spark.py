"""``--engine spark`` (issue 14.2): features and batch scoring on Apache Spark (local[2]) give exactly the
single-machine results on a simulated base, read every raw layout, refuse broken input clearly, and the
single-machine engine never imports pyspark.

The Spark tests are marked slow (`make test-slow`, which CI runs): starting Spark and running both engines
on the 500-customer base takes minutes. They share one module fixture and run in file order (the
partitions/CSV and CLI tests compare with the first test's scores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _scoring_helpers import save_bundle, small_settings, world, write_tables
from riskmodel.data import schemas as S
from riskmodel.data.partition import write_partitioned
from riskmodel.exceptions import SchemaError
from riskmodel.io import read_frame
from riskmodel.spark_engine import run_features_spark, run_score_spark, spark_session

AS_OF = "2024-12-31"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The small simulated base (500 customers) with its trained LightGBM champion, as one file per table,
    as customer partitions, and as CSV; and one local[2] Spark session for the module."""
    w = world()
    root = tmp_path_factory.mktemp("spark")
    save_bundle(w.bundles["lightgbm"], root)
    single = write_tables(w.tables, root / "single")
    write_partitioned(w.tables, root / "parts", 150)
    csv = root / "csv"
    csv.mkdir()
    for name, frame in w.tables.as_dict().items():
        frame.to_csv(csv / f"{name}.csv", index=False)
    settings = small_settings(root, spark={"customer_partitions": 5, "shuffle_partitions": 4})
    spark = spark_session(settings)
    yield w, root, settings, spark, {"single": single, "parts": root / "parts", "csv": csv}
    spark.stop()


@pytest.mark.slow  # a local[2] Spark session and two engines on the test base: minutes
@pytest.mark.spark
def test_score_on_spark_equals_the_single_machine_path(base) -> None:
    from riskmodel.pipeline import run_score

    _, root, settings, spark, data = base
    a = read_frame(run_score(settings, AS_OF, data_dir=data["single"], out_file=root / "local.parquet"))
    out = run_score_spark(settings, AS_OF, data_dir=data["single"], out_file=root / "spark.parquet", spark=spark)
    b = read_frame(out)
    assert len(a) == len(b) == 500 and (a["status"] == "scored").sum() > 300
    np.testing.assert_allclose(b["pd"].to_numpy(float), a["pd"].to_numpy(float), rtol=0, atol=1e-9)
    # the same rows in the same order, grades, reasons, limits, every column and dtype: bit for bit
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    drift_a = json.loads(root.joinpath("local.parquet.drift.json").read_text())
    drift_b = json.loads(root.joinpath("spark.parquet.drift.json").read_text())
    assert drift_a == drift_b and drift_b["n_scored"] == int((b["status"] == "scored").sum())
    # the customer groups as partitioned Parquet: every customer in exactly one part, 5 groups
    parts = sorted((root / "spark_parts").glob("part-*.parquet"))
    assert len(parts) == 5
    groups = pd.concat([pd.read_parquet(p).assign(_part=p.name) for p in parts], ignore_index=True)
    assert groups[S.CUSTOMER_ID].is_unique and set(groups[S.CUSTOMER_ID]) == set(a[S.CUSTOMER_ID])
    back = groups.drop(columns="_part").sort_values(S.CUSTOMER_ID, kind="stable", ignore_index=True)
    pd.testing.assert_series_equal(back["grade"].astype(str), a["grade"].astype(str), check_names=False)


@pytest.mark.slow  # a local[2] Spark session and two engines on the test base: minutes
@pytest.mark.spark
def test_score_on_spark_from_partitions_and_csv_with_migration(base) -> None:
    """The `<table>/part-*.parquet` layout and CSV text files give the same scores; --previous works."""
    _, root, settings, spark, data = base
    ref = read_frame(root / "spark.parquet")
    for layout in ("parts", "csv"):
        out = run_score_spark(settings, AS_OF, data_dir=data[layout], out_file=root / f"{layout}.csv", fmt="csv",
                              previous=root / "spark.parquet", spark=spark)
        got = read_frame(out)
        assert list(got[S.CUSTOMER_ID]) == list(ref[S.CUSTOMER_ID])
        np.testing.assert_allclose(got["pd"].to_numpy(float), ref["pd"].to_numpy(float), rtol=0, atol=1e-9,
                                   equal_nan=True)
        assert list(got["grade"].astype(str)) == list(ref["grade"].astype(str))
        for col in [c for c in ref.columns if c.startswith("reason")]:
            assert list(_text(got[col])) == list(_text(ref[col])), col
        matrix = pd.read_csv(f"{out}.migration.csv", index_col=0)
        assert int(np.trace(matrix.to_numpy())) == int(matrix.to_numpy().sum()) > 0  # same grades: all diagonal


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


@pytest.mark.slow  # a local[2] Spark session and two engines on the test base: minutes
@pytest.mark.spark
def test_features_on_spark_equal_the_single_machine_path(base) -> None:
    from riskmodel.pipeline import run_features

    _, root, settings, spark, data = base
    a = read_frame(run_features(settings, data_dir=data["single"], out_file=root / "fa" / "t.parquet"))
    b = read_frame(run_features_spark(settings, data_dir=data["parts"], out_file=root / "fb" / "t.parquet",
                                      spark=spark))
    assert len(a) == len(b) > 5000
    ptf = [c for c in a.columns if c.startswith("ptf_")]
    assert len(ptf) == 18
    # same rows, order, labels and customer features, bit for bit
    pd.testing.assert_frame_equal(a.drop(columns=ptf), b.drop(columns=ptf), check_exact=True)
    # the whole book's portfolio indicators: the same sums in another row order (last-bit differences only)
    pd.testing.assert_frame_equal(a[ptf], b[ptf], check_exact=False, rtol=0, atol=1e-12)
    assert (root / "fb" / "data_dictionary.md").is_file()
    parts = sorted((root / "fb" / "t_parts").glob("part-*.parquet"))
    assert len(parts) == 5 and sum(len(pd.read_parquet(p)) for p in parts) == len(a)


@pytest.mark.slow  # a local[2] Spark session and two engines on the test base: minutes
@pytest.mark.spark
def test_spark_refuses_broken_input_naming_table_column_rule(base, tmp_path) -> None:
    w, _, settings, spark, _ = base
    # an invoice id used by two customers: each group alone is valid, the book is not
    inv = w.tables.invoices.copy()
    ids = w.tables.customers[S.CUSTOMER_ID].astype(str)
    other = inv.index[inv[S.CUSTOMER_ID].astype(str) != inv.loc[0, S.CUSTOMER_ID]][0]
    inv.loc[other, S.INVOICE_ID] = inv.loc[0, S.INVOICE_ID]
    write_tables(w.tables, tmp_path / "dup")
    inv.to_parquet(tmp_path / "dup" / "invoices.parquet", index=False)
    with pytest.raises(SchemaError, match=r"unique key.*'invoices', column invoice_id: .*\(2 rows\)"):
        run_score_spark(settings, AS_OF, data_dir=tmp_path / "dup", out_file=tmp_path / "x.parquet", spark=spark)
    # a negative amount: the group's contract report, naming the table, the column and the rows
    bad = w.tables.invoices.copy()
    bad.loc[3, S.AMOUNT] = -5.0
    write_tables(w.tables, tmp_path / "neg")
    bad.to_parquet(tmp_path / "neg" / "invoices.parquet", index=False)
    with pytest.raises(SchemaError) as err:
        run_features_spark(settings, data_dir=tmp_path / "neg", out_file=tmp_path / "f.parquet", spark=spark)
    text = str(err.value)
    assert "customer group" in text and "invoices" in text and "amount" in text
    assert str(bad.loc[3, S.INVOICE_ID]) in text
    assert not (tmp_path / "x.parquet").exists() and not (tmp_path / "f.parquet").exists()
    assert len(ids) == 500


def test_single_machine_engine_does_not_import_pyspark() -> None:
    """Only spark_engine.py imports pyspark, lazily; `riskmodel score` (local) starts without it.

    (MLflow itself imports pyspark when it is installed, so the service's import is not checked here.)
    """
    import ast

    importers = []
    for path in sorted((SRC / "riskmodel").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "pyspark" for n in names):
                importers.append(path.name)
    assert set(importers) == {"spark_engine.py"}
    code = ("import sys, riskmodel.cli, riskmodel.pipeline, riskmodel.scoring, riskmodel.features.build; "
            "print(any(m.split('.')[0] == 'pyspark' for m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


@pytest.mark.slow  # a local[2] Spark session and two engines on the test base: minutes
@pytest.mark.spark
def test_cli_engine_option(base) -> None:
    """`riskmodel score --engine spark` dispatches to Spark (the session already running is used and left
    running) and gives the scores of the library call; an unknown engine is refused."""
    import shutil

    from typer.testing import CliRunner

    from riskmodel.cli import app

    _, root, _, spark, data = base
    params = root / "params.yaml"
    shutil.copy(SRC / "riskmodel" / "params.yaml", params)  # paths resolve under root: models/champion
    runner = CliRunner()
    bad = runner.invoke(app, ["score", "--as-of", AS_OF, "--engine", "dask", "--params", str(params)])
    assert bad.exit_code != 0 and "--engine must be 'local' or 'spark'" in bad.output
    res = runner.invoke(app, ["score", "--as-of", AS_OF, "--engine", "spark", "--data", str(data["single"]),
                              "--out", str(root / "cli.parquet"), "--params", str(params)])
    assert res.exit_code == 0, res.output[-2000:]
    got, ref = read_frame(root / "cli.parquet"), read_frame(root / "spark.parquet")
    assert list(got[S.CUSTOMER_ID]) == list(ref[S.CUSTOMER_ID])
    np.testing.assert_allclose(got["pd"].to_numpy(float), ref["pd"].to_numpy(float), rtol=0, atol=1e-9)
    assert list(got["grade"].astype(str)) == list(ref["grade"].astype(str))
    assert len(list((root / "cli_parts").glob("part-*.parquet"))) == 8  # params.yaml's customer_partitions
    assert spark.sparkContext._jsc is not None  # not stopped: it was running before the command
