"""Central-tendency calibration: the PD level for the declared rating philosophy (issue 9).

The learned models rank customers; this step sets the *level* of their PDs
from outcomes observed by an as-of date and never later: a cohort (snapshot) s
is usable only when its whole horizon has matured, ``s + horizon <= as_of``.

* ``point_in_time``: a logistic regression of the matured outcomes on the
  model's log-odds (out-of-fold on the training rows) and the portfolio
  indicators known at the snapshot (``calibration.covariates``, e.g. the share of
  the industry's receivables past due).  The slope on the log-odds is positive,
  so within a cohort and segment the ranking is the model's; the covariates move
  the level with the ledger's stress, which rises months before the defaults of
  a downturn mature.
* ``through_the_cycle``: one log-odds shift that makes the mean PD of the usable
  rows equal the long-run average default rate, the average of the cohort
  default rates (every matured cohort, the worst one included).  The ranking is
  the model's everywhere.
* ``hybrid``: ``w`` x point in time + (1 - w) x through the cycle, on log-odds.

``margin_of_conservatism`` is then added to every log-odds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from riskmodel.config import CalibrationSettings

EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS))


def matured(snapshots: Any, as_of: dt.date | pd.Timestamp, horizon_months: int) -> np.ndarray:
    """True for rows whose outcome has matured by ``as_of``: ``snapshot + horizon <= as_of``."""
    s = pd.to_datetime(pd.Series(np.asarray(snapshots)))
    return ((s + pd.DateOffset(months=horizon_months)) <= pd.Timestamp(as_of)).to_numpy()


@dataclass
class CentralTendency:
    """A fitted central-tendency calibration; JSON-serialisable with :meth:`to_dict`."""

    philosophy: str
    as_of: str
    horizon_months: int
    covariates: list[str]
    intercept: float = 0.0
    slope: float = 1.0
    coef: list[float] = field(default_factory=list)
    center: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    ttc_shift: float = 0.0
    hybrid_weight: float = 0.5
    margin: float = 0.0
    long_run_default_rate: float = float("nan")
    cohorts: list[str] = field(default_factory=list)
    cohort_default_rates: list[float] = field(default_factory=list)
    n_rows: int = 0

    def _pit(self, lo: np.ndarray, cov: pd.DataFrame | None) -> np.ndarray:
        z = self.intercept + self.slope * lo
        if self.covariates:
            if cov is None or any(c not in cov.columns for c in self.covariates):
                missing = [c for c in self.covariates if cov is None or c not in cov.columns]
                raise ValueError(f"point-in-time calibration needs the covariates {missing}")
            X = cov[self.covariates].to_numpy(dtype=float)
            X = np.where(np.isnan(X), np.asarray(self.center), X)  # unknown: the training average
            z = z + ((X - np.asarray(self.center)) / np.asarray(self.scale)) @ np.asarray(self.coef)
        return z

    def apply(self, pd_model: np.ndarray, cov: pd.DataFrame | None = None) -> np.ndarray:
        """The calibrated PDs of the model PDs ``pd_model`` (covariates in ``cov`` for point in time)."""
        lo = _logit(pd_model)
        if self.philosophy == "through_the_cycle":
            z = lo + self.ttc_shift
        elif self.philosophy == "point_in_time":
            z = self._pit(lo, cov)
        else:
            w = self.hybrid_weight
            z = w * self._pit(lo, cov) + (1 - w) * (lo + self.ttc_shift)
        return expit(z + self.margin)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the bundle manifest's ``central_tendency``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CentralTendency":
        """Inverse of :meth:`to_dict`."""
        return cls(**d)

    def describe(self) -> str:
        """One sentence for reports and the model card."""
        text = (f"{self.philosophy.replace('_', ' ')}, fitted on {self.n_rows:,} rows of {len(self.cohorts)} cohorts "
                f"matured by {self.as_of}; long-run default rate {self.long_run_default_rate:.2%}")
        if self.philosophy != "through_the_cycle" and self.covariates:
            text += "; covariates " + ", ".join(f"{c} ({b:+.3f} per s.d.)" for c, b in zip(self.covariates, self.coef))
        if self.margin:
            text += f"; margin of conservatism {self.margin:+.2f} log-odds"
        return text


def fit_central_tendency(pd_model: np.ndarray, y: np.ndarray, snapshots: Any, cov: pd.DataFrame | None,
                         settings: CalibrationSettings, horizon_months: int,
                         as_of: dt.date | pd.Timestamp) -> CentralTendency:
    """Fit the level on the rows whose outcome matured by ``as_of`` (later outcomes are never read).

    Parameters
    ----------
    pd_model : the model's PDs of the rows (out of fold where the model was fitted on them).
    y : 0/1 outcomes; only those of matured rows are used.
    snapshots : snapshot date of each row.
    cov : the rows' covariates (``settings.covariates`` columns), for point in time and hybrid.
    settings : philosophy, covariates, margin, regularisation.
    horizon_months, as_of : a row is usable when ``snapshot + horizon <= as_of``.
    """
    p = np.asarray(pd_model, dtype=float)
    use = matured(snapshots, as_of, horizon_months)
    if not use.any():
        raise ValueError(f"no cohort has matured by {pd.Timestamp(as_of).date()} (horizon {horizon_months} months)")
    y_u = np.asarray(y)[use].astype(int)
    if len(np.unique(y_u)) < 2:
        raise ValueError("the matured rows hold one class only: the PD level cannot be estimated")
    lo_u = _logit(p[use])
    snaps = pd.to_datetime(pd.Series(np.asarray(snapshots)[use])).dt.date.astype(str).to_numpy()
    rates = pd.Series(y_u).groupby(snaps).mean()
    lr = float(rates.mean())
    shift = float(optimize.brentq(lambda d: float(expit(lo_u + d).mean()) - lr, -10.0, 10.0))
    ct = CentralTendency(
        philosophy=settings.philosophy, as_of=str(pd.Timestamp(as_of).date()), horizon_months=horizon_months,
        covariates=[], ttc_shift=shift, hybrid_weight=settings.hybrid_weight, margin=settings.margin_of_conservatism,
        long_run_default_rate=lr, cohorts=list(rates.index), cohort_default_rates=[float(v) for v in rates],
        n_rows=int(use.sum()),
    )
    if settings.philosophy == "through_the_cycle":
        return ct
    covs = list(settings.covariates)
    parts = [lo_u[:, None]]
    if covs:
        if cov is None or any(c not in cov.columns for c in covs):
            raise ValueError(f"point-in-time calibration needs the covariates {covs}")
        X = cov[covs].to_numpy(dtype=float)[use]
        center = np.nanmean(X, axis=0)
        X = np.where(np.isnan(X), center, X)
        scale = X.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        parts.append((X - center) / scale)
        ct.covariates, ct.center, ct.scale = covs, center.tolist(), scale.tolist()
    Z = np.hstack(parts)
    reg = LogisticRegression(C=settings.regularisation_C, max_iter=1000).fit(Z, y_u)
    ct.intercept = float(reg.intercept_[0])
    ct.slope = float(reg.coef_[0, 0])
    ct.coef = [float(b) for b in reg.coef_[0, 1:]]
    if ct.slope <= 0:
        raise ValueError(f"the calibration slope on the model's log-odds is {ct.slope:.3f} <= 0: the model does "
                         "not rank the matured rows; refusing a calibration that would reverse the ranking")
    return ct
