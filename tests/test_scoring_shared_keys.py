"""Batch scoring's shared per-chunk work gives exactly what each step computed on its own (issue 10, throughput).

``Scorer._compute`` rounds every cell to its display key once per chunk
(``ReasonRule.display_keys``) and hands the keys to the reason rule, the contradiction count and
the sentence formatter, and the transposed matrix to the 5C points; categoricals are built from
integer codes.  Each step is compared here with the same step run on its own (the path batch
scoring took before), on a real trained LightGBM bundle's contributions, on both the serial
(< 2048 rows) and the parallel kernels: same quoted features, counts, sentences (string for
string), 5C levels, limit bases and column dtypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _scoring_helpers import world
from riskmodel.config import C_NAMES
from riskmodel.data import schemas as S
from riskmodel.explain.policy import LIMIT_BASES, policy_frame
from riskmodel.explain.reasons import count_contradictions
from riskmodel.explain.treeshap import PARALLEL_MIN_ROWS
from riskmodel.scoring import Scorer
from riskmodel.scoring.columns import STATUSES
from riskmodel.scoring.five_c import five_c_levels


@pytest.fixture(scope="module")
def case():
    w = world()
    scorer = Scorer(w.bundles["lightgbm"], w.settings.scoring)
    base = w.table.drop(columns=[S.LABEL]).reset_index(drop=True)
    reps = -(-(PARALLEL_MIN_ROWS + 500) // len(base))
    frame = pd.concat([base] * reps, ignore_index=True)  # more rows than the parallel threshold
    M = scorer.encode(frame)
    return scorer, frame, M, scorer.contributions(frame)


@pytest.mark.parametrize("n_rows", [300, PARALLEL_MIN_ROWS + 500])
def test_shared_display_keys_change_no_choice_count_or_sentence(case, n_rows: int) -> None:
    scorer, _, M_all, c_all = case
    M, c = M_all[:n_rows], c_all[:n_rows]
    rule, fmt = scorer.rule, scorer.formatter
    keys = rule.display_keys(M)
    assert keys.shape == M.shape
    assert np.array_equal(keys, rule.display_keys(M, np.ascontiguousarray(M.T)), equal_nan=True)
    up, down, counts = rule.select(c, M, 4, 2)
    up_k, down_k, counts_k = rule.select(c, M, 4, 2, keys=keys)
    assert np.array_equal(up, up_k) and np.array_equal(down, down_k) and counts == counts_k
    assert (up >= 0).sum() > n_rows  # the comparison covers many shown reasons
    assert count_contradictions(rule, up, down, c, M, keys=keys) == count_contradictions(rule, up, down, c, M) == 0
    for idx in (up, down):
        shared, alone = fmt.format(idx, M, keys=keys), fmt.format(idx, M)
        assert shared.dtype == alone.dtype == object
        assert shared.tolist() == alone.tolist()  # string for string, None where no reason


def test_the_count_with_keys_still_finds_contradictions(case) -> None:
    """The count reads the shared keys but checks the decisions itself: a wrong choice is still caught."""
    scorer, _, M_all, c_all = case
    M, c = M_all[:500], c_all[:500]
    up, down, _ = scorer.rule.select(c, M, 4, 2)
    flipped = -c  # every shown reason now points the wrong way
    keys = scorer.rule.display_keys(M)
    assert count_contradictions(scorer.rule, up, down, flipped, M, keys=keys) == \
        count_contradictions(scorer.rule, up, down, flipped, M) == int((up >= 0).sum() + (down >= 0).sum())


def test_5c_levels_from_the_transposed_matrix_are_the_same(case) -> None:
    scorer, _, M, _ = case
    level, sub = five_c_levels(scorer.bundle.baseline, M, scorer.encoder)
    level_t, sub_t = five_c_levels(scorer.bundle.baseline, M, scorer.encoder, MT=np.ascontiguousarray(M.T))
    assert np.array_equal(level, level_t, equal_nan=True)
    pd.testing.assert_frame_equal(sub, sub_t, check_exact=True)
    assert set(sub.columns) <= set(C_NAMES) and len(sub.columns) > 0


def test_batch_columns_built_from_codes_equal_the_string_built_ones(case) -> None:
    scorer, frame, _, _ = case
    out = scorer.score_features(frame)
    status = out["status"].astype(object).to_numpy()
    expected = pd.Categorical(status, categories=list(STATUSES))
    pd.testing.assert_series_equal(out["status"], pd.Series(expected, name="status"), check_exact=True)
    assert (status == "scored").any() and len(set(status)) >= 2
    version = pd.Series(pd.Categorical([scorer.version] * len(frame)), name="model_version")
    pd.testing.assert_series_equal(out["model_version"], version, check_exact=True)
    # the reason texts equal the formatter's own sentences, without shared keys
    scored = np.flatnonzero(status == "scored")
    M = scorer.encode(frame)[scored]
    sc = scorer._compute(scorer.encode(frame), scored)
    texts = scorer.formatter.format(sc.up, M)
    got = out["reason_up_1"].to_numpy(dtype=object)[scored]
    assert [None if pd.isna(v) else v for v in got] == texts[:, 0].tolist()


def test_limit_basis_codes_equal_the_named_rule() -> None:
    """policy_frame's basis codes against the string rule it replaced (the oracle below)."""
    scale = world().settings.master_scale
    rng = np.random.default_rng(3)
    grades = np.array([g.grade for g in scale.grades] + [scale.default_grade, None], dtype=object)
    n = 2000
    g = grades[rng.integers(0, len(grades), n)]
    eq = np.where(rng.random(n) < 0.3, np.nan, rng.normal(3e5, 4e5, n))
    rev = np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2, 1e6, n))
    inv = np.where(rng.random(n) < 0.4, np.nan, rng.gamma(2, 1e5, n))
    out = policy_frame(g, eq, rev, inv, scale)
    table = {gr.grade: gr for gr in scale.grades}
    pe = np.array([table[x].limit_pct_equity if x in table else 0.0 for x in g])
    pr = np.array([table[x].limit_pct_revenue if x in table else 0.0 for x in g])
    no_credit = (pe == 0) & (pr == 0)
    named = np.select(
        [no_credit, ~np.isnan(eq) & (eq <= 0), ~np.isnan(eq) & ~np.isnan(rev), ~np.isnan(eq), ~np.isnan(rev),
         np.isnan(inv)],
        ["no_credit_grade", "negative_equity", "equity_and_revenue", "equity", "revenue", "committee"],
        default="invoices")
    has = pd.notna(pd.Series(g, dtype=object)).to_numpy()
    expected = pd.Categorical(np.where(has, named, None), categories=list(LIMIT_BASES))
    pd.testing.assert_series_equal(out["limit_basis"], pd.Series(expected, name="limit_basis"), check_exact=True)
    assert len(set(named[has])) >= 5  # most bases occur
    assert np.isnan(out["limit"].to_numpy()[has & (named == "committee")]).all()


def test_one_customers_sentences_equal_the_grouped_ones(case) -> None:
    """The formatter words a few cells one by one (the REST path) exactly as it words a chunk by groups."""
    scorer, frame, M_all, c_all = case
    M, c = M_all[:400], c_all[:400]
    up, down, _ = scorer.rule.select(c, M, 4, 2)
    keys = scorer.rule.display_keys(M)
    X = scorer.to_frame(M)
    fmt = scorer.formatter
    for idx in (up, down):
        grouped = fmt.format(idx, M, keys=keys)
        grouped_frame = fmt.format(idx, X)
        assert grouped.tolist() == grouped_frame.tolist()
        for i in range(0, 400, 7):
            row_keys = scorer.rule.display_keys(M[i:i + 1])
            assert fmt.format(idx[i:i + 1], M[i:i + 1], keys=row_keys)[0].tolist() == grouped[i].tolist()
            assert fmt.format(idx[i:i + 1], X.iloc[i:i + 1])[0].tolist() == grouped[i].tolist()
    assert sum(v is not None for v in grouped.ravel()) > 300  # many sentences compared
