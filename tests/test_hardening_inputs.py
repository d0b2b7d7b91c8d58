"""Issue 11.4: input tables: only an empty cell is missing, magnitudes and future dates bounded, empty tables
and wrong delimiters reported; --as-of accepts ISO dates only and a date with nothing to score is an error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskmodel.config import SafetySettings
from riskmodel.data import schemas as S
from riskmodel.data import validation as V
from riskmodel.data.partition import parse_as_of
from riskmodel.data.validation import load_and_validate, load_raw_tables, validate_tables
from riskmodel.exceptions import NoDataError, SchemaError
from test_validation import _write, valid_raw


def _rules(report) -> set[tuple[str, str, str]]:
    return {(v.table, v.column, v.rule) for v in report.violations}


@pytest.mark.parametrize("marker", ["NaN", "NA", "null", "None", "N/A", "nan", "#N/A"])
def test_na_strings_are_not_missing_unless_listed(tmp_path: Path, marker: str) -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[0, S.PAID_DATE] = marker  # a settled invoice must not silently turn open
    raw[S.INVOICES].loc[0, S.PAID_AMOUNT] = marker
    folder = _write(raw, tmp_path / "csv", "csv")
    _, report = validate_tables(load_raw_tables(folder))
    assert (S.INVOICES, S.PAID_DATE, V.TYPE) in _rules(report) and not report.ok
    listed = load_and_validate(folder, SafetySettings(na_values=[marker]))  # explicit in params.yaml
    assert listed.invoices[S.PAID_DATE].isna().sum() == 2


def test_an_id_na_is_an_id(tmp_path: Path) -> None:
    raw = valid_raw()
    for frame in raw.values():
        if S.CUSTOMER_ID in frame.columns:
            frame[S.CUSTOMER_ID] = frame[S.CUSTOMER_ID].replace("C003", "NA")
    tables = load_and_validate(_write(raw, tmp_path, "csv"))
    assert "NA" in set(tables.customers[S.CUSTOMER_ID])


def test_a_finite_1e308_amount_is_refused() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[1, S.AMOUNT] = "1e308"
    raw[S.INVOICES].loc[1, S.PAID_AMOUNT] = "1e308"
    raw[S.CUSTOMERS].loc[0, S.CREDIT_LIMIT] = "-1e300"
    _, report = validate_tables(raw)
    rules = _rules(report)
    assert (S.INVOICES, S.AMOUNT, V.MAGNITUDE) in rules and (S.CUSTOMERS, S.CREDIT_LIMIT, V.MAGNITUDE) in rules
    assert not report.ok
    msg = next(v.message for v in report.violations if v.rule == V.MAGNITUDE and v.column == S.AMOUNT)
    assert "safety.max_money" in msg


def test_header_only_tables_are_refused() -> None:
    raw = {name: frame.iloc[0:0] for name, frame in valid_raw().items()}
    _, report = validate_tables(raw)
    assert not report.ok
    assert (S.CUSTOMERS, "-", V.EMPTY_TABLE) in _rules(report)
    empty_events = valid_raw()
    empty_events[S.EVENTS] = empty_events[S.EVENTS].iloc[0:0]
    tables, report = validate_tables(empty_events)
    assert tables is not None and [v.severity for v in report.violations if v.rule == V.EMPTY_TABLE] == ["warning"]


def test_semicolon_csv_gets_a_delimiter_hint(tmp_path: Path) -> None:
    folder = _write(valid_raw(), tmp_path, "csv")
    frame = pd.read_csv(folder / "customers.csv", dtype=str)
    frame.to_csv(folder / "customers.csv", sep=";", index=False)
    with pytest.raises(SchemaError, match="looks separated by ';'"):
        load_and_validate(folder)


def test_dates_far_in_the_future_are_reported() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[2, S.INVOICE_DATE] = "2099-03-05"
    raw[S.INVOICES].loc[2, S.DUE_DATE] = "2099-05-04"
    _, report = validate_tables(raw)
    assert (S.INVOICES, S.INVOICE_DATE, V.FUTURE_DATE) in _rules(report) and not report.ok
    soon = (pd.Timestamp.today() + pd.Timedelta(days=200)).strftime("%Y-%m-%d")
    ok = valid_raw()
    ok[S.INVOICES].loc[2, S.DUE_DATE] = soon  # long terms: a due date ahead is normal
    _, report = validate_tables(ok)
    assert (S.INVOICES, S.DUE_DATE, V.FUTURE_DATE) not in _rules(report)


@pytest.mark.parametrize("text", ["01/02/2024", "31/12/2024", "2024-1-2", "20241231", "Dec 31 2024", "2024-12-31x"])
def test_as_of_accepts_iso_dates_only(text: str) -> None:
    with pytest.raises(NoDataError, match="YYYY-MM-DD"):
        parse_as_of(text)


def test_as_of_iso_date_is_read() -> None:
    assert parse_as_of("2024-02-01") == pd.Timestamp("2024-02-01")
    assert parse_as_of(pd.Timestamp("2024-02-01 13:00")) == pd.Timestamp("2024-02-01")


@pytest.mark.slow
def test_a_date_with_no_customer_to_score_is_an_error_not_an_empty_file(tmp_path: Path) -> None:
    from _scoring_helpers import save_bundle, small_settings, world, write_tables
    from riskmodel.data.partition import subset_tables
    from riskmodel.pipeline import run_score

    w = world()
    with_invoices = set(w.tables.invoices[S.CUSTOMER_ID].astype(str))
    defaults = w.tables.defaults[w.tables.defaults[S.CUSTOMER_ID].astype(str).isin(with_invoices)]
    first_default = defaults.sort_values(S.DEFAULT_DATE).iloc[0]
    cid, when = str(first_default[S.CUSTOMER_ID]), first_default[S.DEFAULT_DATE]
    data = write_tables(subset_tables(w.tables, [cid]), tmp_path / "raw")
    save_bundle(w.bundles["lightgbm"], tmp_path)
    as_of = (when + pd.Timedelta(days=1)).date().isoformat()
    with pytest.raises(NoDataError, match="no customer can be scored"):
        run_score(small_settings(tmp_path), as_of=as_of, data_dir=data)
    assert not list(tmp_path.rglob("scores_*"))
