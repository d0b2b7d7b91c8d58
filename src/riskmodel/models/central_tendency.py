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

**Immature cohorts** (``calibration.develop_immature``).  A cohort whose horizon
has not ended by ``as_of`` is not ignored: the defaults it has *recorded before
``as_of``* are evidence of the current default rate, the freshest there is at the
start of a downturn.  Each row with at least ``min_months_observed`` months
observed enters with its censored outcome (default recorded before ``as_of``)
and the probability ``F(e) x PD``, where ``F(e)`` is the development pattern:
the share of a matured cohort's defaults that fall within the first ``e`` of its
horizon, estimated on the matured cohorts (the chain-ladder idea of loss
triangles; Basel's 12-month default rate is the fully developed cohort rate).
Outcomes the data records after ``as_of`` are never read.
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
GRID = 12  # points of the development pattern over the horizon (monthly for 12 months)


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS))


def matured(snapshots: Any, as_of: dt.date | pd.Timestamp, horizon_months: int) -> np.ndarray:
    """True for rows whose outcome has matured by ``as_of``: ``snapshot + horizon <= as_of``."""
    s = pd.to_datetime(pd.Series(np.asarray(snapshots)))
    return ((s + pd.DateOffset(months=horizon_months)) <= pd.Timestamp(as_of)).to_numpy()


def observed_by(snapshots: Any, first_default: Any, as_of: dt.date | pd.Timestamp,
                horizon_months: int) -> tuple[np.ndarray, np.ndarray]:
    """What ``as_of`` knows of each row's outcome.

    Returns the share of the row's horizon elapsed by ``as_of`` (0 to 1) and whether
    its first default (``first_default``, NaT when none) falls in the horizon and
    was recorded strictly before ``as_of``.
    """
    s = pd.to_datetime(pd.Series(np.asarray(snapshots)))
    end = s + pd.DateOffset(months=horizon_months)
    a = pd.Timestamp(as_of)
    frac = ((a - s).dt.days / (end - s).dt.days).clip(0.0, 1.0).to_numpy(dtype=float)
    fd = pd.to_datetime(pd.Series(np.asarray(first_default)))
    seen = (fd.notna() & (fd > s) & (fd <= end) & (fd < a)).to_numpy()
    return frac, seen


def development_pattern(snapshots: Any, first_default: Any, y: np.ndarray, horizon_months: int) -> np.ndarray:
    """F at k/GRID of the horizon (k = 0..GRID): the share of matured defaults recorded by then.

    Estimated on matured rows with ``y == 1`` (their default dates are all known);
    without any, a constant hazard is assumed (F linear), which a validator reads
    in the manifest.
    """
    s = pd.to_datetime(pd.Series(np.asarray(snapshots)))
    fd = pd.to_datetime(pd.Series(np.asarray(first_default)))
    end = s + pd.DateOffset(months=horizon_months)
    hit = (np.asarray(y) == 1) & fd.notna().to_numpy()
    grid = np.linspace(0.0, 1.0, GRID + 1)
    if not hit.any():
        return grid
    t = ((fd - s).dt.days / (end - s).dt.days).to_numpy(dtype=float)[hit]
    F = (t[None, :] <= grid[:, None] + 1e-12).mean(axis=1)
    F[-1] = 1.0
    return F


def _develop(frac: np.ndarray, pattern: Any) -> np.ndarray:
    """F(frac) by linear interpolation of the pattern; at least 1% so a censored row keeps some weight."""
    return np.clip(np.interp(frac, np.linspace(0.0, 1.0, len(pattern)), np.asarray(pattern, dtype=float)), 0.01, 1.0)


def fit_censored_logit(Z: np.ndarray, d: np.ndarray, F: np.ndarray, C: float) -> tuple[float, np.ndarray]:
    """Logistic regression of partly observed outcomes: ``P(d = 1) = F x expit(b0 + Z b)``.

    The likelihood of the discrete-time development model; ``F = 1`` everywhere is the
    plain logistic regression with scikit-learn's L2 penalty ``|b|^2 / (2 C)`` (the
    intercept unpenalised), which the tests check against ``LogisticRegression``.
    Returns the intercept and the coefficients.
    """
    Z = np.asarray(Z, dtype=float)
    d = np.asarray(d, dtype=float)
    F = np.asarray(F, dtype=float)
    X = np.hstack([np.ones((len(Z), 1)), Z])

    def nll(b: np.ndarray) -> tuple[float, np.ndarray]:
        p = expit(X @ b)
        q = np.clip(F * p, 1e-12, 1 - 1e-12)
        ll = d * np.log(q) + (1 - d) * np.log1p(-q)
        g = (d / q - (1 - d) / (1 - q)) * F * p * (1 - p)
        grad = -(X.T @ g)
        grad[1:] += b[1:] / C
        return float(-ll.sum() + 0.5 * (b[1:] @ b[1:]) / C), grad

    b0 = np.zeros(X.shape[1])
    b0[0] = float(_logit(np.array([max(d.mean(), EPS)]))[0])
    res = optimize.minimize(nll, b0, jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-8})
    return float(res.x[0]), res.x[1:]


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
    developed_cohorts: list[str] = field(default_factory=list)
    developed_default_rates: list[float] = field(default_factory=list)
    developed_months_observed: list[float] = field(default_factory=list)
    development: list[float] = field(default_factory=list)
    n_immature_rows: int = 0

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
                f"matured by {self.as_of}")
        if self.developed_cohorts:
            text += (f" and {self.n_immature_rows:,} rows of {len(self.developed_cohorts)} immature cohorts "
                     "(defaults recorded by then, developed to the horizon: "
                     + ", ".join(f"{c} {r:.2%} from {m:.0f} months" for c, r, m in zip(
                         self.developed_cohorts, self.developed_default_rates, self.developed_months_observed)) + ")")
        text += f"; long-run default rate {self.long_run_default_rate:.2%}"
        if self.philosophy != "through_the_cycle" and self.covariates:
            text += "; covariates " + ", ".join(f"{c} ({b:+.3f} per s.d.)" for c, b in zip(self.covariates, self.coef))
        if self.margin:
            text += f"; margin of conservatism {self.margin:+.2f} log-odds"
        return text


def fit_central_tendency(pd_model: np.ndarray, y: np.ndarray, snapshots: Any, cov: pd.DataFrame | None,
                         settings: CalibrationSettings, horizon_months: int,
                         as_of: dt.date | pd.Timestamp, first_default: Any = None) -> CentralTendency:
    """Fit the level on the outcomes known by ``as_of`` (later outcomes are never read).

    Parameters
    ----------
    pd_model : the model's PDs of the rows (out of fold where the model was fitted on them).
    y : 0/1 outcomes; only those of matured rows are read.
    snapshots : snapshot date of each row.
    cov : the rows' covariates (``settings.covariates`` columns), for point in time and hybrid.
    settings : philosophy, covariates, margin, regularisation, development of immature cohorts.
    horizon_months, as_of : a row is matured when ``snapshot + horizon <= as_of``.
    first_default : each row's customer's first default date (NaT when none). With it and
        ``settings.develop_immature``, rows of immature cohorts observed for at least
        ``settings.min_months_observed`` months enter with the defaults recorded before
        ``as_of`` (see the module docstring); without it only matured rows are used.
    """
    p = np.asarray(pd_model, dtype=float)
    snaps_all = np.asarray(snapshots)
    use = matured(snaps_all, as_of, horizon_months)
    if not use.any():
        raise ValueError(f"no cohort has matured by {pd.Timestamp(as_of).date()} (horizon {horizon_months} months)")
    y_m = np.asarray(y)[use].astype(int)
    if len(np.unique(y_m)) < 2:
        raise ValueError("the matured rows hold one class only: the PD level cannot be estimated")
    develop = first_default is not None and settings.develop_immature
    imm = np.zeros(len(p), dtype=bool)
    F_all = np.ones(len(p))
    frac = np.ones(len(p))
    d_all = np.zeros(len(p), dtype=int)
    pattern = np.array([])
    if develop:
        frac, seen = observed_by(snaps_all, first_default, as_of, horizon_months)
        fd = np.asarray(first_default)
        pattern = development_pattern(snaps_all[use], fd[use], y_m, horizon_months)
        imm = ~use & matured(snaps_all, as_of, settings.min_months_observed)  # at least that many months old
        F_all[imm] = _develop(frac[imm], pattern)
        d_all[imm] = seen[imm]
    d_all[use] = y_m
    rows = use | imm
    F_u, d_u, lo_u = F_all[rows], d_all[rows], _logit(p[rows])
    snap_str = pd.to_datetime(pd.Series(snaps_all)).dt.date.astype(str).to_numpy()
    rates = pd.Series(y_m).groupby(snap_str[use]).mean()
    dev = pd.DataFrame({"s": snap_str[imm], "d": d_all[imm], "F": F_all[imm], "e": frac[imm]}).groupby("s").agg(
        d=("d", "mean"), F=("F", "mean"), e=("e", "mean"))
    dev_rates = (dev["d"] / dev["F"]).clip(upper=1.0)
    lr = float(pd.concat([rates, dev_rates]).mean())
    # the through-the-cycle shift puts the mean PD, over the rows used, at the long-run rate
    shift = float(optimize.brentq(lambda t: float(expit(lo_u + t).mean()) - lr, -10.0, 10.0))
    months = [round(float(e) * horizon_months, 1) for e in dev["e"]]
    ct = CentralTendency(
        philosophy=settings.philosophy, as_of=str(pd.Timestamp(as_of).date()), horizon_months=horizon_months,
        covariates=[], ttc_shift=shift, hybrid_weight=settings.hybrid_weight, margin=settings.margin_of_conservatism,
        long_run_default_rate=lr, cohorts=list(rates.index), cohort_default_rates=[float(v) for v in rates],
        n_rows=int(use.sum()), developed_cohorts=list(dev.index), developed_default_rates=[float(v) for v in dev_rates],
        developed_months_observed=months, development=[float(v) for v in pattern], n_immature_rows=int(imm.sum()),
    )
    if settings.philosophy == "through_the_cycle":
        return ct
    covs = list(settings.covariates)
    parts = [lo_u[:, None]]
    if covs:
        if cov is None or any(c not in cov.columns for c in covs):
            raise ValueError(f"point-in-time calibration needs the covariates {covs}")
        X = cov[covs].to_numpy(dtype=float)[rows]
        center = np.nanmean(X, axis=0)
        X = np.where(np.isnan(X), center, X)
        scale = X.std(axis=0)
        scale = np.where(scale > 1e-9 * np.maximum(np.abs(center), 1.0), scale, 1.0)  # constant: left as is
        parts.append((X - center) / scale)
        ct.covariates, ct.center, ct.scale = covs, center.tolist(), scale.tolist()
    Z = np.hstack(parts)
    if imm.any():
        b0, b = fit_censored_logit(Z, d_u, F_u, settings.regularisation_C)
    else:
        reg = LogisticRegression(C=settings.regularisation_C, max_iter=1000).fit(Z, d_u)
        b0, b = float(reg.intercept_[0]), reg.coef_[0]
    ct.intercept, ct.slope, ct.coef = float(b0), float(b[0]), [float(v) for v in b[1:]]
    if ct.slope <= 0:
        raise ValueError(f"the calibration slope on the model's log-odds is {ct.slope:.3f} <= 0: the model does "
                         "not rank the matured rows; refusing a calibration that would reverse the ranking")
    return ct
