"""Feature records -> the float matrix every scoring step works on, and back to the model's typed frame.

Categories become their training level codes (NaN when missing or unseen); numeric
columns are converted in one block.  Shared by the :class:`~riskmodel.scoring.Scorer`
and the MLflow pyfunc (:mod:`riskmodel.pyfunc`), so both read features the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskmodel.bundle import Bundle

log = logging.getLogger(__name__)


class FeatureEncoder:
    """Encode a bundle's features: ``encode`` (frame -> matrix), ``encode_records``, ``to_frame``, ``prepare``.

    Parameters
    ----------
    features : the model's features, in order (the matrix columns).
    levels : categorical feature -> its training levels (as strings).
    """

    def __init__(self, features: Sequence[str], levels: Mapping[str, Sequence[Any]] | None = None) -> None:
        self.features: list[str] = list(features)
        self.levels: dict[str, list[str]] = {k: [str(v) for v in lv] for k, lv in (levels or {}).items()}
        self.pos = {f: j for j, f in enumerate(self.features)}
        self._level_pos = {f: {v: k for k, v in enumerate(lv)} for f, lv in self.levels.items()}

    @classmethod
    def of(cls, bundle: Bundle) -> "FeatureEncoder":
        """The encoder of a bundle's features and training levels (manifest ``categorical_levels``)."""
        return cls(bundle.features, bundle.manifest.get("categorical_levels", {}))

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's features as a float matrix (rows x features; categories as level codes, NaN missing).

        Missing columns are NaN.  Numeric columns are converted in one block; a
        numeric feature holding text raises ValueError naming the column and the
        first offending values.  Categorical levels unseen in training become
        missing (as in the model itself), with a warning.
        """
        n = len(frame)
        M = np.full((n, len(self.features)), np.nan)
        num = [j for j, f in enumerate(self.features) if f not in self.levels and f in frame.columns]
        if num:
            block = frame[[self.features[j] for j in num]]
            try:
                M[:, num] = block.to_numpy(dtype=float, na_value=np.nan)
            except (TypeError, ValueError):
                for j in num:
                    col = block[self.features[j]]
                    conv = pd.to_numeric(col, errors="coerce")
                    bad = conv.isna() & col.notna()
                    if bad.any():
                        raise ValueError(f"feature {self.features[j]!r}: {int(bad.sum())} non-numeric value(s), "
                                         f"e.g. {list(col[bad].astype(str).unique()[:3])}") from None
                    M[:, j] = conv.to_numpy(dtype=float, na_value=np.nan)
        for j, name in enumerate(self.features):
            if name not in self.levels or name not in frame.columns:
                continue
            levels = self.levels[name]
            col = frame[name]
            if isinstance(col.dtype, pd.CategoricalDtype) and list(col.cat.categories) == levels:
                codes = np.asarray(col.cat.codes, dtype=float)
            else:
                values = col.astype(object).where(col.notna(), None)
                cat = pd.Categorical([None if v is None else str(v) for v in values], categories=levels)
                unseen = cat.isna() & values.notna().to_numpy()
                if unseen.any():
                    log.warning("feature %s: %d value(s) not among the training levels (e.g. %s); "
                                "scored as missing", name, int(unseen.sum()), list(values[unseen].unique()[:3]))
                codes = np.asarray(cat.codes, dtype=float)
            codes[codes < 0] = np.nan
            M[:, j] = codes
        return M

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature records (name -> value, already type-checked) as the float matrix of :meth:`encode`."""
        M = np.full((len(records), len(self.features)), np.nan)
        pos = self.pos
        for i, rec in enumerate(records):
            for name, value in rec.items():
                j = pos.get(name)
                if j is None or value is None:
                    continue
                lv = self._level_pos.get(name)
                M[i, j] = float(lv.get(str(value), np.nan)) if lv is not None else float(value)
        return M

    def to_frame(self, M: np.ndarray, index: Any = None) -> pd.DataFrame:
        """The typed feature frame of a matrix from :meth:`encode` (categoricals as pandas categories)."""
        X = pd.DataFrame(M, columns=self.features, index=index, copy=True)
        for name, levels in self.levels.items():
            if name in X.columns:
                codes = X[name].to_numpy()
                X[name] = pd.Categorical.from_codes(np.where(np.isnan(codes), -1, codes).astype(int),
                                                    categories=levels)
        return X

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns from ``frame``, typed (missing columns are NaN)."""
        return self.to_frame(self.encode(frame), frame.index)
