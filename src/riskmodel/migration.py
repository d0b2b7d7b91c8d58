"""Rating migration: how customers moved between grades since the previous scoring run."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from riskmodel.data import schemas as S

NEW = "(new)"  # in the current run only
GONE = "(gone)"  # in the previous run only


def rating_label(scores: pd.DataFrame) -> pd.Series:
    """A customer's rating for migration: its grade, or its status when it has none."""
    grade = scores["grade"].astype(object)
    status = scores["status"].astype(object) if "status" in scores.columns else pd.Series(None, index=scores.index)
    return grade.where(grade.notna() & (grade != ""), status).fillna("unrated").astype(str)


def migration_matrix(previous: pd.DataFrame, current: pd.DataFrame, grades: Sequence[str]) -> pd.DataFrame:
    """Counts of customers by previous rating (rows) and current rating (columns).

    Parameters
    ----------
    previous, current : score tables with ``customer_id``, ``grade`` and ``status``.
    grades : grade names best first (the default grade last); statuses and
        ``(new)`` / ``(gone)`` follow them.

    Returns
    -------
    DataFrame of int counts, index ``previous``, columns ``current``; only
    ratings that occur appear, grades in master-scale order.
    """
    for name, frame in (("previous", previous), ("current", current)):
        missing = [c for c in (S.CUSTOMER_ID, "grade") if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} scores lack columns {missing}")
        dup = frame[S.CUSTOMER_ID].duplicated()
        if dup.any():
            raise ValueError(f"{name} scores list {int(dup.sum())} customer(s) twice, e.g. "
                             f"{frame.loc[dup, S.CUSTOMER_ID].astype(str).head(3).tolist()}")
    prev = pd.DataFrame({S.CUSTOMER_ID: previous[S.CUSTOMER_ID].astype(str), "previous": rating_label(previous)})
    cur = pd.DataFrame({S.CUSTOMER_ID: current[S.CUSTOMER_ID].astype(str), "current": rating_label(current)})
    both = prev.merge(cur, on=S.CUSTOMER_ID, how="outer")
    both["previous"] = both["previous"].fillna(NEW)
    both["current"] = both["current"].fillna(GONE)
    table = pd.crosstab(both["previous"], both["current"])
    seen = set(table.index) | set(table.columns)
    order = [g for g in grades if g in seen]
    order += sorted(seen - set(order) - {NEW, GONE}) + [x for x in (NEW, GONE) if x in seen]
    rows = [r for r in order if r in table.index]
    cols = [c for c in order if c in table.columns]
    out = table.reindex(index=rows, columns=cols, fill_value=0).astype(int)
    out.index.name, out.columns.name = "previous", "current"
    return out


def migration_summary(matrix: pd.DataFrame, grades: Sequence[str]) -> dict[str, int]:
    """Upgrades, downgrades and unchanged among customers graded in both runs."""
    rank = {g: i for i, g in enumerate(grades)}
    up = down = same = 0
    for p in matrix.index:
        for c in matrix.columns:
            n = int(matrix.loc[p, c])
            if n and p in rank and c in rank:
                if rank[c] < rank[p]:
                    up += n
                elif rank[c] > rank[p]:
                    down += n
                else:
                    same += n
    return {"upgrades": up, "downgrades": down, "unchanged": same}
