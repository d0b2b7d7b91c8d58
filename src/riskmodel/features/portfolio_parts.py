"""The portfolio indicators (``portfolio``, issue 9) summed over customer partitions (issue 14.1).

Every indicator of ``portfolio.portfolio_indicators`` is a ratio of sums over the
book's invoices, customers and defaults within a segment (open, overdue and 90+
overdue amounts at S, S - 3 and S - 6 months; customers at risk and newly in
default; settled invoices and their days past due). Sums add over customers, so
:class:`PortfolioSums` adds each partition's sums as the partitions go by and
:meth:`PortfolioSums.indicators` divides at the end: the whole book's indicators
without ever holding the whole ledger (about 50 bytes an invoice, 5.5 GB at a
million customers). Up to the order of the floating-point additions they are the
whole-book figures; the segments are those of the whole book's customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.features.portfolio import (
    _NEVER,
    LEVELS,
    STATES,
    SettledWindows,
    _months_before,
    _share,
    ledger_pairs,
    ledger_state,
)
from riskmodel.features.snapshots import NAT_DAYS, customer_codes, to_days

#: the columns a partition must carry for :meth:`PortfolioSums.add`
COLUMNS: dict[str, tuple[str, ...]] = {
    S.CUSTOMERS: (S.CUSTOMER_ID, S.ONBOARDED_DATE, S.INDUSTRY, S.REGION),
    S.INVOICES: (S.CUSTOMER_ID, S.INVOICE_DATE, S.DUE_DATE, S.PAID_DATE, S.AMOUNT),
    S.DEFAULTS: (S.CUSTOMER_ID, S.DEFAULT_DATE),
}
_SUMS = ("open", "over", "o90", "open3", "over3", "open6", "over6", "new_default", "at_risk", "dpd", "settled")


class PortfolioSums:
    """Running sums of the portfolio indicators at ``snapshots``, partition by partition.

    ``customers`` is the whole book's customers table (its industries and regions
    name the segments, as ``portfolio_indicators`` names them from the whole book).
    """

    def __init__(self, customers: pd.DataFrame, snapshots: pd.DatetimeIndex | list) -> None:
        self.snaps = pd.DatetimeIndex(pd.to_datetime(list(snapshots))).sort_values().unique()
        self.days = to_days(self.snaps)
        self.back = {m: _months_before(self.days, m) for m in (3, 6, 12)}
        self.grid = np.unique(np.concatenate([self.days, self.back[3], self.back[6]]))  # days whose state is read
        self.at = {m: np.searchsorted(self.grid, self.days if m == 0 else self.back[m]) for m in (0, 3, 6)}
        self.labels: dict[str, pd.Index] = {}
        for level, column in LEVELS:
            self.labels[level] = (pd.Index(["all"]) if column is None else
                                  pd.Index(pd.factorize(customers[column].astype(str), sort=True)[1]))
        self.sums = {level: {name: np.zeros((len(self.days), max(len(self.labels[level]), 1))) for name in _SUMS}
                     for level, _ in LEVELS}

    def add(self, part: Tables) -> None:
        """Add one partition's sums (its customers with all of their invoices and defaults)."""
        cust, inv, dfl = part.customers, part.invoices, part.defaults
        pos = pd.Index(cust[S.CUSTOMER_ID].astype(str).to_numpy())
        inv_cust = customer_codes(inv[S.CUSTOMER_ID], pos, S.INVOICES)  # SchemaError naming unknown ids
        issued, due = to_days(inv[S.INVOICE_DATE]), to_days(inv[S.DUE_DATE])
        paid = to_days(inv[S.PAID_DATE])
        paid = np.where(paid == NAT_DAYS, _NEVER, paid)
        amount = pd.to_numeric(inv[S.AMOUNT]).to_numpy(dtype=float)
        settled_dpd = np.maximum(np.where(paid == _NEVER, 0, paid - due), 0).astype(float)
        onboarded = to_days(cust[S.ONBOARDED_DATE])
        first_default = np.full(len(pos), _NEVER, dtype=np.int64)
        if len(dfl):
            dc = pos.get_indexer(dfl[S.CUSTOMER_ID].astype(str))
            ok = dc >= 0
            np.minimum.at(first_default, dc[ok], to_days(dfl[S.DEFAULT_DATE])[ok])
        segs = {}  # per level: each customer's and each invoice's segment
        for level, column in LEVELS:
            labels = self.labels[level]
            cseg = (np.zeros(len(pos), dtype=np.int64) if column is None
                    else labels.get_indexer(cust[column].astype(str).to_numpy()))
            if (cseg < 0).any():
                raise ValueError(f"portfolio: {column} values of a partition not in the book's customers")
            segs[level] = (cseg, cseg[inv_cust], self.sums[level]["open"].shape[1])
        grid = self.grid
        pairs = ledger_pairs(issued, due, paid, grid)
        settled = SettledWindows(paid, self.days, self.back[12])
        for level, (_, seg, k) in segs.items():
            acc = self.sums[level]
            state = {name: ledger_state(pairs[name], amount, seg, k, len(grid)) for name in STATES}
            for suffix, at in (("", self.at[0]), ("3", self.at[3]), ("6", self.at[6])):
                for name in ("open", "over") + (("o90",) if not suffix else ()):
                    acc[name + suffix] += state[name][at]
            dpd, count = settled.sums(settled_dpd, seg, k)
            acc["dpd"] += dpd
            acc["settled"] += count
        for i, d in enumerate(self.days):
            lo = int(self.back[12][i])
            at_risk = (onboarded < d) & (first_default >= lo)
            new_def = at_risk & (first_default < d)
            for level, (cseg, _, k) in segs.items():
                acc = self.sums[level]
                acc["new_default"][i] += np.bincount(cseg[new_def], minlength=k)
                acc["at_risk"][i] += np.bincount(cseg[at_risk], minlength=k)

    def indicators(self) -> dict[str, dict[str, np.ndarray]]:
        """The indicators, as ``portfolio_indicators`` returns them for the whole book."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for level, _ in LEVELS:
            acc = self.sums[level]
            share = _share(acc["over"], acc["open"])
            res: dict[str, np.ndarray] = {
                "overdue_share": share,
                "overdue90_share": _share(acc["o90"], acc["open"]),
                "overdue_share_chg_3m": share - _share(acc["over3"], acc["open3"]),
                "overdue_share_chg_6m": share - _share(acc["over6"], acc["open6"]),
                "default_rate_12m": _share(acc["new_default"], acc["at_risk"]),
                "mean_dpd_12m": _share(acc["dpd"], acc["settled"]),
            }
            res["_segments"] = np.asarray(list(self.labels[level]), dtype=object)
            res["_snapshots"] = np.asarray(self.snaps)
            out[level] = res
        return out
