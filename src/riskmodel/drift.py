"""Drift: population stability (PSI) of the score and of every feature against the training reference.

The reference (``Bundle.reference``, layout in :mod:`riskmodel.export`) holds the
training share of each bin; new values are put in the same bins (intervals
``lower < x <= upper``, category levels, a missing bin that also takes unseen
levels) and PSI = sum((a - e) ln(a / e)) over the bins, with empty shares
floored at ``eps`` by :func:`riskmodel.evaluation.metrics.psi_from_shares`.  Counts can
be accumulated chunk by chunk (:class:`DriftAccumulator`) so batch scoring
never holds the whole base in memory.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskmodel.evaluation.metrics import psi_from_shares

SCORE = "score"
STATUS_OK, STATUS_WARNING, STATUS_ALERT, STATUS_EXPECTED = "ok", "warning", "alert", "expected"




def drift_status(psi: float, warning: float, alert: float) -> str:
    """``alert`` at or above ``alert``, ``warning`` at or above ``warning``, else ``ok``."""
    if np.isnan(psi):
        return STATUS_OK
    return STATUS_ALERT if psi >= alert else STATUS_WARNING if psi >= warning else STATUS_OK


@dataclass(frozen=True)
class _Bins:
    variable: str
    kind: str
    expected: np.ndarray  # training share per bin, in bin order
    edges: np.ndarray | None  # inner interval edges (numeric)
    n_interval: int
    levels: list[str] | None  # categorical levels (bins 0..k-1)
    missing_bin: int | None

    def counts(self, values: pd.Series | np.ndarray) -> np.ndarray:
        out = np.zeros(len(self.expected), dtype=np.int64)
        if self.levels is not None:
            s = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values.astype(object)
            s = s.where(s.notna(), None).map(lambda v: None if v is None else str(v))
            codes = pd.Categorical(s, categories=self.levels).codes
            known = codes >= 0
            out[: len(self.levels)] += np.bincount(codes[known], minlength=len(self.levels))
            if self.missing_bin is not None:
                out[self.missing_bin] += int((~known).sum())
            return out
        x = pd.to_numeric(pd.Series(values)).to_numpy(dtype=float, na_value=np.nan)
        finite = ~np.isnan(x)
        assert self.edges is not None  # numeric bins always have edges
        idx = np.searchsorted(self.edges, x[finite], side="left")
        out[: self.n_interval] += np.bincount(idx, minlength=self.n_interval)[: self.n_interval]
        if self.missing_bin is not None:
            out[self.missing_bin] += int((~finite).sum())
        return out


def _parse(reference: pd.DataFrame) -> dict[str, _Bins]:
    need = {"variable", "kind", "bin", "bin_type", "upper", "level", "share"}
    missing = need - set(reference.columns)
    if missing:
        raise ValueError(f"drift reference lacks columns {sorted(missing)}; see riskmodel.export")
    out: dict[str, _Bins] = {}
    for var, g in reference.sort_values(["variable", "bin"]).groupby("variable", sort=False):
        g = g.sort_values("bin")
        types = g["bin_type"].tolist()
        miss = [i for i, t in enumerate(types) if t == "missing"]
        inter = g[g["bin_type"] == "interval"]
        cats = g[g["bin_type"] == "category"]
        order = list(inter.index) + list(cats.index) + list(g.index[g["bin_type"] == "missing"])
        gg = g.loc[order]
        expected = gg["share"].to_numpy(dtype=float)
        mb = len(gg) - 1 if miss else None
        if len(cats):
            out[str(var)] = _Bins(str(var), str(g["kind"].iloc[0]), expected, None, 0,
                                  [str(v) for v in cats["level"]], mb)
        else:
            uppers = inter["upper"].to_numpy(dtype=float)
            out[str(var)] = _Bins(str(var), str(g["kind"].iloc[0]), expected, uppers[:-1], len(inter), None, mb)
    return out


class DriftAccumulator:
    """Accumulates bin counts of new data, chunk by chunk, against the training reference.

    Parameters
    ----------
    reference : the bundle's reference distributions.
    warning, alert : PSI thresholds (params.yaml ``scoring.psi_warning`` / ``psi_alert``).
    """

    def __init__(self, reference: pd.DataFrame, warning: float = 0.10, alert: float = 0.25,
                 expected_drift: Collection[str] = ()) -> None:
        self.bins = _parse(reference)
        self.warning = warning
        self.alert = alert
        self.expected_drift = frozenset(expected_drift)
        self._counts = {v: np.zeros(len(b.expected), dtype=np.int64) for v, b in self.bins.items()}
        self._n = {v: 0 for v in self.bins}

    def update(self, features: pd.DataFrame, score: np.ndarray | None = None) -> None:
        """Add a chunk of feature rows (and their scores) to the counts."""
        for var, b in self.bins.items():
            if var == SCORE and b.kind == "score":
                if score is None:
                    continue
                values: pd.Series | np.ndarray = np.asarray(score, dtype=float)
            elif var in features.columns:
                values = features[var]
            else:
                continue
            self._counts[var] += b.counts(values)
            self._n[var] += len(values)

    def merge(self, other: DriftAccumulator) -> None:
        """Add the counts of ``other`` (same reference; e.g. a customer group scored on a Spark worker)."""
        if other.bins.keys() != self.bins.keys():
            raise ValueError("DriftAccumulator.merge: the two accumulators have different references")
        for var in self._counts:
            self._counts[var] += other._counts[var]
            self._n[var] += other._n[var]

    def report(self) -> pd.DataFrame:
        """One row per variable: variable, kind, n, psi, status (ok / warning / alert, or expected
        for a shifted variable listed in ``expected_drift``); worst first."""
        rows = []
        for var, b in self.bins.items():
            n = self._n[var]
            psi = psi_from_shares(b.expected, self._counts[var] / n) if n else float("nan")
            status = drift_status(psi, self.warning, self.alert)
            if status != STATUS_OK and var in self.expected_drift:
                status = STATUS_EXPECTED
            rows.append({"variable": var, "kind": b.kind, "n": n, "psi": psi, "status": status})
        out = pd.DataFrame(rows, columns=["variable", "kind", "n", "psi", "status"])
        return out.sort_values("psi", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def drift_report(reference: pd.DataFrame, features: pd.DataFrame, score: np.ndarray | None,
                 warning: float = 0.10, alert: float = 0.25) -> pd.DataFrame:
    """PSI of the score and of every feature of ``features`` against ``reference`` (one pass)."""
    acc = DriftAccumulator(reference, warning, alert)
    acc.update(features, score)
    return acc.report()
