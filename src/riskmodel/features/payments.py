"""Payment-history features from the receivables ledger, point in time.

At a snapshot S an invoice exists when ``invoice_date < S`` and is settled
only when ``paid_date < S``; a payment on or after S is unknown, so the invoice
is still open at S.  Days past due (dpd) of a settled invoice are
``max(0, paid_date - due_date)``.  Counts and amounts of invoices use the
invoices *issued* in ``[S - w months, S)``; dpd statistics and late counts use
the invoices *settled* in the window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.config import FeatureSettings
from riskmodel.data import schemas as S
from riskmodel.features import names as N
from riskmodel.features._util import date_days, float_column, mean_or_nan, safe_ratio
from riskmodel.features.snapshots import NAT_DAYS, DayIndex, Grid, customer_codes, months_between

# (name suffix, first day past due, last day past due) of the aging buckets at S
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1_30", 1, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("90p", 91, None),
)
UTILISATION_CAP = 100.0


def build_payment_features(
    invoices: pd.DataFrame, grid: Grid, settings: FeatureSettings, credit_limit: np.ndarray,
    onboarded_days: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Payment features at the grid's rows.

    Parameters
    ----------
    invoices : pd.DataFrame
        The invoices table.
    grid : Grid
        Snapshots, customers and output rows; its windows include 6, 12, 24 and
        ``settings.windows_months``.
    settings : FeatureSettings
        Windows and late thresholds.
    credit_limit : np.ndarray
        Credit limit valid before the snapshot, per output row (NaN when unknown).

    Returns
    -------
    dict[str, np.ndarray]
        Feature name -> float64 values, one per output row (the registry orders the columns).
    """
    t = S.INVOICES
    codes = customer_codes(invoices[S.CUSTOMER_ID], grid.customers, t)
    issued = DayIndex.of(date_days(invoices, S.INVOICE_DATE, t))
    due = DayIndex.of(date_days(invoices, S.DUE_DATE, t))
    paid = DayIndex.of(date_days(invoices, S.PAID_DATE, t, nullable=True))
    amount = float_column(invoices, S.AMOUNT)
    out: dict[str, np.ndarray] = {}
    snap = np.broadcast_to(grid.days[:, None], (grid.K, grid.n))

    # ---- invoices issued in [S - w, S)
    key_issued = grid.bin_key(grid.bin_of(issued), codes)
    n_issued = grid.totals(key_issued)
    amt_issued = grid.totals(key_issued, amount)
    for w in settings.windows_months:
        out[N.pay_n_invoices(w)] = grid.take(grid.window(n_issued, w))
    for w in settings.windows_months:
        out[N.pay_amount(w)] = grid.take(grid.window(amt_issued, w))
    del key_issued, n_issued, amt_issued

    # ---- invoices settled in [S - w, S): days past due (open ones sit in the last bin, never read)
    settled = paid.days != NAT_DAYS
    dpd = np.maximum(paid.days - due.days, 0).astype(np.float64)
    dpd[~settled] = 0.0
    key_paid = grid.bin_key(grid.bin_of(paid), codes)
    n_settled = grid.totals(key_paid)
    dpd_sum = grid.totals(key_paid, dpd)
    late = np.flatnonzero(dpd > 0)
    key_late, dpd_late = key_paid[late], dpd[late]
    del key_paid
    n_late = grid.totals(key_late)
    dpd_max = grid.bin_max(key_late, dpd_late, fill=0.0)

    n12 = grid.window(n_settled, 12)
    out[N.PAY_MEAN_DPD_12M] = grid.take(mean_or_nan(grid.window(dpd_sum, 12), n12))
    for w in (12, 24):
        mx = grid.window_max(dpd_max, w, fill=0.0)
        mx[grid.window(n_settled, w) == 0] = np.nan
        out[N.pay_max_dpd(w)] = grid.take(mx)
    recent = mean_or_nan(grid.window(dpd_sum, 6), grid.window(n_settled, 6))
    before = mean_or_nan(
        grid.window(dpd_sum, 12, end_months=6), grid.window(n_settled, 12, end_months=6)
    )
    out[N.PAY_DPD_TREND] = grid.take(recent - before)
    out[N.PAY_SHARE_LATE_12M] = grid.take(mean_or_nan(grid.window(n_late, 12), n12))
    for thr in settings.late_thresholds_days:
        out[N.pay_n_late(thr)] = grid.take(
            grid.window(grid.totals(key_late[dpd_late > thr]), 12)
        )
    del n_settled, dpd_sum, n_late, dpd_max, n12, key_late, dpd_late

    # ---- state at S: open while invoice_date < S <= paid_date (or never paid)
    k_issued = grid.snap_count(issued)  # visible from this snapshot index on
    k_paid = grid.snap_count(paid)  # open until (excluding) this snapshot index
    k_due = grid.snap_count(due)  # overdue from this snapshot index on
    open_amount = grid.interval_sums(k_issued, k_paid, codes, amount)
    over = np.flatnonzero(k_due < k_paid)  # overdue at one snapshot at least
    o_codes, o_due, o_amount = codes[over], due.days[over], amount[over]
    o_kpaid, o_kdue = k_paid[over], k_due[over]
    overdue = grid.interval_sums(o_kdue, o_kpaid, o_codes, o_amount)
    for name, lo, hi in AGING_BUCKETS:
        start = grid.snap_count(o_due + lo, "left")
        stop = o_kpaid if hi is None else np.minimum(o_kpaid, grid.snap_count(o_due + hi, "right"))
        out[N.pay_overdue(name)] = grid.take(grid.interval_sums(start, stop, o_codes, o_amount))
    out[N.PAY_OPEN_AMOUNT] = grid.take(open_amount)
    out[N.PAY_OVERDUE_AMOUNT] = grid.take(overdue)
    share = np.zeros_like(overdue)
    np.divide(overdue, open_amount, out=share, where=open_amount > 0)
    out[N.PAY_OVERDUE_SHARE] = grid.take(np.clip(share, 0.0, 1.0))
    out[N.PAY_UTILISATION] = safe_ratio(
        out[N.PAY_OPEN_AMOUNT],
        credit_limit,
        cap=UTILISATION_CAP,
        zero_to_cap=True,
    )
    del open_amount, overdue, share

    # ---- recency: latest late settlement or oldest invoice still overdue, whichever is more recent
    last_late = grid.latest_day(k_paid[late], codes[late], paid.days[late])
    oldest_overdue = grid.interval_min_day(o_kdue, o_kpaid, o_codes, o_due)
    since = np.maximum(last_late, oldest_overdue)  # NAT_DAYS is the smallest day: "never"
    out[N.PAY_MONTHS_SINCE_LATE] = grid.take(months_between(since, snap))
    last_issued = grid.latest_day(k_issued, codes, issued.days)
    out[N.PAY_MONTHS_SINCE_LAST_INVOICE] = grid.take(months_between(last_issued, snap))
    # tenure: months since the customer was opened (onboarded_date, a customer fact known before
    # the snapshot), not since its first invoice in the extract, which would count from the
    # extract's start for every older customer; without onboarded dates, the first invoice
    if onboarded_days is None:
        first = np.full(grid.n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, codes, issued.days)
    else:
        first = np.asarray(onboarded_days, dtype=np.int64)
    first_row = grid.take_customer(first)
    snap_row = grid.row_snapshot_days()
    first_row = np.where(first_row < snap_row, first_row, NAT_DAYS)
    out[N.PAY_TENURE_MONTHS] = months_between(first_row, snap_row)
    return out
