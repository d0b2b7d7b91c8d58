"""Loading and validating the six input tables against the data contract (riskmodel.data.validation)."""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from riskmodel.cli import app
from riskmodel.data import schemas as S
from riskmodel.data import validation as V
from riskmodel.data.tables import Tables
from riskmodel.data.validation import load_and_validate, load_raw_tables, validate_tables
from riskmodel.exceptions import DataNotFoundError, SchemaError

Raw = dict[str, pd.DataFrame]
NA = None


# --------------------------------------------------------------- the valid set
def valid_raw() -> Raw:
    """Three customers and a few rows per table, every cell as text (as a CSV is read)."""
    customers = pd.DataFrame({
        S.CUSTOMER_ID: ["C001", "C002", "C003"],
        S.INDUSTRY: ["retail", "construction", "services"],
        S.REGION: ["north", "south", "east"],
        S.LEGAL_FORM: ["ltd", "sole_trader", "plc"],
        S.FOUNDED_DATE: ["2005-03-01", "2012-07-15", "1998-01-10"],
        S.REGISTERED_CAPITAL: ["100000", "20000", "500000"],
        S.PAID_IN_CAPITAL: ["100000", "10000", "500000"],
        S.ONBOARDED_DATE: ["2015-01-01", "2018-05-20", "2010-02-01"],
        S.BUSINESS_SCOPE_OK: ["true", "False", "1"],
        S.ADDRESS_VERIFIED: ["YES", "no", "0"],
        S.PAYMENT_TERMS_DAYS: ["30", "60", "45"],
        S.CREDIT_LIMIT: ["50000", "15000.5", "200000"],
    })
    invoices = pd.DataFrame({
        S.INVOICE_ID: ["INV0001", "INV0002", "INV0003", "INV0004"],
        S.CUSTOMER_ID: ["C001", "C001", "C002", "C003"],
        S.INVOICE_DATE: ["2021-01-10", "2021-02-10", "2021-03-05", "2021-04-01"],
        S.DUE_DATE: ["2021-02-09", "2021-03-12", "2021-05-04", "2021-05-16"],
        S.AMOUNT: ["1200.50", "800", "5000", "300"],
        S.PAID_DATE: ["2021-02-15", "2021-03-01", NA, "2021-06-30"],
        S.PAID_AMOUNT: ["1200.50", "800", NA, "250"],
    })
    financials = pd.DataFrame({
        S.CUSTOMER_ID: ["C001", "C001", "C002"],
        S.PERIOD_END: ["2020-12-31", "2021-12-31", "2020-12-31"],
        S.REVENUE: ["1000000", "1100000", "300000"],
        S.EBIT: ["80000", "-5000", "20000"],
        S.NET_INCOME: ["50000", "-12000", "12000"],
        S.INTEREST_EXPENSE: ["10000", "11000", "3000"],
        S.OPERATING_CASH_FLOW: ["60000", "1000", "15000"],
        S.TOTAL_ASSETS: ["800000", "820000", "200000"],
        S.CURRENT_ASSETS: ["400000", "410000", "120000"],
        S.CASH: ["50000", "40000", "20000"],
        S.INVENTORY: ["150000", "160000", "50000"],
        S.RECEIVABLES: ["150000", "170000", "40000"],
        S.TOTAL_LIABILITIES: ["500000", "532000", "150000"],
        S.CURRENT_LIABILITIES: ["300000", "320000", "100000"],
        S.EQUITY: ["300000", "288000", "50000"],
        S.RETAINED_EARNINGS: ["120000", "108000", "-5000"],
        S.AUDITED: ["true", "true", "false"],
    })
    visits = pd.DataFrame({
        S.VISIT_ID: ["V001", "V002", "V003"],
        S.CUSTOMER_ID: ["C001", "C002", "C002"],
        S.VISIT_DATE: ["2021-03-01", "2021-04-12", "2021-09-30"],
        S.VISITOR_ID: ["S01", "S02", "S01"],
        **{r: (["4", NA, "2"] if i % 2 else ["3", "5", "1"]) for i, r in enumerate(S.VISIT_RATINGS)},
        S.LICENCE_CHECKED: ["true", "false", "true"],
        S.LAVISH_OFFICE: ["false", "false", "true"],
        S.NOTES: ["tidy office", NA, "office looked too expensive"],
    })
    events = pd.DataFrame({
        S.EVENT_ID: ["E001", "E002", "E003", "E004"],
        S.CUSTOMER_ID: ["C002", "C001", "C003", "C001"],
        S.EVENT_DATE: ["2021-05-01", "2021-06-01", "2021-07-01", "2021-08-01"],
        S.EVENT_TYPE: ["lawsuit", "bank_reference", "agency_rating", "collateral_pledged"],
        S.VALUE: ["25000", "4", "7", "100000"],
    })
    defaults = pd.DataFrame({
        S.CUSTOMER_ID: ["C003"],
        S.DEFAULT_DATE: ["2021-09-30"],
        S.KIND: ["dpd90"],
    })
    # the history of the five facts: the latest row of each customer holds its customers values
    customer_terms = pd.DataFrame({
        S.CUSTOMER_ID: ["C001", "C001", "C002", "C003", "C003"],
        S.VALID_FROM: ["2015-01-01", "2021-06-15", "2018-05-20", "2010-02-01", "2021-10-05"],
        S.CREDIT_LIMIT: ["30000", "50000", "15000.5", "300000", "200000"],
        S.PAYMENT_TERMS_DAYS: ["45", "30", "60", "60", "45"],
        S.PAID_IN_CAPITAL: ["100000", "100000", "10000", "500000", "500000"],
        S.BUSINESS_SCOPE_OK: ["true", "true", "false", "1", "true"],
        S.ADDRESS_VERIFIED: ["true", "yes", "no", "1", "0"],
    })
    frames = {S.CUSTOMERS: customers, S.INVOICES: invoices, S.FINANCIALS: financials,
              S.VISITS: visits, S.EVENTS: events, S.DEFAULTS: defaults, S.CUSTOMER_TERMS: customer_terms}
    return {name: df.astype("str") for name, df in frames.items()}  # text, missing stays missing


def _set(table: str, row: int, column: str, value: str | None) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        raw[table].loc[row, column] = value
    return apply


def _set_current(row: int, column: str, value: str | None) -> Callable[[Raw], None]:
    """Set a current value in customers and drop that customer's history (no latest row to compare)."""
    def apply(raw: Raw) -> None:
        cid = raw[S.CUSTOMERS].loc[row, S.CUSTOMER_ID]
        raw[S.CUSTOMERS].loc[row, column] = value
        th = raw[S.CUSTOMER_TERMS]
        raw[S.CUSTOMER_TERMS] = th[th[S.CUSTOMER_ID] != cid].reset_index(drop=True)
    return apply


def _drop_column(table: str, column: str) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        raw[table] = raw[table].drop(columns=[column])
    return apply


def _drop_table(table: str) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        del raw[table]
    return apply


def _add_column(table: str, column: str) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        raw[table] = raw[table].assign(**{column: "x"})
    return apply


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Raw], None]
    table: str
    column: str
    rule: str
    count: int = 1
    first_key: str | None = None  # None: a table- or column-level rule without rows
    severity: str = "error"


CASES: list[Case] = [
    # types
    Case("type_number", _set(S.INVOICES, 1, S.AMOUNT, "12,5"), S.INVOICES, S.AMOUNT, V.TYPE,
         first_key="invoice_id=INV0002"),
    Case("type_date", _set(S.INVOICES, 2, S.DUE_DATE, "2021-02-30"), S.INVOICES, S.DUE_DATE, V.TYPE,
         first_key="invoice_id=INV0003"),
    Case("type_partial_date", _set(S.VISITS, 0, S.VISIT_DATE, "2021-03"), S.VISITS, S.VISIT_DATE,
         V.TYPE, first_key="visit_id=V001"),
    Case("type_int", _set(S.CUSTOMERS, 1, S.PAYMENT_TERMS_DAYS, "30.5"), S.CUSTOMERS,
         S.PAYMENT_TERMS_DAYS, V.TYPE, first_key="customer_id=C002"),
    Case("type_bool", _set(S.VISITS, 1, S.LAVISH_OFFICE, "maybe"), S.VISITS, S.LAVISH_OFFICE, V.TYPE,
         first_key="visit_id=V002"),
    Case("type_rating", _set(S.VISITS, 2, S.EXPERTISE, "good"), S.VISITS, S.EXPERTISE, V.TYPE,
         first_key="visit_id=V003"),
    # nulls
    Case("null_category", _set(S.CUSTOMERS, 1, S.INDUSTRY, NA), S.CUSTOMERS, S.INDUSTRY, V.NOT_NULL,
         first_key="customer_id=C002"),
    Case("null_number", _set(S.INVOICES, 2, S.AMOUNT, NA), S.INVOICES, S.AMOUNT, V.NOT_NULL,
         first_key="invoice_id=INV0003"),
    Case("blank_text", _set(S.VISITS, 2, S.VISITOR_ID, "  "), S.VISITS, S.VISITOR_ID, V.NOT_NULL,
         first_key="visit_id=V003"),
    Case("null_date", _set(S.EVENTS, 3, S.EVENT_DATE, NA), S.EVENTS, S.EVENT_DATE, V.NOT_NULL,
         first_key="event_id=E004"),
    # keys
    Case("duplicate_key", _set(S.INVOICES, 2, S.INVOICE_ID, "INV0001"), S.INVOICES, S.INVOICE_ID,
         V.UNIQUE_KEY, count=2, first_key="invoice_id=INV0001"),
    Case("duplicate_composite_key", _set(S.FINANCIALS, 1, S.PERIOD_END, "2020-12-31"), S.FINANCIALS,
         f"{S.CUSTOMER_ID}, {S.PERIOD_END}", V.UNIQUE_KEY, count=2,
         first_key="customer_id=C001, period_end=2020-12-31"),
    *[
        Case(f"foreign_key_{t}", _set(t, 0, S.CUSTOMER_ID, "C999"), t, S.CUSTOMER_ID, V.FOREIGN_KEY,
             first_key=key)
        for t, key in [
            (S.INVOICES, "invoice_id=INV0001"),
            (S.FINANCIALS, "customer_id=C999, period_end=2020-12-31"),
            (S.VISITS, "visit_id=V001"),
            (S.EVENTS, "event_id=E001"),
            (S.DEFAULTS, "customer_id=C999, default_date=2021-09-30"),
        ]
    ],
    # bounds
    Case("min_amount", _set(S.INVOICES, 2, S.AMOUNT, "-1"), S.INVOICES, S.AMOUNT, V.MIN,
         first_key="invoice_id=INV0003"),
    Case("min_terms", _set_current(2, S.PAYMENT_TERMS_DAYS, "-5"), S.CUSTOMERS,
         S.PAYMENT_TERMS_DAYS, V.MIN, first_key="customer_id=C003"),
    Case("max_terms", _set_current(2, S.PAYMENT_TERMS_DAYS, "400"), S.CUSTOMERS,
         S.PAYMENT_TERMS_DAYS, V.MAX, first_key="customer_id=C003"),
    Case("min_rating", _set(S.VISITS, 0, S.CORRESPONDENCE, "0"), S.VISITS, S.CORRESPONDENCE, V.MIN,
         first_key="visit_id=V001"),
    Case("max_rating", _set(S.VISITS, 2, S.DISCLOSURE, "6"), S.VISITS, S.DISCLOSURE, V.MAX,
         first_key="visit_id=V003"),
    Case("min_event_value", _set(S.EVENTS, 3, S.VALUE, "-3"), S.EVENTS, S.VALUE, V.MIN,
         first_key="event_id=E004"),
    # enumerations
    Case("allowed_region", _set(S.CUSTOMERS, 1, S.REGION, "mars"), S.CUSTOMERS, S.REGION,
         V.ALLOWED_VALUES, first_key="customer_id=C002"),
    Case("allowed_case_sensitive", _set(S.CUSTOMERS, 0, S.INDUSTRY, "Retail"), S.CUSTOMERS,
         S.INDUSTRY, V.ALLOWED_VALUES, first_key="customer_id=C001"),
    Case("allowed_event_type", _set(S.EVENTS, 0, S.EVENT_TYPE, "rumour"), S.EVENTS, S.EVENT_TYPE,
         V.ALLOWED_VALUES, first_key="event_id=E001"),
    Case("allowed_default_kind", _set(S.DEFAULTS, 0, S.KIND, "bankrupt"), S.DEFAULTS, S.KIND,
         V.ALLOWED_VALUES, first_key="customer_id=C003, default_date=2021-09-30"),
    # date range
    Case("date_too_early", _set(S.INVOICES, 0, S.INVOICE_DATE, "1850-01-10"), S.INVOICES,
         S.INVOICE_DATE, V.DATE_RANGE, first_key="invoice_id=INV0001"),
    Case("date_too_late", _set(S.EVENTS, 1, S.EVENT_DATE, "2202-06-01"), S.EVENTS, S.EVENT_DATE,
         V.DATE_RANGE, first_key="event_id=E002"),
    Case("date_beyond_ns_range", _set(S.DEFAULTS, 0, S.DEFAULT_DATE, "9999-12-31"), S.DEFAULTS,
         S.DEFAULT_DATE, V.DATE_RANGE, first_key="customer_id=C003, default_date=9999-12-31"),
    # structure
    Case("missing_column", _drop_column(S.INVOICES, S.AMOUNT), S.INVOICES, S.AMOUNT, V.MISSING_COLUMN),
    Case("missing_optional_column", _drop_column(S.VISITS, S.NOTES), S.VISITS, S.NOTES,
         V.MISSING_COLUMN),
    Case("missing_table", _drop_table(S.VISITS), S.VISITS, "-", V.MISSING_TABLE),
    Case("extra_column", _add_column(S.CUSTOMERS, "segment"), S.CUSTOMERS, "segment", V.EXTRA_COLUMN,
         severity="warning"),
    # every cross-column check of the specs
    Case("onboarded_not_before_founded", _set(S.CUSTOMERS, 1, S.ONBOARDED_DATE, "2010-01-01"),
         S.CUSTOMERS, S.ONBOARDED_DATE, "onboarded_not_before_founded", first_key="customer_id=C002"),
    Case("paid_in_not_above_registered", _set_current(2, S.PAID_IN_CAPITAL, "600000"),
         S.CUSTOMERS, S.PAID_IN_CAPITAL, "paid_in_not_above_registered",
         first_key="customer_id=C003", severity="warning"),
    Case("due_not_before_invoice", _set(S.INVOICES, 1, S.DUE_DATE, "2021-02-01"), S.INVOICES,
         S.DUE_DATE, "due_not_before_invoice", first_key="invoice_id=INV0002"),
    Case("paid_not_before_invoice", _set(S.INVOICES, 3, S.PAID_DATE, "2021-03-01"), S.INVOICES,
         S.PAID_DATE, "paid_not_before_invoice", first_key="invoice_id=INV0004"),
    Case("paid_amount_not_above_amount", _set(S.INVOICES, 0, S.PAID_AMOUNT, "1300"), S.INVOICES,
         S.PAID_AMOUNT, "paid_amount_not_above_amount", first_key="invoice_id=INV0001"),
    Case("paid_date_and_amount_together", _set(S.INVOICES, 1, S.PAID_AMOUNT, NA), S.INVOICES,
         S.PAID_AMOUNT, "paid_date_and_amount_together", first_key="invoice_id=INV0002"),
    Case("balance_sheet_identity", _set(S.FINANCIALS, 2, S.EQUITY, "10000"), S.FINANCIALS,
         S.TOTAL_ASSETS, "balance_sheet_identity", first_key="customer_id=C002, period_end=2020-12-31",
         severity="warning"),
    Case("current_assets_within_total", _set(S.FINANCIALS, 2, S.CURRENT_ASSETS, "250000"),
         S.FINANCIALS, S.CURRENT_ASSETS, "current_assets_within_total",
         first_key="customer_id=C002, period_end=2020-12-31", severity="warning"),
    Case("current_assets_components", _set(S.FINANCIALS, 1, S.CASH, "200000"), S.FINANCIALS,
         S.CURRENT_ASSETS, "current_assets_components",
         first_key="customer_id=C001, period_end=2021-12-31", severity="warning"),
    Case("current_liabilities_within_total", _set(S.FINANCIALS, 2, S.CURRENT_LIABILITIES, "200000"),
         S.FINANCIALS, S.CURRENT_LIABILITIES, "current_liabilities_within_total",
         first_key="customer_id=C002, period_end=2020-12-31", severity="warning"),
    # customer_terms: the history of the five facts (types, key, foreign key, bounds, rules)
    Case("history_type_number", _set(S.CUSTOMER_TERMS, 2, S.CREDIT_LIMIT, "12,5"), S.CUSTOMER_TERMS, S.CREDIT_LIMIT, V.TYPE,
         first_key="customer_id=C002, valid_from=2018-05-20"),
    Case("history_null_bool", _set(S.CUSTOMER_TERMS, 3, S.BUSINESS_SCOPE_OK, NA), S.CUSTOMER_TERMS, S.BUSINESS_SCOPE_OK,
         V.NOT_NULL, first_key="customer_id=C003, valid_from=2010-02-01"),
    Case("history_same_customer_and_date", _set(S.CUSTOMER_TERMS, 1, S.VALID_FROM, "2015-01-01"), S.CUSTOMER_TERMS,
         f"{S.CUSTOMER_ID}, {S.VALID_FROM}", V.UNIQUE_KEY, count=2,
         first_key="customer_id=C001, valid_from=2015-01-01"),
    Case("history_foreign_key", _set(S.CUSTOMER_TERMS, 2, S.CUSTOMER_ID, "C999"), S.CUSTOMER_TERMS, S.CUSTOMER_ID, V.FOREIGN_KEY,
         first_key="customer_id=C999, valid_from=2018-05-20"),
    Case("history_min_limit", _set(S.CUSTOMER_TERMS, 0, S.CREDIT_LIMIT, "-1"), S.CUSTOMER_TERMS, S.CREDIT_LIMIT, V.MIN,
         first_key="customer_id=C001, valid_from=2015-01-01"),
    Case("history_max_terms", _set(S.CUSTOMER_TERMS, 0, S.PAYMENT_TERMS_DAYS, "400"), S.CUSTOMER_TERMS, S.PAYMENT_TERMS_DAYS, V.MAX,
         first_key="customer_id=C001, valid_from=2015-01-01"),
    Case("valid_from_not_before_founded", _set(S.CUSTOMER_TERMS, 3, S.VALID_FROM, "1997-01-01"), S.CUSTOMER_TERMS, S.VALID_FROM,
         "valid_from_not_before_founded", first_key="customer_id=C003, valid_from=1997-01-01"),
    Case("valid_from_not_before_onboarded", _set(S.CUSTOMER_TERMS, 3, S.VALID_FROM, "2005-01-01"), S.CUSTOMER_TERMS, S.VALID_FROM,
         "valid_from_not_before_onboarded", first_key="customer_id=C003, valid_from=2005-01-01",
         severity="warning"),
    Case("history_paid_in_not_above_registered", _set(S.CUSTOMER_TERMS, 0, S.PAID_IN_CAPITAL, "150000"), S.CUSTOMER_TERMS,
         S.PAID_IN_CAPITAL, "paid_in_not_above_registered", first_key="customer_id=C001, valid_from=2015-01-01",
         severity="warning"),
    Case("latest_row_matches_customers", _set(S.CUSTOMER_TERMS, 1, S.CREDIT_LIMIT, "45000"), S.CUSTOMER_TERMS, S.CREDIT_LIMIT,
         "latest_row_matches_customers", first_key="customer_id=C001, valid_from=2021-06-15",
         severity="warning"),
    Case("latest_row_matches_customers_bool", _set(S.CUSTOMER_TERMS, 4, S.ADDRESS_VERIFIED, "true"), S.CUSTOMER_TERMS, S.CREDIT_LIMIT,
         "latest_row_matches_customers", first_key="customer_id=C003, valid_from=2021-10-05",
         severity="warning"),
    Case("missing_optional_table", _drop_table(S.CUSTOMER_TERMS), S.CUSTOMER_TERMS, "-", V.MISSING_OPTIONAL_TABLE, severity="warning"),
    Case("reference_rating_in_1_5", _set(S.EVENTS, 1, S.VALUE, "9"), S.EVENTS, S.VALUE,
         "reference_rating_in_1_5", first_key="event_id=E002"),
    Case("agency_rating_in_1_10", _set(S.EVENTS, 2, S.VALUE, "11"), S.EVENTS, S.VALUE,
         "agency_rating_in_1_10", first_key="event_id=E003"),
]


def _broken(case: Case) -> Raw:
    raw = valid_raw()
    case.mutate(raw)
    return raw


# ------------------------------------------------------------------- tests
def test_valid_set_is_clean_and_typed() -> None:
    tables, report = validate_tables(valid_raw())
    assert report.ok and report.violations == [] and report.notes == [], report.to_text()
    assert isinstance(tables, Tables)
    assert report.rows == {S.CUSTOMERS: 3, S.INVOICES: 4, S.FINANCIALS: 3, S.VISITS: 3, S.EVENTS: 4,
                           S.DEFAULTS: 1, S.CUSTOMER_TERMS: 5}
    inv, cust, vis = tables.invoices, tables.customers, tables.visits
    assert inv[S.INVOICE_DATE].dtype == "datetime64[ns]"
    assert pd.api.types.is_string_dtype(inv[S.INVOICE_ID].dtype)
    assert inv[S.AMOUNT].dtype == "float64" and inv[S.AMOUNT].iloc[0] == 1200.5
    assert inv[S.PAID_DATE].isna().tolist() == [False, False, True, False]
    assert cust[S.PAYMENT_TERMS_DAYS].dtype == "int64"
    assert cust[S.BUSINESS_SCOPE_OK].dtype == bool
    assert cust[S.BUSINESS_SCOPE_OK].tolist() == [True, False, True]
    assert cust[S.ADDRESS_VERIFIED].tolist() == [True, False, False]
    assert isinstance(cust[S.INDUSTRY].dtype, pd.CategoricalDtype)
    assert list(cust[S.INDUSTRY].cat.categories) == list(S.INDUSTRIES)
    assert vis[S.RESPONSIVENESS].dtype == "Int64" and vis[S.RESPONSIVENESS].isna().sum() == 1
    for name, df in tables.as_dict().items():
        assert list(df.columns) == list(S.SPECS[name].column_names)


def test_every_check_in_the_specs_has_a_failing_case() -> None:
    check_names = {c.name for spec in S.SPECS.values() for c in spec.checks}
    check_names |= {c.name for spec in S.SPECS.values() for c in spec.customer_checks}
    assert check_names <= {case.rule for case in CASES}


def test_an_old_folder_without_history_validates_with_a_warning_naming_the_cost(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = valid_raw()
    del raw[S.CUSTOMER_TERMS]
    folder = _write(raw, tmp_path / "old", "csv")
    with caplog.at_level(logging.WARNING, logger="riskmodel.data.validation"):
        tables = load_and_validate(folder)
    assert tables.customer_terms is None and not tables.has_history
    assert S.CUSTOMER_TERMS not in tables.as_dict()
    text = caplog.text
    for part in (S.CUSTOMER_TERMS, V.MISSING_OPTIONAL_TABLE, "look-ahead", "left out of training and scoring",
                 *S.HISTORY_FACTS):
        assert part in text


def test_history_rows_are_typed_and_the_latest_row_is_compared_per_customer() -> None:
    tables, report = validate_tables(valid_raw())
    th = tables.customer_terms
    assert th[S.VALID_FROM].dtype == "datetime64[ns]" and th[S.PAYMENT_TERMS_DAYS].dtype == "int64"
    assert th[S.ADDRESS_VERIFIED].tolist() == [True, True, False, True, False]
    # an older row that differs from the current values is history, not an inconsistency
    assert th.loc[0, S.CREDIT_LIMIT] != tables.customers.loc[0, S.CREDIT_LIMIT] and report.violations == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_rule_is_reported(case: Case) -> None:
    tables, report = validate_tables(_broken(case))
    assert [(v.table, v.column, v.rule) for v in report.violations] == [
        (case.table, case.column, case.rule)], report.to_text()
    (v,) = report.violations
    assert v.severity == case.severity
    assert v.count == case.count
    if case.first_key is None:
        assert v.examples == []
    else:
        assert v.examples[0] == case.first_key
    assert report.ok == (case.severity == "warning")
    assert (tables is None) == (case.severity == "error")
    text = report.to_text()
    for part in (case.table, case.column, case.rule, str(case.count), case.first_key or ""):
        assert part in text


def test_bad_values_are_named_in_the_message() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[[1, 3], S.AMOUNT] = ["12,5", "n/a?"]
    _, report = validate_tables(raw)
    (v,) = report.violations
    assert v.count == 2 and v.examples == ["invoice_id=INV0002", "invoice_id=INV0004"]
    assert "'12,5'" in v.message and "'n/a?'" in v.message


def test_rule_on_a_column_that_failed_typing_is_skipped_with_a_note() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[0, S.PAID_DATE] = "someday"
    tables, report = validate_tables(raw)
    # only the type error: no spurious 'paid_date_and_amount_together' for that row
    assert [(v.column, v.rule) for v in report.violations] == [(S.PAID_DATE, V.TYPE)]
    assert any("paid_date_and_amount_together" in n and "1 row" in n for n in report.notes)
    assert tables is None


def test_check_with_a_missing_column_is_noted_not_crashed() -> None:
    raw = valid_raw()
    raw[S.FINANCIALS] = raw[S.FINANCIALS].drop(columns=[S.EQUITY])
    _, report = validate_tables(raw)
    assert [v.rule for v in report.violations] == [V.MISSING_COLUMN]
    assert any("balance_sheet_identity" in n for n in report.notes)


def test_unique_key_counts_every_row_sharing_a_key() -> None:
    raw = valid_raw()
    raw[S.EVENTS].loc[[1, 2, 3], S.EVENT_ID] = "E001"
    _, report = validate_tables(raw)
    (v,) = report.violations
    assert v.rule == V.UNIQUE_KEY and v.count == 4 and v.examples == ["event_id=E001"]


def test_foreign_key_lists_unknown_ids() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[[1, 2], S.CUSTOMER_ID] = ["C777", "C888"]
    _, report = validate_tables(raw)
    (v,) = report.violations
    assert v.count == 2 and "'C777'" in v.message and "'C888'" in v.message
    assert v.examples == ["invoice_id=INV0002", "invoice_id=INV0003"]


def test_dates_with_a_time_are_normalised_to_midnight() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[0, S.INVOICE_DATE] = "2021-01-10T15:30:00"
    tables, report = validate_tables(raw)
    assert report.ok
    assert tables.invoices[S.INVOICE_DATE].iloc[0] == pd.Timestamp("2021-01-10")


def test_typed_frames_validate_again_unchanged() -> None:
    """Parquet-like input (already typed) passes and round-trips to the same frames."""
    tables, _ = validate_tables(valid_raw())
    again, report = validate_tables(tables.as_dict())
    assert report.ok and not report.violations
    for name in S.ALL_TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(tables, name))


def test_float_in_a_text_column_of_a_typed_frame_is_a_type_error() -> None:
    tables, _ = validate_tables(valid_raw())
    frames = tables.as_dict()
    frames[S.VISITS] = frames[S.VISITS].assign(**{S.VISITOR_ID: [1.0, 2.0, 1.0]})
    _, report = validate_tables(frames)
    assert [(v.table, v.column, v.rule, v.count) for v in report.violations] == [
        (S.VISITS, S.VISITOR_ID, V.TYPE, 3)]


def test_validation_never_mutates_its_input() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[0, S.AMOUNT] = "oops"
    raw[S.CUSTOMERS] = raw[S.CUSTOMERS].set_axis(range(10, 13))  # a non-default index too
    before = copy.deepcopy(raw)
    validate_tables(raw)
    typed, _ = validate_tables(valid_raw())
    typed_frames = typed.as_dict()
    typed_before = copy.deepcopy(typed_frames)
    validate_tables(typed_frames)
    for name in S.ALL_TABLE_NAMES:
        pd.testing.assert_frame_equal(raw[name], before[name])
        pd.testing.assert_frame_equal(typed_frames[name], typed_before[name])


def test_report_forms() -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[2, S.AMOUNT] = "-1"
    raw[S.CUSTOMERS] = raw[S.CUSTOMERS].assign(segment="x")
    _, report = validate_tables(raw)
    assert len(report.errors) == 1 and len(report.warnings) == 1 and not report.ok
    frame = report.to_frame()
    assert list(frame.columns) == ["table", "column", "rule", "severity", "count", "examples", "message"]
    assert frame.loc[frame["rule"] == V.MIN, "examples"].item() == "invoice_id=INV0003"
    d = json.loads(json.dumps(report.to_dict()))
    assert d["ok"] is False and d["n_errors"] == 1 and d["n_warnings"] == 1
    lines = report.to_text().splitlines()
    assert lines[0].startswith("data contract: 1 error(s), 1 warning(s)")
    rows = [ln for ln in lines if "ERROR" in ln or "WARNING" in ln]
    assert len(rows) == 2
    # aligned: the count column ends at the same place on every line
    assert len({ln.index("extra_column") for ln in rows if "extra_column" in ln} |
               {ln.index(V.MIN + " ") for ln in rows if " min " in ln}) == 1


# ------------------------------------------------------------------ files
def _write(raw: Raw, folder: Path, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in raw.items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_through_files(tmp_path: Path, fmt: str) -> None:
    expected, _ = validate_tables(valid_raw())
    source = expected.as_dict() if fmt == "parquet" else valid_raw()  # typed Parquet, text CSV
    tables = load_and_validate(_write(source, tmp_path / fmt, fmt))
    for name in S.ALL_TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(tables, name), getattr(expected, name))


def test_csv_cells_are_read_as_text(tmp_path: Path) -> None:
    raw = load_raw_tables(_write(valid_raw(), tmp_path, "csv"))
    assert all(pd.api.types.is_string_dtype(dt) for dt in raw[S.INVOICES].dtypes)
    assert raw[S.INVOICES][S.PAID_DATE].isna().sum() == 1


def test_missing_table_file_names_table_and_folder(tmp_path: Path) -> None:
    folder = _write(valid_raw(), tmp_path, "csv")
    (folder / f"{S.VISITS}.csv").unlink()
    with pytest.raises(DataNotFoundError, match=rf"'{S.VISITS}'.*{folder.name}"):
        load_raw_tables(folder)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="nowhere"):
        load_raw_tables(tmp_path / "nowhere")


def test_table_in_both_formats_is_refused(tmp_path: Path) -> None:
    folder = _write(valid_raw(), tmp_path, "csv")
    valid_raw()[S.EVENTS].to_parquet(folder / f"{S.EVENTS}.parquet")
    with pytest.raises(SchemaError, match=rf"'{S.EVENTS}'.*events.csv.*events.parquet|"
                                          rf"'{S.EVENTS}'.*events.parquet.*events.csv"):
        load_raw_tables(folder)


def test_load_and_validate_raises_with_the_report(tmp_path: Path) -> None:
    raw = valid_raw()
    raw[S.VISITS].loc[2, S.DISCLOSURE] = "6"
    with pytest.raises(SchemaError) as info:
        load_and_validate(_write(raw, tmp_path, "csv"))
    report = info.value.report
    assert isinstance(report, V.ValidationReport) and not report.ok
    assert "visit_id=V003" in str(info.value) and "disclosure" in str(info.value)


def test_load_and_validate_logs_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = valid_raw()
    raw[S.FINANCIALS].loc[2, S.EQUITY] = "10000"
    with caplog.at_level(logging.WARNING, logger="riskmodel"):
        tables = load_and_validate(_write(raw, tmp_path, "parquet"))
    assert tables.financials[S.EQUITY].iloc[2] == 10000.0  # a warning never changes the data
    assert "balance_sheet_identity" in caplog.text


# -------------------------------------------------------------------- CLI
def test_cli_validate_valid_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _write(valid_raw(), tmp_path / "ok", "csv")
    caplog.set_level(logging.INFO, logger="riskmodel")
    result = CliRunner().invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 0, result.output + caplog.text
    assert "is valid" in caplog.text and "invoices 4" in caplog.text


def test_cli_validate_invalid_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = valid_raw()
    raw[S.INVOICES].loc[[1, 2], S.CUSTOMER_ID] = "C999"
    folder = _write(raw, tmp_path / "bad", "parquet")
    result = CliRunner().invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 1
    line = next(ln for ln in caplog.text.splitlines() if V.FOREIGN_KEY in ln)
    for part in (S.INVOICES, S.CUSTOMER_ID, V.FOREIGN_KEY, " 2 ", "invoice_id=INV0002"):
        assert part in line


def test_cli_validate_missing_table_exits_1(tmp_path: Path) -> None:
    folder = _write({k: v for k, v in valid_raw().items() if k != S.DEFAULTS}, tmp_path, "csv")
    result = CliRunner().invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 1
    assert S.DEFAULTS in result.output


def test_cli_report_reaches_stderr(tmp_path: Path) -> None:
    """The real command, as an analyst runs it: the report is on stderr."""
    raw = valid_raw()
    raw[S.EVENTS].loc[2, S.VALUE] = "11"
    folder = _write(raw, tmp_path / "bad", "csv")
    proc = subprocess.run([sys.executable, "-m", "riskmodel.cli", "validate", "--data", str(folder)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if "agency_rating_in_1_10" in ln)
    for part in (S.EVENTS, S.VALUE, "ERROR", " 1 ", "event_id=E003"):
        assert part in line


# -------------------------------------------------------------- simulator
def test_simulated_base_validates_clean_and_unchanged(tmp_path: Path) -> None:
    """The simulator writes the contract: no errors, and typing its tables changes nothing."""
    import datetime as dt

    from riskmodel.data.simulator import simulate

    sim = simulate(n_customers=150, start_date=dt.date(2019, 1, 1), years=3, seed=11).tables
    tables, report = validate_tables(sim.as_dict())
    assert report.errors == [], report.to_text()
    for name in S.ALL_TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(tables, name), getattr(sim, name).reset_index(drop=True))
    # and through CSV, the strictest path (every cell re-read as text)
    folder = tmp_path / "sim"
    folder.mkdir()
    for name, df in sim.as_dict().items():
        df.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    from_csv = load_and_validate(folder)
    for name in S.ALL_TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(from_csv, name), getattr(tables, name))


def test_history_checks_skip_customer_values_that_are_missing_or_unreadable() -> None:
    raw = valid_raw()
    raw[S.CUSTOMERS] = raw[S.CUSTOMERS].drop(columns=[S.FOUNDED_DATE])
    _, report = validate_tables(raw)
    assert [(v.table, v.rule) for v in report.violations] == [(S.CUSTOMERS, V.MISSING_COLUMN)]
    assert any("valid_from_not_before_founded not evaluated" in n and "customers.founded_date" in n
               for n in report.notes)
    raw = valid_raw()
    raw[S.CUSTOMERS].loc[0, S.CREDIT_LIMIT] = "abc"  # reported once, as a type error of customers
    _, report = validate_tables(raw)
    assert [(v.table, v.column, v.rule) for v in report.violations] == [(S.CUSTOMERS, S.CREDIT_LIMIT, V.TYPE)]
