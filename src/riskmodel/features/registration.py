"""Registration and external-event features (the ``reg_`` and ``evt_`` columns).

Static registration facts (industry, region, legal form, founding date,
registered capital) come from the customers table.  The facts that change over
time (credit limit, payment terms, paid-in capital, scope and address checks)
come from ``customer_terms``: the latest row with ``valid_from < S`` (missing
before a customer's first row).  Without that table they are unavailable
(NaN) and the features built on them are listed by
:data:`HISTORY_FEATURES`, so training and scoring can leave them out.  Events
count only when
``event_date < S``: lawsuits and tax arrears in the last 12/24 months, the
latest bank reference and agency rating, the mean trade reference over 24
months, and collateral = pledged - released up to S (never below 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.exceptions import SchemaError
from riskmodel.features._util import (
    bool_column,
    date_days,
    float_column,
    mean_or_nan,
    safe_ratio,
    sort_by_customer_date,
)
from riskmodel.features.snapshots import Grid, customer_codes

CATEGORICAL_FEATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reg_industry": (S.INDUSTRY, S.INDUSTRIES),
    "reg_region": (S.REGION, S.REGIONS),
    "reg_legal_form": (S.LEGAL_FORM, S.LEGAL_FORMS),
}
REGISTRATION_FEATURES: tuple[str, ...] = (
    *CATEGORICAL_FEATURES,
    "reg_firm_age_years",
    "reg_paid_in_ratio",
    "reg_business_scope_ok",
    "reg_address_verified",
    "reg_payment_terms_days",
    "reg_log_credit_limit",
)
EVENT_FEATURES: tuple[str, ...] = (
    "evt_lawsuits_12m",
    "evt_lawsuits_24m",
    "evt_tax_arrears_12m",
    "evt_tax_arrears_24m",
    "evt_bank_ref_last",
    "evt_trade_ref_mean_24m",
    "evt_agency_rating_last",
    "evt_collateral_value",
    "evt_collateral_to_limit",
)
# Features that read a fact of customer_terms: unavailable (NaN) when the table is absent.
HISTORY_FEATURES: tuple[str, ...] = (
    "reg_paid_in_ratio",
    "reg_business_scope_ok",
    "reg_address_verified",
    "reg_payment_terms_days",
    "reg_log_credit_limit",
    "pay_utilisation",
    "evt_collateral_to_limit",
)
PAID_IN_CAP = 10.0
COLLATERAL_CAP = 100.0


def categorical(values: pd.Series | np.ndarray, categories: tuple[str, ...]) -> pd.Categorical:
    """Values as a Categorical with the contract's fixed categories (train and test share codes)."""
    return pd.Categorical(np.asarray(values, dtype=object), categories=list(categories))


def history_facts(terms: pd.DataFrame | None, grid: Grid) -> dict[str, np.ndarray]:
    """The five history facts at the grid's rows: the latest ``customer_terms`` row dated before S.

    Parameters
    ----------
    terms : pandas.DataFrame or None
        The ``customer_terms`` table; None when the folder has none (every fact NaN).
    grid : Grid
        Snapshots, customers and output rows.

    Returns
    -------
    dict[str, np.ndarray]
        For each of ``schemas.HISTORY_FACTS``, float64 per output row (booleans as
        0/1): the value of the latest row with ``valid_from < S``, NaN before the
        customer's first row.
    """
    n_rows = len(grid.rows)
    if terms is None:
        return {f: np.full(n_rows, np.nan) for f in S.HISTORY_FACTS}
    t = S.CUSTOMER_TERMS
    codes = customer_codes(terms[S.CUSTOMER_ID], grid.customers, t)
    days = date_days(terms, S.VALID_FROM, t)
    order = np.lexsort((days, codes))  # by customer, then date (the key is unique)
    latest = grid.latest_index(grid.snap_count(days[order]), codes[order], np.arange(len(order)))
    latest = latest.reshape(-1)[grid.rows]
    found = latest >= 0
    out: dict[str, np.ndarray] = {}
    for fact in S.HISTORY_FACTS:
        kind = S.CUSTOMER_TERMS_SPEC.column(fact).kind
        values = (bool_column(terms, fact) if kind == "bool" else float_column(terms, fact))[order]
        out[fact] = np.where(found, values[np.maximum(latest, 0)], np.nan) if len(values) else np.full(n_rows, np.nan)
    return out


def build_registration_features(
    customers: pd.DataFrame, grid: Grid, facts: dict[str, np.ndarray]
) -> dict[str, np.ndarray | pd.Categorical]:
    """Registration features at the grid's rows.

    ``customers`` is in the grid's customer order; ``facts`` holds the history
    facts per output row (:func:`history_facts`).
    """
    out: dict[str, np.ndarray | pd.Categorical] = {}
    for name, (column, cats) in CATEGORICAL_FEATURES.items():
        cat = categorical(customers[column], cats)
        codes = np.asarray(cat.codes)[grid.rows % grid.n]
        out[name] = pd.Categorical.from_codes(codes, categories=list(cats))
    founded = date_days(customers, S.FOUNDED_DATE, S.CUSTOMERS)
    out["reg_firm_age_years"] = (grid.row_snapshot_days() - grid.take_customer(founded)) / 365.25
    out["reg_paid_in_ratio"] = safe_ratio(
        facts[S.PAID_IN_CAPITAL],
        grid.take_customer(float_column(customers, S.REGISTERED_CAPITAL)),
        PAID_IN_CAP,
    )
    out["reg_business_scope_ok"] = facts[S.BUSINESS_SCOPE_OK]
    out["reg_address_verified"] = facts[S.ADDRESS_VERIFIED]
    out["reg_payment_terms_days"] = facts[S.PAYMENT_TERMS_DAYS]
    limit = facts[S.CREDIT_LIMIT]
    out["reg_log_credit_limit"] = np.log1p(np.maximum(limit, 0.0))
    return {name: out[name] for name in REGISTRATION_FEATURES}


def event_type_codes(types: pd.Series) -> np.ndarray:
    """Position of each event type in ``schemas.EVENT_TYPES``; -1 for an unknown or missing type."""
    known = pd.Index(list(S.EVENT_TYPES))
    if isinstance(types.dtype, pd.CategoricalDtype):
        mapping = np.append(
            known.get_indexer(types.cat.categories), -1
        )  # code -1 (missing) -> last slot
        return mapping[np.asarray(types.cat.codes)]
    return known.get_indexer(types)


def build_event_features(
    events: pd.DataFrame, grid: Grid, credit_limit: np.ndarray
) -> dict[str, np.ndarray]:
    """Event features at the grid's rows; ``credit_limit`` per output row (valid before S)."""
    t = S.EVENTS
    codes = customer_codes(events[S.CUSTOMER_ID], grid.customers, t)
    days = date_days(events, S.EVENT_DATE, t)
    kind = event_type_codes(events[S.EVENT_TYPE])
    unknown = kind < 0
    if unknown.any():
        bad = pd.unique(np.asarray(events[S.EVENT_TYPE], dtype=object)[unknown])
        raise SchemaError(
            f"{t}.{S.EVENT_TYPE}: rule 'allowed_values' broken by {int(unknown.sum())} rows; "
            f"first values: {list(bad[:5])}"
        )

    def is_(etype: str) -> np.ndarray:
        return kind == S.EVENT_TYPES.index(etype)

    value = float_column(events, S.VALUE)
    bins = grid.bin_of(days)
    out: dict[str, np.ndarray] = {}

    def totals(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return grid.bin_totals(bins[mask], codes[mask], None if weights is None else weights[mask])

    for etype, stem in (("lawsuit", "evt_lawsuits"), ("tax_arrears", "evt_tax_arrears")):
        p = totals(is_(etype))
        for w in (12, 24):
            out[f"{stem}_{w}m"] = grid.take(grid.window(p, w))

    for etype, name in (
        ("bank_reference", "evt_bank_ref_last"),
        ("agency_rating", "evt_agency_rating_last"),
    ):
        sel = np.flatnonzero(is_(etype))
        order = sel[sort_by_customer_date(codes[sel], days[sel], events[S.EVENT_ID].iloc[sel])]
        latest = grid.latest_index(
            grid.snap_count(days[order]), codes[order], np.arange(len(order))
        )
        latest = latest.reshape(-1)[grid.rows]
        vals = value[order]
        out[name] = np.where(latest >= 0, vals[np.maximum(latest, 0)] if len(vals) else 0.0, np.nan)

    trade = is_("trade_reference")
    out["evt_trade_ref_mean_24m"] = grid.take(
        mean_or_nan(grid.window(totals(trade, value), 24), grid.window(totals(trade), 24))
    )
    pledged = grid.before(totals(is_("collateral_pledged"), value))
    released = grid.before(totals(is_("collateral_released"), value))
    # rounded to the cent so that a full release leaves exactly 0 (no float residue)
    collateral = grid.take(np.maximum(np.round(pledged - released, 2), 0.0))
    out["evt_collateral_value"] = collateral
    out["evt_collateral_to_limit"] = safe_ratio(
        collateral, credit_limit, COLLATERAL_CAP, zero_to_cap=True
    )
    return {name: out[name] for name in EVENT_FEATURES}
