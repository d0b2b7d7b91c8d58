"""The compiled reason rule chooses exactly what the plain numpy rule chose (issue 10, throughput).

``ReasonRule.select`` runs as one compiled pass per row (sides, best member of each concept,
ranking by concept, withheld count).  ``_select_reference`` below is the numpy implementation
it replaced, kept here as the oracle: on a real trained LightGBM bundle's contributions, with
ties, missing values, every (n_up, n_down) shape, and on both the serial (< 2048 rows) and
parallel kernels, the quoted features and the withheld counts must be identical, and batch
scoring must show those same reasons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _scoring_helpers import world
from riskmodel.explain.reasons import NONE, ReasonRule, count_contradictions, rank_reasons
from riskmodel.explain.treeshap import PARALLEL_MIN_ROWS
from riskmodel.scoring import Scorer


def _select_reference(rule: ReasonRule, contrib: np.ndarray, M: np.ndarray, n_up: int, n_down: int,
                      count: bool = True) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The numpy ReasonRule.select as it was before the compiled kernel (the oracle)."""
    c = np.asarray(contrib, dtype=float)
    n, F = c.shape
    may_up, may_down = rule.sides(M)
    G = rule.concept_sums(c)
    K = G.shape[1]
    best_up = np.full((n, K), NONE, dtype=np.int64)
    best_dn = np.full((n, K), NONE, dtype=np.int64)
    cu = np.where(may_up & (c > 0), c, 0.0)
    cd = np.where(may_down & (c < 0), c, 0.0)
    for k in range(K):
        members = np.flatnonzero(rule.concept_id == k)
        a = np.argmax(cu[:, members], axis=1)
        best_up[:, k] = np.where(cu[np.arange(n), members[a]] > 0, members[a], NONE)
        b = np.argmin(cd[:, members], axis=1)
        best_dn[:, k] = np.where(cd[np.arange(n), members[b]] < 0, members[b], NONE)
    ok = ((G > 0) & (best_up >= 0)) | ((G < 0) & (best_dn >= 0))
    gu, gd = rank_reasons(np.where(ok, G, 0.0), n_up, n_down)
    withheld = 0
    for raw, got in zip(rank_reasons(G, n_up, n_down) if count else (), (gu, gd)):
        if raw.size:
            kept = (raw[:, :, None] == got[:, None, :]).any(axis=2)
            withheld += int(((raw >= 0) & ~kept).sum())
    rows = np.arange(n)[:, None]
    up = np.where(gu >= 0, best_up[rows, np.maximum(gu, 0)], NONE)
    down = np.where(gd >= 0, best_dn[rows, np.maximum(gd, 0)], NONE)
    return up, down, {"withheld": withheld}


@pytest.fixture(scope="module")
def case() -> tuple[Scorer, pd.DataFrame, np.ndarray, np.ndarray]:
    w = world()
    scorer = Scorer(w.bundles["lightgbm"], w.settings.scoring)
    rows = w.table.iloc[np.arange(PARALLEL_MIN_ROWS + 500) % len(w.table)].reset_index(drop=True)
    M = scorer.encode(rows)
    return scorer, rows, M, scorer.contributions(rows)


def _same(rule: ReasonRule, c: np.ndarray, M: np.ndarray, n_up: int, n_down: int, count: bool = True) -> dict:
    up, down, counts = rule.select(c, M, n_up, n_down, count=count)
    r_up, r_down, r_counts = _select_reference(rule, c, M, n_up, n_down, count=count)
    np.testing.assert_array_equal(up, r_up)
    np.testing.assert_array_equal(down, r_down)
    assert counts == r_counts
    return counts


@pytest.mark.parametrize("n_up,n_down", [(4, 2), (3, 3), (0, 2), (6, 0), (1, 1)])
def test_compiled_rule_matches_numpy_rule_on_model_contributions(case, n_up: int, n_down: int) -> None:
    scorer, _, M, c = case
    assert len(M) >= PARALLEL_MIN_ROWS  # the parallel kernel
    counts = _same(scorer.rule, c, M, n_up, n_down)
    assert counts["withheld"] > 0  # the rule did withhold something: the comparison is not vacuous
    _same(scorer.rule, c[:300], M[:300], n_up, n_down)  # the serial kernel
    _same(scorer.rule, c[:300], M[:300], n_up, n_down, count=False)


def test_compiled_rule_matches_with_ties_and_missing_values(case) -> None:
    scorer, _, M, c = case
    rng = np.random.default_rng(3)
    ties = np.round(c * 8.0) / 8.0  # many equal contributions and concept sums: the tie-breaks must agree
    Mm = M.copy()
    Mm[rng.random(M.shape) < 0.15] = np.nan  # missing values may be quoted either way
    for cc, mm in ((ties, M), (c, Mm), (ties, Mm)):
        _same(scorer.rule, cc, mm, 4, 2)
        _same(scorer.rule, cc[:97], mm[:97], 4, 2)
    empty = _same(scorer.rule, c[:0], M[:0], 4, 2)
    assert empty == {"withheld": 0}


def test_batch_scoring_shows_the_reference_rule_reasons(case) -> None:
    scorer, rows, M, c = case
    out = scorer.score_features(rows)
    scored = (out["status"] == "scored").to_numpy()
    n_up, n_down = scorer.scoring.n_reasons_up, scorer.scoring.n_reasons_down
    r_up, r_down, r_counts = _select_reference(scorer.rule, c[scored], M[scored], n_up, n_down)
    pos = {f: j for j, f in enumerate(scorer.features)}
    for k in range(n_up):
        got = out[f"reason_up_{k + 1}_code"].astype(object)[scored].map(lambda v: pos.get(v, NONE)).to_numpy()
        np.testing.assert_array_equal(got, r_up[:, k])
    for k in range(n_down):
        got = out[f"reason_down_{k + 1}_code"].astype(object)[scored].map(lambda v: pos.get(v, NONE)).to_numpy()
        np.testing.assert_array_equal(got, r_down[:, k])
    assert out.attrs["reasons"]["withheld"] == r_counts["withheld"]
    assert out.attrs["reasons"]["contradictions"] == 0
    assert count_contradictions(scorer.rule, r_up, r_down, c[scored], M[scored]) == 0
