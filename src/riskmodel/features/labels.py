"""The label and the population: first default per customer, default within the horizon.

A customer is *in default* at S when its first default_date is on or before S;
it is then left out of the modelling table.  The label of a row is 1 when the
first default falls in ``(S, S + horizon months]`` (calendar months).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.exceptions import SchemaError, UnknownCustomerError
from riskmodel.features._util import date_days
from riskmodel.features.snapshots import NAT_DAYS, customer_codes, shift_months, to_days


def first_default_days(defaults: pd.DataFrame, customers: pd.Index) -> np.ndarray:
    """First default day (int64) per customer of the sorted ``customers``; NAT_DAYS if none."""
    first = np.full(len(customers), np.iinfo(np.int64).max, dtype=np.int64)
    if len(defaults):
        codes = customer_codes(defaults[S.CUSTOMER_ID], customers, S.DEFAULTS)
        np.minimum.at(first, codes, date_days(defaults, S.DEFAULT_DATE, S.DEFAULTS))
    first[first == np.iinfo(np.int64).max] = NAT_DAYS
    return first


def horizon_end_days(snapshot_days: np.ndarray, horizon_months: int) -> np.ndarray:
    """``S + horizon months`` as int64 days for each snapshot day."""
    uniq, inv = np.unique(snapshot_days, return_inverse=True)
    ends = to_days(shift_months(pd.DatetimeIndex(uniq.astype("datetime64[D]")), horizon_months))
    return ends[inv]


def label_from_days(
    first_default: np.ndarray, snapshot_days: np.ndarray, horizon_months: int
) -> np.ndarray:
    """1 where ``S < first_default <= S + horizon``, else 0 (int64)."""
    has = first_default != NAT_DAYS
    end = horizon_end_days(snapshot_days, horizon_months)
    return (has & (first_default > snapshot_days) & (first_default <= end)).astype(np.int64)


def _row_first_default_days(tables: Tables, keys: pd.DataFrame) -> np.ndarray:
    """First default day (int64, NAT_DAYS if none) of each row's customer; unknown customers refused."""
    customers = pd.Index(tables.customers[S.CUSTOMER_ID]).unique().sort_values()
    try:
        codes = customer_codes(keys[S.CUSTOMER_ID], customers, "keys")
    except SchemaError as err:
        raise UnknownCustomerError(str(err)) from None
    return first_default_days(tables.defaults, customers)[codes]


def build_labels(tables: Tables, keys: pd.DataFrame, horizon_months: int) -> pd.Series:
    """The default label of each (customer_id, snapshot_date) row of ``keys``.

    Parameters
    ----------
    tables : Tables
        Only ``customers`` and ``defaults`` are read.
    keys : pd.DataFrame
        Columns ``customer_id`` and ``snapshot_date``.
    horizon_months : int
        Length of the outcome window in calendar months.

    Returns
    -------
    pd.Series
        ``default_{h}m`` (int 0/1, :func:`schemas.label_name`), aligned with ``keys.index``: 1 when the
        customer's first default falls in ``(snapshot, snapshot + horizon]``.
    """
    if horizon_months < 1:
        raise ValueError(f"horizon_months must be >= 1, got {horizon_months}")
    first = _row_first_default_days(tables, keys)
    snap = to_days(keys[S.SNAPSHOT_DATE])
    return pd.Series(label_from_days(first, snap, horizon_months), index=keys.index,
                     name=S.label_name(horizon_months))


def first_default_dates(tables: Tables, keys: pd.DataFrame) -> np.ndarray:
    """Each row's customer's first default date (datetime64[D], NaT when none), for rows of ``keys``.

    The calibration reads from it only what was recorded before its as-of date
    (``models.central_tendency.observed_by``).
    """
    first = _row_first_default_days(tables, keys)
    out = first.astype("datetime64[D]")
    out[first == NAT_DAYS] = np.datetime64("NaT")
    return out
