"""Hand-built input tables for the feature tests (typed as the data contract says)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables

CUSTOMER_DEFAULTS: dict[str, Any] = {
    S.INDUSTRY: "retail",
    S.REGION: "north",
    S.LEGAL_FORM: "ltd",
    S.FOUNDED_DATE: "2010-01-01",
    S.REGISTERED_CAPITAL: 100_000.0,
    S.PAID_IN_CAPITAL: 80_000.0,
    S.ONBOARDED_DATE: "2018-01-01",
    S.BUSINESS_SCOPE_OK: True,
    S.ADDRESS_VERIFIED: True,
    S.PAYMENT_TERMS_DAYS: 30,
    S.CREDIT_LIMIT: 50_000.0,
}

FINANCIAL_DEFAULTS: dict[str, Any] = {
    S.REVENUE: 1_000_000.0,
    S.EBIT: 80_000.0,
    S.NET_INCOME: 50_000.0,
    S.INTEREST_EXPENSE: 20_000.0,
    S.OPERATING_CASH_FLOW: 60_000.0,
    S.TOTAL_ASSETS: 500_000.0,
    S.CURRENT_ASSETS: 300_000.0,
    S.CASH: 50_000.0,
    S.INVENTORY: 100_000.0,
    S.RECEIVABLES: 120_000.0,
    S.TOTAL_LIABILITIES: 300_000.0,
    S.CURRENT_LIABILITIES: 200_000.0,
    S.EQUITY: 200_000.0,
    S.RETAINED_EARNINGS: 120_000.0,
    S.AUDITED: True,
}


def typed_frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A frame of ``table`` with the contract's columns and dtypes (as validation returns them)."""
    spec = S.SPECS[table]
    raw = pd.DataFrame(rows, columns=list(spec.column_names))
    out = {}
    for col in spec.columns:
        s = raw[col.name]
        if col.kind == "string":
            out[col.name] = (
                s.astype("str") if not col.nullable else s.astype("str").where(s.notna())
            )
        elif col.kind == "date":
            out[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.kind == "float":
            out[col.name] = s.astype("float64")
        elif col.kind == "int":
            out[col.name] = s.astype("Int64") if col.nullable else s.astype("int64")
        elif col.kind == "bool":
            out[col.name] = s.astype("bool")
        else:
            out[col.name] = pd.Categorical(s, categories=list(col.allowed or ()))
    return pd.DataFrame(out)


def customer(cid: str, **overrides: Any) -> dict[str, Any]:
    return {S.CUSTOMER_ID: cid, **CUSTOMER_DEFAULTS, **overrides}


def invoice(
    iid: str,
    cid: str,
    issued: str,
    due: str | None = None,
    amount: float = 100.0,
    paid: str | None = None,
    paid_amount: float | None = None,
) -> dict[str, Any]:
    due = due or str((pd.Timestamp(issued) + pd.Timedelta(days=30)).date())
    if paid is not None and paid_amount is None:
        paid_amount = amount
    return {
        S.INVOICE_ID: iid,
        S.CUSTOMER_ID: cid,
        S.INVOICE_DATE: issued,
        S.DUE_DATE: due,
        S.AMOUNT: amount,
        S.PAID_DATE: paid,
        S.PAID_AMOUNT: paid_amount,
    }


def statement(cid: str, period_end: str, **overrides: Any) -> dict[str, Any]:
    return {S.CUSTOMER_ID: cid, S.PERIOD_END: period_end, **FINANCIAL_DEFAULTS, **overrides}


def visit(
    vid: str, cid: str, date: str, rating: int | None = 3, **overrides: Any
) -> dict[str, Any]:
    row = {
        S.VISIT_ID: vid,
        S.CUSTOMER_ID: cid,
        S.VISIT_DATE: date,
        S.VISITOR_ID: "V1",
        S.LICENCE_CHECKED: True,
        S.LAVISH_OFFICE: False,
        S.NOTES: None,
    }
    row.update({r: rating for r in S.VISIT_RATINGS})
    row.update(overrides)
    return row


def event(eid: str, cid: str, date: str, kind: str, value: float) -> dict[str, Any]:
    return {
        S.EVENT_ID: eid,
        S.CUSTOMER_ID: cid,
        S.EVENT_DATE: date,
        S.EVENT_TYPE: kind,
        S.VALUE: value,
    }


def default(cid: str, date: str, kind: str = "dpd90") -> dict[str, Any]:
    return {S.CUSTOMER_ID: cid, S.DEFAULT_DATE: date, S.KIND: kind}


FROM_CUSTOMERS = "from_customers"


def terms_row(cid: str, valid_from: str, **values: Any) -> dict[str, Any]:
    """A customer_terms row: the customer defaults unless given."""
    row = {S.CUSTOMER_ID: cid, S.VALID_FROM: valid_from}
    row.update({f: CUSTOMER_DEFAULTS[f] for f in S.HISTORY_FACTS})
    row.update(values)
    return row


def onboarding_terms(customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One customer_terms row per customer, on its onboarding date, with its customers values."""
    return [terms_row(c[S.CUSTOMER_ID], c[S.ONBOARDED_DATE], **{f: c[f] for f in S.HISTORY_FACTS})
            for c in customers]


def make_tables(
    customers: list[dict[str, Any]],
    invoices: list[dict[str, Any]] = (),
    financials: list[dict[str, Any]] = (),
    visits: list[dict[str, Any]] = (),
    events: list[dict[str, Any]] = (),
    defaults: list[dict[str, Any]] = (),
    terms: list[dict[str, Any]] | str | None = FROM_CUSTOMERS,
) -> Tables:
    """Typed Tables from lists of records (empty tables keep their columns and dtypes).

    ``terms``: the customer_terms rows; by default one row per customer on its
    onboarding date holding its customers values; None for a folder without history.
    """
    if terms == FROM_CUSTOMERS:
        terms = onboarding_terms(list(customers))
    return Tables(
        customers=typed_frame(S.CUSTOMERS, list(customers)),
        invoices=typed_frame(S.INVOICES, list(invoices)),
        financials=typed_frame(S.FINANCIALS, list(financials)),
        visits=typed_frame(S.VISITS, list(visits)),
        events=typed_frame(S.EVENTS, list(events)),
        defaults=typed_frame(S.DEFAULTS, list(defaults)),
        customer_terms=None if terms is None else typed_frame(S.CUSTOMER_TERMS, list(terms)),
    )


def day(base: str, offset: int) -> str:
    """``base`` + ``offset`` days as an ISO date."""
    return str((pd.Timestamp(base) + pd.Timedelta(days=int(offset))).date())


def random_tables(
    rng: np.random.Generator,
    n_customers: int = 3,
    start: str = "2019-01-01",
    span_days: int = 1100,
    special: list[pd.Timestamp] | None = None,
) -> Tables:
    """Small random tables over ``span_days`` from ``start`` (for property tests).

    ``special`` dates (snapshots, window starts and their neighbours) are drawn
    often, so that boundaries such as "paid exactly on the snapshot" occur.
    """
    base = pd.Timestamp(start)
    special_offsets = [int((d - base).days) for d in (special or [])]

    def when(lo: int = 0, hi: int = span_days) -> int:
        if special_offsets and rng.random() < 0.35:
            return int(rng.choice(special_offsets))
        return int(rng.integers(lo, hi))

    ids = [f"C{i}" for i in range(n_customers)]
    customers = [
        customer(
            c,
            **{
                S.ONBOARDED_DATE: day(start, when(-200, 500)),
                S.FOUNDED_DATE: day(start, -3000),
                S.CREDIT_LIMIT: float(rng.choice([0.0, 1000.0, 5000.0])),
            },
        )
        for c in ids
    ]
    invoices = []
    for i in range(int(rng.integers(0, 40))):
        issued = when()
        due = issued + int(rng.integers(0, 61))
        if rng.random() < 0.15:
            paid = None
        else:
            paid = max(when(), issued) if rng.random() < 0.5 else issued + int(rng.integers(0, 200))
        amount = float(rng.integers(1, 1000)) + 0.25
        invoices.append(
            invoice(
                f"I{i}",
                str(rng.choice(ids)),
                day(start, issued),
                day(start, due),
                amount,
                None if paid is None else day(start, paid),
            )
        )
    financials = []
    for c in ids:
        for y in range(int(rng.integers(0, 4))):
            financials.append(
                statement(
                    c,
                    f"{2018 + y}-12-31",
                    **{
                        S.REVENUE: float(rng.choice([0.0, 5e5, 1e6])),
                        S.EBIT: float(rng.integers(-5, 10)) * 1e4,
                        S.INTEREST_EXPENSE: float(rng.choice([0.0, 1e4])),
                        S.CURRENT_LIABILITIES: float(rng.choice([0.0, 2e5])),
                        S.AUDITED: bool(rng.random() < 0.5),
                    },
                )
            )
    visits = []
    for i in range(int(rng.integers(0, 12))):
        r = {k: (None if rng.random() < 0.2 else int(rng.integers(1, 6))) for k in S.VISIT_RATINGS}
        visits.append(
            visit(
                f"V{i:02d}",
                str(rng.choice(ids)),
                day(start, when()),
                **r,
                **{
                    S.LAVISH_OFFICE: bool(rng.random() < 0.2),
                    S.LICENCE_CHECKED: bool(rng.random() < 0.6),
                },
            )
        )
    events = []
    for i in range(int(rng.integers(0, 20))):
        kind = str(rng.choice(S.EVENT_TYPES))
        value = (
            float(rng.integers(1, 6))
            if kind.endswith("reference")
            else (
                float(rng.integers(1, 11))
                if kind == "agency_rating"
                else float(rng.integers(1, 5)) * 1000.0 + 0.1
            )
        )
        events.append(event(f"E{i:02d}", str(rng.choice(ids)), day(start, when()), kind, value))
    defaults = [
        default(c, day(start, when(100, span_days + 200))) for c in ids if rng.random() < 0.4
    ]
    terms = []
    for c in customers:  # a random change log: sometimes none, sometimes rows before onboarding
        dates = sorted({when(-300) for _ in range(int(rng.integers(0, 5)))})
        for d in dates:
            terms.append(terms_row(c[S.CUSTOMER_ID], day(start, d), **{
                S.CREDIT_LIMIT: float(rng.choice([0.0, 1000.0, 5000.0, 20000.0])),
                S.PAYMENT_TERMS_DAYS: int(rng.choice([14, 30, 60])),
                S.PAID_IN_CAPITAL: float(rng.choice([0.0, 50_000.0, 100_000.0])),
                S.BUSINESS_SCOPE_OK: bool(rng.random() < 0.7),
                S.ADDRESS_VERIFIED: bool(rng.random() < 0.7),
            }))
    return make_tables(customers, invoices, financials, visits, events, defaults, terms)
