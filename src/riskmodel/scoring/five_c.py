"""The 5C credit level and per-C levels of encoded rows, with the baseline scorecard's own formula.

Points come from :func:`riskmodel.models.baseline.encoded_points` (the indicator rule on
level codes and floats) and levels from ``FiveCScorecard.level_from_points`` /
``sub_levels_from_points``: one formula for training, the report and scoring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskmodel.models.baseline import NumericPoints, encoded_points, point_rule
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
        inds = list(inds or ()) if self.on_matrix else []
        self._n = len(inds)
        numeric = [k for k, i in enumerate(inds) if i.categories is None]
        self._numeric_at = np.array(numeric, dtype=np.int64)  # their places among the indicators
        self._numeric_cols = np.array([encoder.pos[inds[k].feature] for k in numeric], dtype=np.int64)
        self._numeric = NumericPoints([inds[k] for k in numeric])  # all numeric indicators in one pass
        self._rules = [(k, encoder.pos[i.feature], point_rule(i, encoder.levels.get(i.feature)))
                       for k, i in enumerate(inds) if i.categories is not None]

    def __call__(self, M: np.ndarray, X: pd.DataFrame | None = None,
                 MT: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(credit level, C -> level array) of the rows of ``M``, the values of :func:`five_c_levels`.

        The per-C levels come as a dict of arrays, not a frame: building a frame cost more than
        the levels themselves for one customer.
        """
        n = len(M)
        if not self.on_matrix or not n:
            level, sub = five_c_levels(self.baseline, M, self.encoder, X, MT)
            return level, {str(c): sub[c].to_numpy(dtype=float) for c in sub.columns}
        cols = MT if MT is not None else M.T
        pts = np.empty((n, self._n))
        pts[:, self._numeric_at] = self._numeric(cols[self._numeric_cols]).T
        for k, j, rule in self._rules:
            pts[:, k] = rule(cols[j])
        return self.baseline.level_from_points(pts), self.baseline.sub_levels_from_points(pts)


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
