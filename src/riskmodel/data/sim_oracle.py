"""The simulator's oracle: the true 12-month default probability of each customer at each quarter end.

How it is computed (exactly the process that generated the defaults):

* At a quarter end ``t`` (end of month ``m0``) take every customer onboarded
  strictly before ``t`` and not in default at ``t`` (no default on or before
  ``t``; the feature builder's population), with its true state at ``t``:
  its latent quality ``q`` and whether it is healthy (H) or stressed (S).
* The systematic factors (macro downturn, industry stress and noise) are taken
  as realised: the oracle conditions on the scenario, so its average matches
  the default rate of each period.
* The idiosyncratic future is integrated out: ``n_paths`` future paths of
  ``q`` over months ``m0+1 .. m0+12`` are drawn from the same AR(1) (antithetic
  pairs).  Along each path the H/S/D chain's state probabilities are propagated
  exactly with the monthly transition probabilities of
  :func:`riskmodel.data.sim_world.transition_probs`; the path's PD is the
  probability mass that reached D.  ``true_pd_12m`` is the mean over paths
  (a Rao-Blackwellised Monte Carlo estimate of P(default in (t, t + 12 months]));
  with 16 paths its Monte Carlo error is about 1.5% of the PD (median), 7% at the 95th percentile.
  The paths are computed in single precision, which changes PDs by far less than that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.sim_frames import take_ids, to_dates
from riskmodel.data.sim_world import (
    HEALTHY,
    HORIZON_MONTHS,
    Calendar,
    History,
    Population,
    SimParams,
    Systematic,
    step_quality,
    transition_probs,
)
from riskmodel.exceptions import ConfigError

ORACLE_HORIZON_MONTHS = HORIZON_MONTHS  # the horizon every oracle PD is computed for


def oracle_horizon_refusal(horizon_months: int) -> str | None:
    """Why the oracle cannot be compared with labels of ``horizon_months`` (None when it can).

    The oracle holds ``ORACLE_HORIZON_MONTHS``-month PDs; against labels of another horizon it
    would be a wrong benchmark, so it is refused rather than reported.
    """
    if horizon_months == ORACLE_HORIZON_MONTHS:
        return None
    return (f"the simulator's oracle holds {ORACLE_HORIZON_MONTHS}-month PDs and cannot be compared with "
            f"{horizon_months}-month labels (snapshots.horizon_months)")


def check_oracle_horizon(horizon_months: int) -> None:
    """Raise ConfigError when the oracle was not computed for ``horizon_months``."""
    refusal = oracle_horizon_refusal(horizon_months)
    if refusal:
        raise ConfigError(refusal)


def oracle_pd(
    pop: Population,
    cal: Calendar,
    sysm: Systematic,
    hist: History,
    p: SimParams,
    customer_ids: pd.Series,
    rng: np.random.Generator,
    n_paths: int = 16,
    chunk: int = 4096,
) -> pd.DataFrame:
    """True 12-month PD per (customer_id, snapshot_date) at every quarter end of the period."""
    half = max(1, n_paths // 2)
    ids, dates, pds = [], [], []
    for m0 in cal.quarter_end_months():
        t = cal.month_start[m0 + 1] - 1
        alive = (pop.onboarded_day < t) & ((hist.default_day < 0) | (hist.default_day > t))
        idx = np.flatnonzero(alive)
        # chunks of customers keep the temporaries in cache
        for lo in range(0, len(idx), chunk):
            part = idx[lo : lo + chunk]
            pds.append(_pd_12m(pop, cal, sysm, hist, p, part, m0, half, rng))
        ids.append(idx)
        dates.append(np.full(len(idx), t, dtype=np.int64))
    idx_all = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    return pd.DataFrame({
        S.CUSTOMER_ID: take_ids(customer_ids, idx_all),
        S.SNAPSHOT_DATE: to_dates(np.concatenate(dates) if dates else np.zeros(0, dtype=np.int64)),
        S.TRUE_PD: np.clip(np.concatenate(pds) if pds else np.zeros(0), 0.0, 1.0),
    })


def _pd_12m(
    pop: Population, cal: Calendar, sysm: Systematic, hist: History, p: SimParams,
    idx: np.ndarray, m0: int, half: int, rng: np.random.Generator,
) -> np.ndarray:
    """P(default in months m0+1 .. m0+12) for customers ``idx``, averaged over 2 * half antithetic paths."""
    f4 = np.float32  # single precision halves the memory traffic; PDs are averaged in double
    ind = pop.industry[idx]
    mu = pop.mu[idx, None].astype(f4)
    er_u, cr_v = pop.er_u[idx, None].astype(f4), pop.cr_v[idx, None].astype(f4)
    size_z = pop.size_z[idx, None].astype(f4)
    mgmt = pop.mgmt[idx, None].astype(f4)
    fraud = pop.fraud[idx, None]
    q = np.repeat(hist.q[idx, m0][:, None].astype(f4), 2 * half, axis=1)
    p_h = np.repeat((hist.state[idx, m0] == HEALTHY).astype(f4)[:, None], 2 * half, axis=1)
    p_s = f4(1.0) - p_h
    p_d = np.zeros_like(p_h)
    for j in range(1, HORIZON_MONTHS + 1):
        m = m0 + j
        e = rng.standard_normal((len(idx), half), dtype=f4)
        q = step_quality(p, q, mu, np.concatenate([e, -e], axis=1))
        age = ((cal.month_start[m] + 15 - pop.founded_day[idx]) / 365.25).astype(f4)[:, None]
        on_book = (m - pop.onboard_month[idx])[:, None]
        p_hd, p_hs, p_sd, p_sh = transition_probs(
            p, q, sysm.shift[ind, m][:, None].astype(f4), sysm.stress[ind, m][:, None].astype(f4), er_u, cr_v,
            age, size_z, fraud, on_book, mgmt,
        )
        p_d += p_h * p_hd + p_s * p_sd
        p_h, p_s = p_h * (1 - p_hd - p_hs) + p_s * p_sh, p_h * p_hs + p_s * (1 - p_sd - p_sh)
    return p_d.mean(axis=1, dtype=np.float64)
