"""Learning curve: test AUC of the learned models against the share of training customers (issue 13.4).

An analyst asks whether more history would help more than a better model. Each learned
model is refitted, with its own (selected) shape, on a random share of the training
*customers* (all snapshots of a drawn customer kept; the draws are nested, so the 25%
are inside the 50%) and scored on the same test rows. The 100% point is the trained
model itself. Calibration is left out of the refits when it is sigmoid (a monotone map:
the AUC is the same), which saves the calibration folds' fits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from riskmodel.evaluation.metrics import auc

log = logging.getLogger(__name__)

#: a gain of the full base over half of it above this is called "still rising"
RISING = 0.005


def learning_curve(result: Any, groups: np.ndarray, shares: Sequence[float], seed: int = 0,
                   skip: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per share (ascending, 1.0 last): share, customers, rows, ``auc_<model>`` per learned model.

    ``result`` is a :class:`riskmodel.training.TrainResult`; ``groups`` the customer of
    each of its training rows; ``skip`` names models left out (the baselines).
    """
    groups = np.asarray(groups).astype(str)
    if len(groups) != len(result.y_train):
        raise ValueError(f"groups has {len(groups)} values for {len(result.y_train)} training rows")
    customers = np.unique(groups)
    order = np.random.default_rng(seed).permutation(customers)
    names = [n for n in result.models if n not in set(skip)]
    X_tr = result.X_train[result.features]
    X_te = result.X_test[result.features]
    rows: list[dict[str, Any]] = []
    for share in sorted(s for s in shares if 0 < s < 1):
        n_c = max(1, int(round(share * len(customers))))
        mask = np.isin(groups, order[:n_c])
        y = result.y_train[mask]
        row: dict[str, Any] = {"share": float(share), "customers": n_c, "rows": int(mask.sum()),
                               "defaults": int(y.sum())}
        for name in names:
            est = clone(result.models[name].estimator)
            params = est.get_params()
            if params.get("calibration") == "sigmoid":
                est.set_params(calibration="none")
            if "on_violation" in params:  # a curve point is a diagnostic, not a shipped model
                est.set_params(on_violation="warn")
            try:
                est.fit(X_tr[mask], y, groups=groups[mask])
                row[f"auc_{name}"] = auc(result.y_test, est.predict_proba(X_te)[:, 1])
            except (ValueError, RuntimeError) as err:  # e.g. one class only in a small share
                log.warning("learning curve: %s on %.0f%% of the customers failed: %s", name, 100 * share, err)
                row[f"auc_{name}"] = float("nan")
        rows.append(row)
        log.info("learning curve: %.0f%% of the customers (%d rows) done", 100 * share, mask.sum())
    full: dict[str, Any] = {"share": 1.0, "customers": int(len(customers)), "rows": int(len(groups)),
                            "defaults": int(result.y_train.sum())}
    for name in names:
        full[f"auc_{name}"] = auc(result.y_test, result.models[name].estimator.predict_proba(X_te)[:, 1])
    rows.append(full)
    return rows


def curve_verdict(rows: Sequence[dict[str, Any]], model: str) -> str:
    """One sentence: does the curve of ``model`` still rise between half and all of the customers?"""
    key = f"auc_{model}"
    half = [r for r in rows if r["share"] < 1 and abs(r["share"] - 0.5) < 0.13 and np.isfinite(r.get(key, np.nan))]
    full = rows[-1].get(key, np.nan)
    if not half or not np.isfinite(full):
        return "The curve has no point near half of the customers; no verdict."
    gain = full - half[-1][key]
    if gain > RISING:
        return (f"Doubling the customers from {half[-1]['share']:.0%} to all raised the test AUC by {gain:+.3f}: "
                "the curve is still rising, so more history is likely to help.")
    return (f"Doubling the customers from {half[-1]['share']:.0%} to all moved the test AUC by {gain:+.3f}: "
            "the curve is flat, so more of the same history would add little; better evidence "
            "(new features) would help more than more rows. One random draw of customers: differences of a "
            "few thousandths are noise.")
