"""The PD of scoring's own raw scores (the model's calibration replayed) and the PD level (central tendency).

Batch scoring sums the TreeSHAP values of a row to its raw score; :func:`replay_calibration`
returns the model's own map raw -> PD (``LightGBMModel.pd_from_raw``) once it is shown to
equal ``predict_proba`` on probe rows, so the trees are walked once per row.  The bundle's
central tendency (issue 9) then sets the PD level for the rating philosophy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.bundle import Bundle
from riskmodel.config import MasterScaleSettings
from riskmodel.grades import assign_grades
from riskmodel.models.central_tendency import CentralTendency

log = logging.getLogger(__name__)


def replay_calibration(model: Any, raw_probe: np.ndarray, X_probe: pd.DataFrame
                       ) -> Callable[[np.ndarray], np.ndarray] | None:
    """The model's map raw score -> PD, checked on probe rows; None (use ``predict_proba``) when it
    has none or it does not reproduce ``predict_proba(X_probe)`` to 1e-9."""
    calibrate = getattr(model, "pd_from_raw", None)
    if calibrate is None:
        return None
    expected = np.asarray(model.predict_proba(X_probe), dtype=float)[:, 1]
    try:
        got = np.asarray(calibrate(raw_probe), dtype=float)
    except NotImplementedError:
        return None
    if not np.allclose(got, expected, rtol=0, atol=1e-9):
        log.info("fast PD path disagrees with predict_proba; using predict_proba")
        return None
    return calibrate


def central_tendency_of(bundle: Bundle) -> CentralTendency | None:
    """The bundle's PD-level calibration (issue 9), or None for a bundle without one."""
    ct = bundle.manifest.get("central_tendency")
    return CentralTendency.from_dict(ct) if ct else None


def relevel(ct: CentralTendency, pd_model: np.ndarray, frame: pd.DataFrame | None, rows: np.ndarray,
            master_scale: MasterScaleSettings) -> tuple[np.ndarray, np.ndarray]:
    """(PD, grade) of the rows ``rows`` of ``frame`` at the level of the rating philosophy.

    Only the portfolio covariates are read from ``frame`` (None: none given); a missing one
    is taken at its training average (a level for average conditions, not today's).
    """
    names = list(ct.covariates)
    cov = None
    if names:
        have = [c for c in names if frame is not None and c in frame.columns]
        cov = frame[have].iloc[rows] if have and frame is not None else pd.DataFrame(index=range(len(rows)))
        cov = cov.reindex(columns=names).reset_index(drop=True)
    p = ct.apply(pd_model, cov)
    return p, np.asarray(assign_grades(p, master_scale), dtype=object)
