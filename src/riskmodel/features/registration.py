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
from riskmodel.features import names as N
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
    N.REG_INDUSTRY: (S.INDUSTRY, S.INDUSTRIES),
    N.REG_REGION: (S.REGION, S.REGIONS),
    N.REG_LEGAL_FORM: (S.LEGAL_FORM, S.LEGAL_FORMS),
}
# Features that read a fact of customer_terms: unavailable (NaN) when the table is absent.
HISTORY_FEATURES: tuple[str, ...] = (
    N.REG_PAID_IN_RATIO,
    N.REG_BUSINESS_SCOPE_OK,
    N.REG_ADDRESS_VERIFIED,
    N.REG_PAYMENT_TERMS_DAYS,
    N.REG_LOG_CREDIT_LIMIT,
    N.PAY_UTILISATION,
    N.EVT_COLLATERAL_TO_LIMIT,
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
    out[N.REG_FIRM_AGE_YEARS] = (grid.row_snapshot_days() - grid.take_customer(founded)) / 365.25
    out[N.REG_PAID_IN_RATIO] = safe_ratio(
        facts[S.PAID_IN_CAPITAL],
        grid.take_customer(float_column(customers, S.REGISTERED_CAPITAL)),
        PAID_IN_CAP,
    )
    out[N.REG_BUSINESS_SCOPE_OK] = facts[S.BUSINESS_SCOPE_OK]
    out[N.REG_ADDRESS_VERIFIED] = facts[S.ADDRESS_VERIFIED]
    out[N.REG_PAYMENT_TERMS_DAYS] = facts[S.PAYMENT_TERMS_DAYS]
    limit = facts[S.CREDIT_LIMIT]
    out[N.REG_LOG_CREDIT_LIMIT] = np.log1p(np.maximum(limit, 0.0))
    return out


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

    for etype, name_of in (("lawsuit", N.evt_lawsuits), ("tax_arrears", N.evt_tax_arrears)):
        p = totals(is_(etype))
        for w in (12, 24):
            out[name_of(w)] = grid.take(grid.window(p, w))

    for etype, name in (
        ("bank_reference", N.EVT_BANK_REF_LAST),
        ("agency_rating", N.EVT_AGENCY_RATING_LAST),
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
    out[N.EVT_TRADE_REF_MEAN_24M] = grid.take(
        mean_or_nan(grid.window(totals(trade, value), 24), grid.window(totals(trade), 24))
    )
    pledged = grid.before(totals(is_("collateral_pledged"), value))
    released = grid.before(totals(is_("collateral_released"), value))
    # rounded to the cent so that a full release leaves exactly 0 (no float residue)
    collateral = grid.take(np.maximum(np.round(pledged - released, 2), 0.0))
    out[N.EVT_COLLATERAL_VALUE] = collateral
    out[N.EVT_COLLATERAL_TO_LIMIT] = safe_ratio(
        collateral, credit_limit, COLLATERAL_CAP, zero_to_cap=True
    )
    return out
