"""Portfolio comparison points (median, share of 1s, most common level) from the bundle's reference.

The reference (see :mod:`riskmodel.export`) keeps each feature's training
distribution as bins: quantile intervals (``lower < x <= upper``), category
levels and a missing bin.  The median of a numeric feature is read off the
cumulative share of its non-missing bins: with decile bins it is a bin edge
exactly; otherwise it is interpolated inside the bin that crosses one half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.explain.templates import template_for


def _median_from_bins(group: pd.DataFrame) -> float:
    bins = group[group["bin_type"] == "interval"].sort_values("bin")
    if bins.empty or bins["share"].sum() <= 0:
        return float("nan")
    share = bins["share"].to_numpy(dtype=float)
    cum = np.cumsum(share) / share.sum()
    lower = bins["lower"].to_numpy(dtype=float)
    upper = bins["upper"].to_numpy(dtype=float)
    i = int(np.searchsorted(cum, 0.5 - 1e-9, side="left"))
    i = min(i, len(cum) - 1)
    prev = cum[i - 1] if i > 0 else 0.0
    lo, hi = lower[i], upper[i]
    # within one row of one half: the bin's upper edge is the median (decile edges are quantiles)
    n = float(bins["count"].sum()) if "count" in bins.columns else 0.0
    tol = 1.0 / n if n > 0 else 1e-9
    if np.isfinite(hi) and (cum[i] - 0.5 <= tol + 1e-12 or not np.isfinite(lo)):
        return float(hi)
    if not np.isfinite(hi):
        return float(lo)
    frac = (0.5 - prev) / max(cum[i] - prev, 1e-12)
    return float(lo + frac * (hi - lo))


def _share_of_ones(group: pd.DataFrame) -> float | str:
    """Share of 1s among the non-missing values of a 0/1 feature.

    Quantile bins of 0/1 data have an edge at 0 unless over 90% of the values
    are 1 (then every decile is 1 and the bins cannot tell 0 from 1): that case
    returns the word "most".
    """
    bins = group[group["bin_type"] == "interval"]
    total = float(bins["share"].sum())
    if total <= 0:
        return float("nan")
    upper = bins["upper"].to_numpy(dtype=float)
    at_or_below_zero = upper <= 1e-12
    if not at_or_below_zero.any():
        return "most"
    zeros = float(bins["share"].to_numpy(dtype=float)[at_or_below_zero].sum())
    return 1.0 - zeros / total


def _mode(group: pd.DataFrame) -> str | None:
    cats = group[group["bin_type"] == "category"]
    if cats.empty or cats["share"].max() <= 0:
        return None
    return str(cats.sort_values(["share", "bin"], ascending=[False, True]).iloc[0]["level"])


def comparison_points(reference: pd.DataFrame, features: list[str]) -> dict[str, object]:
    """Per feature, the point a reason compares the customer with.

    Parameters
    ----------
    reference : the bundle's reference distributions (``riskmodel.export`` layout).
    features : the model's features.

    Returns
    -------
    dict : numeric features -> median (float), 0/1 flags -> share of 1s (or 'most'), categories ->
    most common level (str); NaN / None when the reference has nothing for a feature.
    """
    out: dict[str, object] = {}
    groups = dict(tuple(reference.groupby("variable", sort=False))) if len(reference) else {}
    for name in features:
        group = groups.get(name)
        kind = template_for(name).kind
        if group is None:
            out[name] = None if kind == "category" else float("nan")
        elif kind == "category" or (group["bin_type"] == "category").any():
            out[name] = _mode(group)
        elif kind == "flag":
            out[name] = _share_of_ones(group)
        else:
            out[name] = _median_from_bins(group)
    return out
