"""The default definition the ledger is held to: a material amount more than 90 days past due.

Follows the EU definition of default for non-retail exposures (EBA/GL/2016/07,
Guidelines on the application of the definition of default, and Commission
Delegated Regulation (EU) 2018/171 on the materiality threshold): an obligor is
in default when an amount is past due more than 90 days and that amount is
material, i.e. above BOTH an absolute threshold (EUR 500 for non-retail) AND a
relative threshold (1% of the obligor's total exposure).  Here the exposure is
the customer's outstanding invoices (issued, not yet paid) on that day.

An invoice is outstanding on day ``d`` when it was issued on or before ``d``
and not paid strictly before ``d`` (open, or ``paid_date >= d``): a payment on
the day itself is not yet known on that day, as for the features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from riskmodel.config import Materiality  # defined with its settings: config is the bottom layer
from riskmodel.data import schemas as S
from riskmodel.data.partition import customer_codes
from riskmodel.data.ranges import expand_ranges

__all__ = ["Materiality", "material_performing_past_due", "past_due_at", "performing_past_due"]


def past_due_at(invoices: pd.DataFrame, dates: Sequence[pd.Timestamp] | pd.DatetimeIndex,
                materiality: Materiality = Materiality()) -> pd.DataFrame:
    """Per (customer, date): amount more than ``dpd_days`` past due, total outstanding, and materiality.

    Only customer-dates with something outstanding are returned.  Columns:
    ``customer_id``, ``date``, ``past_due``, ``exposure``, ``material``.
    """
    cust = invoices[S.CUSTOMER_ID].astype(str).to_numpy()
    codes, uniq = pd.factorize(cust)
    inv_day = invoices[S.INVOICE_DATE].to_numpy("datetime64[D]").astype(np.int64)
    due = invoices[S.DUE_DATE].to_numpy("datetime64[D]").astype(np.int64)
    paid_dt = invoices[S.PAID_DATE].to_numpy("datetime64[D]")
    paid = np.where(np.isnat(paid_dt), np.iinfo(np.int64).max, paid_dt.astype(np.int64))
    amount = invoices[S.AMOUNT].to_numpy(dtype=float)
    n = len(uniq)
    out = []
    for date in pd.DatetimeIndex(dates):
        d = int(np.datetime64(date.date(), "D").astype(np.int64))
        open_ = (inv_day <= d) & (paid >= d)
        exposure = np.bincount(codes[open_], weights=amount[open_], minlength=n)
        late = open_ & (d - due > materiality.dpd_days)
        past_due = np.bincount(codes[late], weights=amount[late], minlength=n)
        has = exposure > 0
        out.append(pd.DataFrame({
            S.CUSTOMER_ID: uniq[has], "date": date, "past_due": past_due[has], "exposure": exposure[has],
            "material": materiality.is_material(past_due[has], exposure[has]),
        }))
    if not out:
        return pd.DataFrame(columns=[S.CUSTOMER_ID, "date", "past_due", "exposure", "material"])
    return pd.concat(out, ignore_index=True)


def performing_past_due(invoices: pd.DataFrame, defaults: pd.DataFrame, customers: pd.DataFrame,
                        dates: Sequence[pd.Timestamp] | pd.DatetimeIndex,
                        materiality: Materiality = Materiality()) -> pd.DataFrame:
    """Customer-dates of the performing population (onboarded before the date, no default on or
    before it) with a flag ``material`` for a material amount more than 90 days past due.

    The ledger and the defaults table agree when no row is flagged.
    """
    pd_at = past_due_at(invoices, dates, materiality)
    onb = customers.set_index(S.CUSTOMER_ID)[S.ONBOARDED_DATE]
    first = defaults.groupby(S.CUSTOMER_ID, observed=True)[S.DEFAULT_DATE].min()
    rows = []
    for date in pd.DatetimeIndex(dates):
        ids = onb.index[(onb < date).to_numpy()]
        fd = first.reindex(ids)
        ids = ids[~(fd <= date).to_numpy()]
        rows.append(pd.DataFrame({S.CUSTOMER_ID: ids.astype(str), "date": date}))
    perf = pd.concat(rows, ignore_index=True)
    perf = perf.merge(pd_at, on=[S.CUSTOMER_ID, "date"], how="left")
    perf["material"] = perf["material"].fillna(False).astype(bool)
    perf[["past_due", "exposure"]] = perf[["past_due", "exposure"]].fillna(0.0)
    return perf


def material_performing_past_due(invoices: pd.DataFrame, defaults: pd.DataFrame, customers: pd.DataFrame,
                                 dates: Sequence[pd.Timestamp] | pd.DatetimeIndex,
                                 materiality: Materiality = Materiality()) -> pd.DataFrame:
    """The rows of :func:`performing_past_due` flagged ``material``, without the performing population's
    other rows: what the ledger check needs, at a cost that follows the late invoices, not the book.

    ``performing_past_due`` masks every invoice at every date (the ledger's ~70 month ends over
    millions of invoices). Here an invoice is late at the dates in ``[max(issued, due + dpd_days + 1),
    paid]``, found by binary search over the sorted dates; only the customer-dates some late invoice
    reaches, with at least the absolute threshold past due, in the performing population, have their
    exposure summed, from their own customers' invoices. Each (customer, date) sum adds the same invoices
    in the same (row) order, so the figures equal ``performing_past_due``'s bit for bit; rows are sorted
    by date, then customer id.  An invoice without an issue date is never outstanding, one without a due
    date never past due.
    """
    cols = [S.CUSTOMER_ID, "date", "past_due", "exposure", "material"]
    days = np.unique(pd.DatetimeIndex(dates).normalize().to_numpy("datetime64[D]").astype(np.int64))
    if invoices.empty or not len(days):
        return pd.DataFrame({c: [] for c in cols})

    def day(column: str, missing: int) -> np.ndarray:
        values = invoices[column].to_numpy("datetime64[D]")
        return np.where(np.isnat(values), missing, values.astype(np.int64))

    big = np.iinfo(np.int64).max // 2
    issued, due, paid = day(S.INVOICE_DATE, big), day(S.DUE_DATE, big), day(S.PAID_DATE, big)
    amount = invoices[S.AMOUNT].to_numpy(dtype=float)
    uniq = pd.Index(customers[S.CUSTOMER_ID].astype(str)).unique()
    codes = customer_codes(invoices[S.CUSTOMER_ID], uniq)  # -1: not a customer, so never performing
    n_days = len(days)
    # past due: the late invoices only, each at the dates it is more than dpd_days late and still open
    late_from = np.searchsorted(days, np.maximum(issued, np.minimum(due, big - 1 - materiality.dpd_days)
                                                 + materiality.dpd_days + 1), "left")
    open_to = np.searchsorted(days, paid, "right")
    late = np.flatnonzero((open_to > late_from) & (codes >= 0))
    rows, pos = expand_ranges(late_from[late], open_to[late])
    key = codes[late[rows]].astype(np.int64) * n_days + pos
    keys, which = np.unique(key, return_inverse=True)
    past_due = np.bincount(which, weights=amount[late[rows]], minlength=len(keys))
    # the performing population: onboarded strictly before the date, no default on or before it
    cust_of, day_of = keys // n_days, days[keys % n_days]
    first_onb = customers.groupby(customers[S.CUSTOMER_ID].astype(str), sort=False)[S.ONBOARDED_DATE].first()
    onb = pd.to_datetime(first_onb.reindex(uniq)).to_numpy("datetime64[D]")
    onb_day = np.where(np.isnat(onb), np.iinfo(np.int64).max, onb.astype(np.int64))
    first_default = np.full(len(uniq), np.iinfo(np.int64).max)
    if len(defaults):
        dc = customer_codes(defaults[S.CUSTOMER_ID], uniq)
        dd = pd.to_datetime(defaults[S.DEFAULT_DATE]).to_numpy("datetime64[D]")
        ok = (dc >= 0) & ~np.isnat(dd)
        np.minimum.at(first_default, dc[ok], dd[ok].astype(np.int64))
    performing = (onb_day[cust_of] < day_of) & (first_default[cust_of] > day_of)
    cand = performing & (past_due > 0) & (past_due >= materiality.absolute)
    keys, past_due = keys[cand], past_due[cand]
    if not len(keys):
        return pd.DataFrame({c: [] for c in cols})
    # exposure of those customer-dates: every invoice of their customers outstanding at the date
    mine = np.flatnonzero(np.isin(codes, np.unique(keys // n_days)))
    rows, pos = expand_ranges(np.searchsorted(days, issued[mine], "left"), np.searchsorted(days, paid[mine], "right"))
    key = codes[mine[rows]].astype(np.int64) * n_days + pos
    at = np.searchsorted(keys, key)
    hit = (at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] == key)
    exposure = np.bincount(at[hit], weights=amount[mine[rows[hit]]], minlength=len(keys))
    material = materiality.is_material(past_due, exposure)
    out = pd.DataFrame({S.CUSTOMER_ID: uniq[keys // n_days][material].astype(str),
                        "date": pd.to_datetime(days[keys % n_days][material].astype("datetime64[D]")),
                        "past_due": past_due[material], "exposure": exposure[material], "material": True})
    return out.sort_values(["date", S.CUSTOMER_ID], kind="stable", ignore_index=True)
