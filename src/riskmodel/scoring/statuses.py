"""Row statuses: scored, in default, not yet onboarded, or onboarded with nothing to judge.

``scored``; ``in_default`` (the customer's first default is on or before the date: grade D,
PD 1, the default grade's policy); ``not_yet_onboarded`` (opened after the date);
``no_activity`` (onboarded but nothing to judge: no invoice in the last 24 months, nothing
open, no financial statement and no visit in the last 24 months).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from riskmodel.features import names as N
from riskmodel.features.build import POPULATION_STATUS
from riskmodel.scoring.columns import IN_DEFAULT, NO_ACTIVITY, NOT_YET_ONBOARDED, SCORED

# no_activity: every one of these is zero (or missing) for an onboarded customer
ACTIVITY_FEATURES: tuple[str, ...] = (N.pay_n_invoices(24), N.PAY_OPEN_AMOUNT, N.FIN_HAS_STATEMENT,
                                      N.VIS_N_VISITS_24M)


def row_statuses(frame: pd.DataFrame, M: np.ndarray | None, pos: Mapping[str, int],
                 activity_known: np.ndarray | None = None) -> np.ndarray:
    """Status of every row (see the module docstring).

    ``M`` is the encoded feature matrix of ``frame`` when at hand (``pos``: feature -> its
    column).  The no_activity rule applies to rows where all its features are known: by
    default when ``frame`` has their columns, or where ``activity_known`` is True.
    """
    n = len(frame) if M is None else len(M)
    if POPULATION_STATUS in frame.columns:
        pop = frame[POPULATION_STATUS].astype(object).to_numpy()
        known = {"eligible", IN_DEFAULT, NOT_YET_ONBOARDED}
        bad = ~pd.Series(pop).isin(known).to_numpy()
        if bad.any():
            raise ValueError(f"{POPULATION_STATUS}: unknown values {sorted(set(map(str, pop[bad])))[:5]}; "
                             f"expected {sorted(known)}")
        status = np.where(pop == "eligible", SCORED, pop).astype(object)
    else:
        status = np.full(n, SCORED, dtype=object)
    if activity_known is None:
        activity_known = np.full(n, all(f in frame.columns for f in ACTIVITY_FEATURES))
    if activity_known.any():
        inactive = activity_known.copy()
        for f in ACTIVITY_FEATURES:
            if M is not None and f in pos:
                v = M[:, pos[f]]
            else:
                v = pd.to_numeric(frame[f]).to_numpy(dtype=float, na_value=np.nan)
            inactive &= np.nan_to_num(v, nan=0.0) == 0
        status = np.where((status == SCORED) & inactive, NO_ACTIVITY, status)
    return status
