"""Univariate predictive power of each feature (AUC and information value), by family and C."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from riskmodel.evaluation.metrics import auc


def _iv(x: pd.Series, y: np.ndarray, bins: int) -> float:
    """Information value with quantile bins, a separate bin for missing, and 0.5 smoothing."""
    if isinstance(x.dtype, pd.CategoricalDtype):
        codes = x.cat.codes.to_numpy()
    else:
        v = x.to_numpy(dtype=float)
        finite = ~np.isnan(v)
        codes = np.full(len(v), -1)
        if finite.any():
            edges = np.unique(np.nanquantile(v[finite], np.linspace(0, 1, bins + 1)[1:-1]))
            codes[finite] = np.searchsorted(edges, v[finite], side="right")
    df = pd.DataFrame({"b": codes, "y": y})
    g = df.groupby("b")["y"].agg(["sum", "count"])
    bad = g["sum"] + 0.5
    good = g["count"] - g["sum"] + 0.5
    pb, pg = bad / bad.sum(), good / good.sum()
    return float(((pb - pg) * np.log(pb / pg)).sum())


def feature_power(
    table: pd.DataFrame,
    label: str,
    features: Sequence[str],
    info: Mapping[str, object] | None = None,
    bins: int = 10,
) -> pd.DataFrame:
    """AUC (orientation-free: max(AUC, 1 - AUC)), direction and IV of each feature against ``label``.

    Missing values rank as the median for the AUC and get their own bin for
    the IV.  ``info`` (e.g. ``riskmodel.features.dictionary.FEATURES``) adds the
    family and C of each feature.  Sorted by AUC, best first.
    """
    y = table[label].to_numpy().astype(int)
    rows = []
    for f in features:
        x = table[f]
        if isinstance(x.dtype, pd.CategoricalDtype):
            rate = pd.Series(y).groupby(x.cat.codes.to_numpy()).transform("mean").to_numpy()
            score = rate
        else:
            v = x.to_numpy(dtype=float)
            med = np.nanmedian(v) if np.isfinite(v).any() else 0.0
            score = np.where(np.isnan(v), med, v)
        a = auc(y, score) if np.unique(score).size > 1 else 0.5
        row = {"feature": f, "auc": max(a, 1 - a), "direction": "raises PD" if a >= 0.5 else "lowers PD",
               "iv": _iv(x, y, bins), "missing_share": float(x.isna().mean())}
        if info is not None and f in info:
            row["family"] = getattr(info[f], "family", None)
            row["c"] = getattr(info[f], "c", None)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("auc", ascending=False, ignore_index=True)
