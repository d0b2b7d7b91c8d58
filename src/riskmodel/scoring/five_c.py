"""The 5C credit level and per-C levels of encoded rows, with the baseline scorecard's own formula.

Points come from :func:`riskmodel.models.baseline.encoded_points` (the indicator rule on
level codes and floats) and levels from ``FiveCScorecard.level_from_points`` /
``sub_levels_from_points``: one formula for training, the report and scoring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskmodel.models.baseline import encoded_points, point_rule
from riskmodel.scoring.encoding import FeatureEncoder


class FiveCLevels:
    """:func:`five_c_levels` for one baseline and encoder, with each indicator's point rule built once.

    The scorer makes one when it is built; one customer's 5C levels then cost a lookup per
    indicator instead of rebuilding every bin table (the REST service's one-record path).
    """

    def __init__(self, baseline: Any, encoder: FeatureEncoder) -> None:
        self.baseline = baseline
        self.encoder = encoder
        inds = getattr(baseline, "indicators_", None)
        self.on_matrix = (baseline is not None and inds is not None and hasattr(baseline, "level_from_points")
                          and all(i.feature in encoder.pos for i in inds))
        self._rules = ([(encoder.pos[i.feature], point_rule(i, encoder.levels.get(i.feature))) for i in inds or ()]
                       if self.on_matrix else [])

    def __call__(self, M: np.ndarray, X: pd.DataFrame | None = None,
                 MT: np.ndarray | None = None) -> tuple[np.ndarray, pd.DataFrame]:
        """(credit level, per-C levels) of the rows of ``M``, as :func:`five_c_levels`."""
        n = len(M)
        if not self.on_matrix or not n:
            return five_c_levels(self.baseline, M, self.encoder, X, MT)
        cols = MT if MT is not None else M.T
        pts = np.column_stack([rule(cols[j]) for j, rule in self._rules])
        return self.baseline.level_from_points(pts), pd.DataFrame(self.baseline.sub_levels_from_points(pts))


def five_c_levels(baseline: Any, M: np.ndarray, encoder: FeatureEncoder,
                  X: pd.DataFrame | None = None, MT: np.ndarray | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """(credit level, per-C levels) of the rows of ``M``; NaN and no columns without a baseline.

    ``X`` is ``encoder.to_frame(M)`` when at hand; it is needed only for a baseline that
    cannot score the matrix (an indicator outside the model's features, or another class).
    ``MT`` is ``ascontiguousarray(M.T)`` when at hand: each indicator then reads a contiguous
    column (the same values; the bin search on a strided column costs several times more).
    """
    n = len(M)
    if baseline is None or not n:
        return np.full(n, np.nan), pd.DataFrame(index=range(n))
    inds = getattr(baseline, "indicators_", None)
    if inds is None or not hasattr(baseline, "level_from_points") or any(i.feature not in encoder.pos
                                                                          for i in inds):
        X = X if X is not None else encoder.to_frame(M)
        return np.asarray(baseline.credit_level(X), dtype=float), baseline.sub_scores(X).reset_index(drop=True)
    cols = MT if MT is not None else M.T
    pts = np.column_stack([encoded_points(i, cols[encoder.pos[i.feature]], encoder.levels.get(i.feature))
                           for i in inds])
    return baseline.level_from_points(pts), pd.DataFrame(baseline.sub_levels_from_points(pts))
