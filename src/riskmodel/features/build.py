"""Assemble the point-in-time modelling table: population, the four feature families, the label.

One row per (customer_id, snapshot_date), sorted by snapshot_date then
customer_id.  Every family is computed for all snapshots at once on a dense
(snapshot x customer) grid (see :mod:`riskmodel.features.snapshots`), then read
off at the requested rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from riskmodel.config import FeatureSettings, SnapshotSettings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.exceptions import ConfigError, SchemaError
from riskmodel.features._util import date_days
from riskmodel.features.dictionary import feature_catalog
from riskmodel.features.financials import build_financial_features
from riskmodel.features.labels import first_default_days, horizon_end_days, label_from_days
from riskmodel.features.payments import build_payment_features
from riskmodel.features.portfolio import attach_portfolio_features
from riskmodel.features.registration import (
    HISTORY_FEATURES,
    build_event_features,
    build_registration_features,
    history_facts,
)
from riskmodel.features.snapshots import (
    NAT_DAYS,
    Grid,
    normalise_snapshots,
    snapshot_dates,
    to_days,
)
from riskmodel.features.visits import build_visit_features

log = logging.getLogger(__name__)

POPULATION_STATUS = "population_status"
STATUSES: tuple[str, ...] = ("eligible", "not_yet_onboarded", "in_default")
FIXED_WINDOWS: tuple[int, ...] = (6, 12, 24)  # dpd trend halves, 12/24-month features
# record dates that show how far the data reaches (the label needs the whole horizon observed)
DATA_DATES = S.DATA_DATES  # the contract's dated columns (defined with the contract, read by data.partition too)


def _check_settings(settings: FeatureSettings) -> None:
    wins, thr = list(settings.windows_months), list(settings.late_thresholds_days)
    if not wins or min(wins) < 1 or len(set(wins)) != len(wins):
        raise ConfigError(
            f"features.windows_months: expected distinct whole months >= 1, got {wins}"
        )
    if min(thr, default=0) < 0 or len(set(thr)) != len(thr):
        raise ConfigError(f"features.late_thresholds_days: expected distinct days >= 0, got {thr}")


def _check_columns(tables: Tables) -> None:
    for name, frame in tables.as_dict().items():
        missing = [c for c in S.SPECS[name].column_names if c not in frame.columns and c != S.NOTES]
        if missing:
            raise SchemaError(f"{name}: rule 'required columns' broken: missing {missing}")


def _sorted_customers(customers: pd.DataFrame) -> pd.DataFrame:
    ids = customers[S.CUSTOMER_ID]
    if ids.isna().any():
        raise SchemaError(
            f"{S.CUSTOMERS}.{S.CUSTOMER_ID}: rule 'not null' broken by {int(ids.isna().sum())} rows"
        )
    dup = ids.duplicated()
    if dup.any():
        raise SchemaError(
            f"{S.CUSTOMERS}.{S.CUSTOMER_ID}: rule 'unique key' broken by {int(dup.sum())} rows; "
            f"first: {list(ids[dup].head(5))}"
        )
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    return customers.iloc[order]


def _status_grid(
    customers: pd.DataFrame, first_default: np.ndarray, days: np.ndarray
) -> np.ndarray:
    onboarded = date_days(customers, S.ONBOARDED_DATE, S.CUSTOMERS)
    not_yet = onboarded[None, :] >= days[:, None]
    in_default = (first_default[None, :] != NAT_DAYS) & (first_default[None, :] <= days[:, None])
    return np.where(not_yet, 1, np.where(in_default, 2, 0)).astype(np.int8)


def _build(
    tables: Tables, snapshots: pd.DatetimeIndex, settings: FeatureSettings, population: str
) -> tuple[pd.DataFrame, Grid, np.ndarray]:
    """Features at the rows of ``population``, the grid, and each customer's first default day."""
    _check_settings(settings)
    _check_columns(tables)
    if population not in ("eligible", "all"):
        raise ValueError(f"population must be 'eligible' or 'all', got {population!r}")
    customers = _sorted_customers(tables.customers)
    ids = pd.Index(customers[S.CUSTOMER_ID].astype("str"), name=S.CUSTOMER_ID)
    grid = Grid.build(snapshots, ids, set(settings.windows_months) | set(FIXED_WINDOWS))
    first_default = first_default_days(tables.defaults, ids)
    status = _status_grid(customers, first_default, grid.days).reshape(-1)
    rows = np.flatnonzero(status == 0) if population == "eligible" else np.arange(status.size)
    grid = grid.with_rows(rows)
    facts = history_facts(tables.customer_terms, grid)
    if not tables.has_history:
        log.warning("no %s table: %s unavailable (NaN) and left out of training and scoring",
                    S.CUSTOMER_TERMS, ", ".join(HISTORY_FEATURES))
    credit_limit = facts[S.CREDIT_LIMIT]

    features: dict[str, object] = {}
    t0 = time.perf_counter()
    features.update(build_payment_features(tables.invoices, grid, settings, credit_limit,
                                           onboarded_days=date_days(customers, S.ONBOARDED_DATE, S.CUSTOMERS)))
    t1 = time.perf_counter()
    features.update(
        build_financial_features(tables.financials, grid, settings.publication_lag_months)
    )
    t2 = time.perf_counter()
    features.update(build_visit_features(tables.visits, grid))
    t3 = time.perf_counter()
    features.update(build_registration_features(customers, grid, facts))
    features.update(build_event_features(tables.events, grid, credit_limit))
    log.debug(
        "features in %.2fs: payments %.2fs, financials %.2fs, visits %.2fs, registration+events %.2fs",
        time.perf_counter() - t0,
        t1 - t0,
        t2 - t1,
        t3 - t2,
        time.perf_counter() - t3,
    )

    expected = list(feature_catalog(settings))  # the registry owns the names and their order
    if set(features) != set(expected):  # a programming error, caught by the tests
        raise AssertionError(
            f"built features differ from the dictionary: {set(features) ^ set(expected)}"
        )
    features = {name: features[name] for name in expected}
    cols: dict[str, object] = {
        S.CUSTOMER_ID: pd.array(np.asarray(ids, dtype=object), dtype="str").take(rows % grid.n),
        S.SNAPSHOT_DATE: grid.snapshots.to_numpy()[rows // grid.n],
    }
    if population == "all":
        cols[POPULATION_STATUS] = pd.Categorical.from_codes(status[rows], categories=list(STATUSES))
    cols.update(features)
    frame = pd.DataFrame(cols, copy=False)
    return frame, grid, first_default


def unavailable_features(tables: Tables) -> tuple[str, ...]:
    """Features that cannot be built point in time from these tables (to leave out of models).

    Without ``customer_terms`` the credit limit, terms, paid-in capital and the
    registration checks are known only as of the extract (look-ahead): every
    feature of ``registration.HISTORY_FEATURES`` is then NaN and unavailable.
    """
    return () if tables.has_history else HISTORY_FEATURES


def facts_as_of(tables: Tables, customer_ids: Sequence[str], as_of: dt.date | pd.Timestamp) -> pd.DataFrame:
    """The five history facts of some customers as known before ``as_of`` (the memo's *current* terms).

    The same code as the features (:func:`registration.history_facts`): the
    latest ``customer_terms`` row with ``valid_from < as_of``; NaN before the
    first row and for every customer when the table is absent (the customers
    table's extract values are never used: they may postdate ``as_of``).
    Returns a frame indexed by customer_id with one float column per fact.
    """
    snaps = normalise_snapshots([as_of])
    ids = pd.Index(sorted({str(c) for c in customer_ids}), name=S.CUSTOMER_ID)
    terms = tables.customer_terms
    if terms is not None:
        terms = terms[terms[S.CUSTOMER_ID].astype("str").isin(ids)]
    grid = Grid.build(snaps, ids, ())
    return pd.DataFrame(history_facts(terms, grid), index=ids)


def build_features(
    tables: Tables,
    snapshots: Sequence[dt.date | pd.Timestamp] | pd.DatetimeIndex,
    settings: FeatureSettings,
    population: Literal["eligible", "all"] = "eligible",
) -> pd.DataFrame:
    """Point-in-time features of every customer at every snapshot.

    Parameters
    ----------
    tables : Tables
        The six input tables.
    snapshots : sequence of dates
        Snapshot dates (sorted and de-duplicated here).
    settings : FeatureSettings
        Windows, late thresholds and the statement publication lag.
    population : {"eligible", "all"}
        ``"eligible"``: customers onboarded strictly before the snapshot and not
        in default at it (first default_date <= snapshot).  ``"all"``: every
        customer of ``tables.customers`` at every snapshot, with a
        ``population_status`` column (eligible / not_yet_onboarded / in_default).

    Returns
    -------
    pd.DataFrame
        ``customer_id``, ``snapshot_date`` (+ ``population_status``), then the
        features of :data:`riskmodel.features.dictionary.FEATURES` (for the
        default settings), sorted by snapshot_date then customer_id.
        ``reg_industry``, ``reg_region`` and ``reg_legal_form`` are categories
        fixed to the contract's enumerations; every other feature is float64.
    """
    frame, _, _ = _build(tables, normalise_snapshots(snapshots), settings, population)
    return frame


def fit_snapshots_to_data(snapshot_settings: SnapshotSettings, tables: Tables) -> SnapshotSettings:
    """The snapshot grid cut to the data's span: ``end`` moved back to the last grid date whose
    label horizon the data fully observes (``riskmodel features --fit-to-data``).

    Raises ``ConfigError`` naming the data's end when no grid date fits.
    """
    end = to_days(pd.DatetimeIndex([latest_data_date(tables)]))[0]
    snapshots = snapshot_dates(snapshot_settings)
    fit = snapshots[horizon_end_days(to_days(snapshots), snapshot_settings.horizon_months) <= end]
    if not len(fit):
        raise ConfigError(
            f"snapshots: no snapshot from {snapshot_settings.start} has its {snapshot_settings.horizon_months}-"
            f"month label horizon inside the data (ending {pd.Timestamp(np.datetime64(end, 'D')).date()}); "
            "set snapshots.start earlier in params.yaml"
        )
    new_end = fit[-1].date()
    if new_end != snapshot_settings.end:
        log.info("snapshots: end moved from %s to %s to fit the data", snapshot_settings.end, new_end)
    return snapshot_settings.model_copy(update={"end": new_end})


def latest_data_date(tables: Tables) -> pd.Timestamp:
    """The latest record date (invoice, payment, period end, visit, event, default)."""
    latest = NAT_DAYS
    frames = tables.as_dict()
    for table, column in DATA_DATES:
        days = to_days(frames[table][column]) if len(frames[table]) else np.array([NAT_DAYS])
        latest = max(latest, int(days.max()))
    if latest == NAT_DAYS:
        raise ConfigError("the tables hold no dated record: cannot tell where the data ends")
    return pd.Timestamp(np.datetime64(latest, "D"))


def build_modelling_table(
    tables: Tables,
    snapshot_settings: SnapshotSettings,
    feature_settings: FeatureSettings,
    allow_partial_labels: bool = False,
) -> pd.DataFrame:
    """The modelling table: eligible rows, the label ``default_{h}m``, then every feature.

    Parameters
    ----------
    tables : Tables
        The six input tables.
    snapshot_settings : SnapshotSettings
        Snapshot grid and label horizon.
    feature_settings : FeatureSettings
        Feature windows, thresholds and publication lag.
    allow_partial_labels : bool
        Accept snapshots whose horizon runs past the latest date in the tables
        (their labels are incompletely observed).  Refused by default.

    Returns
    -------
    pd.DataFrame
        ``customer_id``, ``snapshot_date``, ``default_{h}m`` (int 0/1; h = ``horizon_months``,
        :func:`schemas.label_name`), features, then the
        portfolio features (``ptf_*``, from the whole book); sorted by snapshot_date then customer_id.
    """
    snapshots = snapshot_dates(snapshot_settings)
    horizon = snapshot_settings.horizon_months
    if not allow_partial_labels:
        end = latest_data_date(tables)
        ends = horizon_end_days(to_days(snapshots), horizon)
        late = snapshots[ends > to_days(pd.DatetimeIndex([end]))[0]]
        if len(late):
            fit = snapshots[ends <= to_days(pd.DatetimeIndex([end]))[0]]
            fit_end = f"{fit[-1].date()} or earlier" if len(fit) else "a date before the data ends"
            raise ConfigError(
                f"snapshots {[d.date().isoformat() for d in late[:4]]}{' ...' if len(late) > 4 else ''} have a "
                f"{horizon}-month label horizon reaching past the end of the data ({end.date()}): their labels "
                f"are not fully observed. Set snapshots.end to {fit_end} in params.yaml (--params FILE), or "
                "run `riskmodel features --fit-to-data` (drops those snapshots) or "
                "`riskmodel features --allow-partial-labels` (keeps them with incomplete labels)."
            )
    frame, grid, first_default = _build(tables, snapshots, feature_settings, "eligible")
    label = label_from_days(first_default[grid.rows % grid.n], grid.row_snapshot_days(), horizon)
    frame.insert(2, S.label_name(horizon), label)
    frame = attach_portfolio_features(frame, tables)  # issue 9: segment indicators of the whole book
    log.info(
        "modelling table: %d rows, %d snapshots, default rate %.4f",
        len(frame),
        len(snapshots),
        float(label.mean()) if len(label) else float("nan"),
    )
    return frame
