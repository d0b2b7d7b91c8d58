"""Monitoring of the PD level on matured cohorts, and the data of a recalibration (issue 9).

Pure functions: the pipeline reads the tables and the bundle, these compute.

* :func:`matured_table`: the modelling table rows whose outcome (``snapshots.horizon_months``) has
  matured by an as-of date (``snapshot + horizon <= as_of``); their labels read
  defaults up to ``snapshot + horizon`` only, so nothing after the as-of date.
* :func:`monitor_cohorts`: for every matured cohort, realised against predicted
  default rate per grade and industry with traffic lights (the backtest of
  :mod:`riskmodel.evaluation.backtest`), and an alert when the cohort's default
  rate leaves the band of its mean PD: yellow when it is more than
  ``calibration.central_tendency_band`` (relative) off or outside the 95% Vasicek
  default-rate interval, red outside the 99.9% interval.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.config import Settings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.evaluation.backtest import RED_AT, YELLOW_AT, run_backtest, vasicek_quantile, worst_light
from riskmodel.exceptions import NoDataError
from riskmodel.models.central_tendency import matured


def matured_table(tables: Tables, settings: Settings, as_of: dt.date | pd.Timestamp) -> pd.DataFrame:
    """Modelling-table rows (features, portfolio features, label) of the cohorts matured by ``as_of``."""
    from riskmodel.features.build import build_modelling_table

    snaps = settings.snapshots
    end = min(pd.Timestamp(snaps.end), pd.Timestamp(as_of) - pd.DateOffset(months=snaps.horizon_months))
    if end < pd.Timestamp(snaps.start):
        raise NoDataError(f"no snapshot of the grid ({snaps.start}..{snaps.end}) has a {snaps.horizon_months}-month "
                          f"outcome matured by {pd.Timestamp(as_of).date()}; choose an --as-of at least "
                          f"{snaps.horizon_months} months after {snaps.start}")
    grid = snaps.model_copy(update={"end": end.date()})
    table = build_modelling_table(tables, grid, settings.features, allow_partial_labels=True)
    keep = matured(table[S.SNAPSHOT_DATE].to_numpy(), as_of, snaps.horizon_months)
    return table[keep].reset_index(drop=True)


def calibration_table(tables: Tables, settings: Settings,
                      as_of: dt.date | pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows ``recalibrate`` may learn the level from at ``as_of``, and their first default dates.

    Matured cohorts, plus (with ``calibration.develop_immature``) the cohorts observed for
    at least ``calibration.min_months_observed`` months.  What ``as_of`` cannot know is
    removed here, not only ignored later: the label of an immature row is set to 0 (its
    outcome is open) and every default date on or after ``as_of`` becomes NaT.
    """
    from riskmodel.features.build import build_modelling_table
    from riskmodel.features.labels import first_default_dates

    cal, snaps = settings.calibration, settings.snapshots
    if not cal.develop_immature:
        table = matured_table(tables, settings, as_of)
    else:
        # past the training grid's end too: a cohort is evidence once it is min_months_observed old
        if pd.Timestamp(snaps.start) + pd.DateOffset(months=snaps.horizon_months) > pd.Timestamp(as_of):
            raise NoDataError(f"no snapshot of the grid ({snaps.start}..{snaps.end}) has a {snaps.horizon_months}-month "
                              f"outcome matured by {pd.Timestamp(as_of).date()}; choose an --as-of at least "
                              f"{snaps.horizon_months} months after {snaps.start}")
        table = build_modelling_table(tables, snaps.model_copy(update={"end": pd.Timestamp(as_of).date()}),
                                      settings.features, allow_partial_labels=True)
        table = table[matured(table[S.SNAPSHOT_DATE].to_numpy(), as_of, cal.min_months_observed)].reset_index(drop=True)
        open_ = ~matured(table[S.SNAPSHOT_DATE].to_numpy(), as_of, snaps.horizon_months)
        table.loc[open_, S.label_name(snaps.horizon_months)] = 0  # not known at as_of; fit_central_tendency reads matured labels only
    first = first_default_dates(tables, table)
    first[first >= np.datetime64(pd.Timestamp(as_of).date(), "D")] = np.datetime64("NaT")
    return table, first


def band(mean_pd: float, rho: float) -> dict[str, float]:
    """The central-tendency band of a cohort: Vasicek default-rate quantiles around its mean PD."""
    return {"low_999": vasicek_quantile(mean_pd, rho, 1 - RED_AT), "low_95": vasicek_quantile(mean_pd, rho, 1 - YELLOW_AT),
            "high_95": vasicek_quantile(mean_pd, rho, YELLOW_AT), "high_999": vasicek_quantile(mean_pd, rho, RED_AT)}


def monitor_cohorts(y: np.ndarray, p: np.ndarray, snapshot: np.ndarray, industry: np.ndarray | None,
                    settings: Settings, as_of: Any, model: dict[str, Any], train_end: Any = None) -> dict[str, Any]:
    """The monitoring document: per matured cohort a backtest, the band and an alert; an overall status.

    A cohort's ``light`` is its central-tendency alert; ``grade_light`` the worst per-grade light of its
    backtest (informative: cohorts of the training period, ``in_training_period``, are scored in sample).
    """
    rho = settings.calibration.asset_correlation
    snap = pd.to_datetime(pd.Series(snapshot)).dt.date.astype(str).to_numpy()
    cohorts = []
    for s in sorted(set(snap)):
        m = snap == s
        bt = run_backtest(y[m], p[m], settings.master_scale, rho,
                          industry=None if industry is None else industry[m], bins=settings.evaluation.calibration_bins,
                          philosophy=(model or {}).get("rating_philosophy"))
        o = bt["overall"]
        b = band(o["mean_pd"], rho)
        dr = o["observed_rate"]
        out_999 = dr > b["high_999"] or dr < b["low_999"]
        tol = settings.calibration.central_tendency_band
        off = abs(dr / o["mean_pd"] - 1.0) > tol if o["mean_pd"] > 0 else dr > 0
        alert = "red" if out_999 else "yellow" if off or dr > b["high_95"] or dr < b["low_95"] else "green"
        cohorts.append({
            "snapshot_date": s, "n": o["n"], "defaults": o["defaults"], "observed_rate": dr, "mean_pd": o["mean_pd"],
            "band": {**b, "relative_tolerance": tol}, "central_tendency_alert": alert, "light": alert,
            "grade_light": bt["light"], "decisive_test": bt["decisive_test"],
            "in_training_period": bool(train_end is not None and pd.Timestamp(s) <= pd.Timestamp(train_end)),
            "by_grade": bt["by_grade"], "by_industry": bt.get("by_industry", []),
            "hosmer_lemeshow": bt["hosmer_lemeshow"],
        })
    flagged = [c["snapshot_date"] for c in cohorts if c["light"] != "green"]
    graded = [c["snapshot_date"] for c in cohorts if c["grade_light"] != "green" and not c["in_training_period"]]
    status = worst_light(c["light"] for c in cohorts)
    return {
        "as_of": str(pd.Timestamp(as_of).date()), "model": model, "asset_correlation": rho,
        "horizon_months": settings.snapshots.horizon_months, "status": status, "flagged_cohorts": flagged,
        "summary": (f"{len(flagged)} of {len(cohorts)} matured cohorts outside their central-tendency band: "
                    f"{', '.join(flagged)}" if flagged else f"all {len(cohorts)} matured cohorts within their band")
                   + (f"; out-of-sample cohorts with a yellow or red grade: {', '.join(graded)}" if graded else ""),
        "cohorts_with_grade_alerts": graded,
        "cohorts": cohorts,
    }
