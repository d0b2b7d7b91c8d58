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

__all__ = ["Materiality", "past_due_at", "performing_past_due"]


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
