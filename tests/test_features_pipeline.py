"""``run_features``: raw tables on disk -> modelling table and data dictionary on disk."""

from __future__ import annotations

import pandas as pd
import pytest

from feature_fixtures import customer, default, event, invoice, make_tables, statement, visit
from riskmodel.config import load_settings
from riskmodel.data import schemas as S
from riskmodel.exceptions import SchemaError
from riskmodel.features.dictionary import FEATURES, PORTFOLIO_FEATURES
from riskmodel.pipeline import run_features


def _write_raw(tables, folder):
    folder.mkdir(parents=True)
    for name, frame in tables.as_dict().items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def _tables(bad_customer: bool = False):
    custs = [customer("A"), customer("B"), customer("C", **{S.ONBOARDED_DATE: "2020-05-01"})]
    invs = [
        invoice("I1", "A", "2019-11-01", paid="2019-12-20"),
        invoice("I2", "B", "2020-01-10", paid="2020-04-30"),
        invoice("I3", "GHOST" if bad_customer else "C", "2021-07-01"),
    ]  # the data runs to 2021-07-01
    return make_tables(
        custs,
        invs,
        [statement("A", "2019-06-30")],
        [visit("V1", "B", "2020-02-01")],
        [event("E1", "A", "2020-01-15", "lawsuit", 500.0)],
        [default("B", "2020-11-15")],
    )


def _settings(tmp_path):
    return load_settings(
        overrides={
            "snapshots": {"start": "2020-03-31", "end": "2020-06-30"},
            "paths": {"generated_dir": str(tmp_path / "generated")},
        }
    )


def test_run_features_writes_table_and_dictionary(tmp_path):
    raw = _write_raw(_tables(), tmp_path / "raw")
    out = run_features(_settings(tmp_path), data_dir=raw)
    assert out == tmp_path / "generated" / "modelling_table.parquet"
    table = pd.read_parquet(out)
    assert list(table.columns) == [S.CUSTOMER_ID, S.SNAPSHOT_DATE, S.LABEL, *FEATURES, *PORTFOLIO_FEATURES]
    # 2020-03-31: A, B (C not onboarded); 2020-06-30: A, B, C; B defaults 2020-11-15 -> label 1
    assert list(
        zip(table[S.SNAPSHOT_DATE].dt.date.astype(str), table[S.CUSTOMER_ID], table[S.LABEL])
    ) == [
        ("2020-03-31", "A", 0),
        ("2020-03-31", "B", 1),
        ("2020-06-30", "A", 0),
        ("2020-06-30", "B", 1),
        ("2020-06-30", "C", 0),
    ]
    assert table["reg_industry"].dtype == "category"
    dd = pd.read_csv(out.parent / "data_dictionary.csv")
    assert list(dd["feature"]) == [*FEATURES, *PORTFOLIO_FEATURES]
    assert set(dd.columns) >= {"feature", "family", "c", "description", "unit"}
    md = (out.parent / "data_dictionary.md").read_text()
    assert "pay_max_dpd_12m" in md and "## financials" in md
    assert not list(out.parent.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_run_features_csv_by_suffix(tmp_path):
    raw = _write_raw(_tables(), tmp_path / "raw")
    out = run_features(_settings(tmp_path), data_dir=raw, out_file=tmp_path / "x" / "table.csv")
    table = pd.read_csv(out)
    assert len(table) == 5 and (out.parent / "data_dictionary.md").is_file()


def test_run_features_refuses_invalid_data_and_writes_nothing(tmp_path):
    raw = _write_raw(_tables(bad_customer=True), tmp_path / "raw")
    with pytest.raises(SchemaError, match="invoices"):
        run_features(_settings(tmp_path), data_dir=raw)
    assert not (tmp_path / "generated").exists()
