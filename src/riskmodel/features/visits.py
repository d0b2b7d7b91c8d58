"""Visit and contact-report features: visits dated strictly before the snapshot.

The latest visit is the one with the latest date (ties: the highest visit_id).
A visit's mean rating is the mean of its observed 1..5 ratings.  Red flags of a
visit: lavish office, disclosure <= 2, licence not checked, any rating of 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.features import names as N
from riskmodel.features._util import (
    bool_column,
    date_days,
    float_column,
    mean_or_nan,
    sort_by_customer_date,
)
from riskmodel.features.snapshots import NAT_DAYS, Grid, customer_codes, months_between

RATING_FEATURE = {r: N.vis_last(r) for r in S.VISIT_RATINGS}
WINDOW = 24
LOW_DISCLOSURE = 2


def build_visit_features(visits: pd.DataFrame, grid: Grid) -> dict[str, np.ndarray]:
    """Visit features at the grid's rows (NaN where no visit is known)."""
    t = S.VISITS
    codes = customer_codes(visits[S.CUSTOMER_ID], grid.customers, t)
    days = date_days(visits, S.VISIT_DATE, t)
    order = sort_by_customer_date(codes, days, visits[S.VISIT_ID])
    v = visits.iloc[order]
    codes, days = codes[order], days[order]
    m = len(v)

    ratings = (
        np.column_stack([float_column(v, r) for r in S.VISIT_RATINGS]) if m else np.zeros((0, 8))
    )
    observed = ~np.isnan(ratings)
    n_obs = observed.sum(axis=1)
    visit_mean = mean_or_nan(np.where(observed, ratings, 0.0).sum(axis=1), n_obs)
    lavish = bool_column(v, S.LAVISH_OFFICE)
    licence = bool_column(v, S.LICENCE_CHECKED)
    disclosure = ratings[:, S.VISIT_RATINGS.index(S.DISCLOSURE)] if m else np.zeros(0)
    flags = (
        lavish + (1.0 - licence) + (disclosure <= LOW_DISCLOSURE) + (ratings == 1).any(axis=1)
    ).astype(np.float64)

    out: dict[str, np.ndarray] = {}
    latest = grid.latest_index(grid.snap_count(days), codes, np.arange(m)).reshape(-1)[grid.rows]
    has = latest >= 0
    idx = np.where(has, latest, 0)

    def at_latest(values: np.ndarray) -> np.ndarray:
        return np.where(has, values[idx], np.nan) if m else np.full(len(idx), np.nan)

    for r, name in RATING_FEATURE.items():
        out[name] = at_latest(ratings[:, S.VISIT_RATINGS.index(r)] if m else np.zeros(0))
    last_mean = at_latest(visit_mean)
    out[N.VIS_LAST_MEAN_RATING] = last_mean

    bins = grid.bin_of(days)
    n24 = grid.take(grid.window(grid.bin_totals(bins, codes), WINDOW))
    rated = ~np.isnan(visit_mean)
    sum24 = grid.take(
        grid.window(grid.bin_totals(bins[rated], codes[rated], visit_mean[rated]), WINDOW)
    )
    cnt24 = grid.take(grid.window(grid.bin_totals(bins[rated], codes[rated]), WINDOW))
    out[N.VIS_MEAN_RATING_24M] = mean_or_nan(sum24, cnt24)
    # earlier visits = the window without the latest visit (in it whenever cnt24 > 0)
    earlier = mean_or_nan(sum24 - np.nan_to_num(last_mean), cnt24 - 1)
    out[N.VIS_RATING_TREND] = np.where(np.isnan(last_mean), np.nan, last_mean - earlier)
    out[N.VIS_N_VISITS_24M] = n24
    last_day = np.where(has, days[idx] if m else 0, NAT_DAYS)
    out[N.VIS_MONTHS_SINCE_LAST] = months_between(last_day, grid.row_snapshot_days())
    lav24 = grid.take(grid.window(grid.bin_totals(bins, codes, lavish), WINDOW))
    out[N.VIS_LAVISH_OFFICE_24M] = np.where(n24 > 0, (lav24 > 0).astype(np.float64), np.nan)
    lic24 = grid.take(grid.window(grid.bin_totals(bins, codes, licence), WINDOW))
    out[N.VIS_LICENCE_CHECKED_SHARE_24M] = mean_or_nan(lic24, n24)
    out[N.VIS_RED_FLAGS_24M] = grid.take(grid.window(grid.bin_totals(bins, codes, flags), WINDOW))
    return out
