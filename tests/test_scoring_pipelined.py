"""Batch scoring pipelined by blocks gives exactly the one-piece result (issue 10, throughput).

``Scorer.score_features`` scores a large frame block by block while a second thread computes
the next block's TreeSHAP contributions with the serial kernel.  Every figure of a row depends
on that row alone, so the output must be the same, bit for bit, as scoring the frame in one
piece: PDs, grades, 5C levels, reasons, codes, policy, dtypes and the reason counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _scoring_helpers import world
from riskmodel.data import schemas as S
from riskmodel.explain.treeshap import PARALLEL_MIN_ROWS
from riskmodel.scoring import Scorer
from riskmodel.scoring.columns import PD, STATUS


@pytest.fixture(scope="module")
def case():
    w = world()
    scorer = Scorer(w.bundles["lightgbm"], w.settings.scoring)
    base = w.table.drop(columns=[S.LABEL]).reset_index(drop=True)
    frame = pd.concat([base] * 2, ignore_index=True)
    # a few rows without activity and without any evidence, so that blocks mix statuses
    frame.loc[frame.index[::997], [c for c in scorer.features if c.startswith("pay_")]] = np.nan
    frame.loc[frame.index[5::1499], scorer.features] = np.nan
    return scorer, frame


@pytest.mark.parametrize("block", [1_000, 3_333])
def test_pipelined_blocks_equal_one_piece(case, block: int) -> None:
    scorer, frame = case
    one_piece = scorer._score_block(frame, scorer.encode(frame))
    scorer.pipeline_block = block
    try:
        assert len(frame) >= 2 * block and len(frame) % block  # several blocks, the last one short
        piped = scorer.score_features(frame)
    finally:
        scorer.pipeline_block = type(scorer)(scorer.bundle, scorer.scoring).pipeline_block
    pd.testing.assert_frame_equal(piped, one_piece, check_exact=True)
    assert piped.attrs["reasons"] == one_piece.attrs["reasons"]
    assert piped.attrs["reasons"]["rows"] == int((piped[STATUS] == "scored").sum()) > 2 * block
    assert piped[STATUS].nunique() >= 2 and piped[PD].notna().any()


def test_serial_treeshap_equals_the_parallel_kernel(case) -> None:
    scorer, frame = case
    L = scorer._lgb_matrix(scorer.encode(frame))
    assert len(L) >= PARALLEL_MIN_ROWS
    parallel, bias = scorer._explainer.shap_values(L)
    serial, bias_s = scorer._explainer.shap_values(L, serial=True)
    assert bias == bias_s
    assert np.array_equal(parallel, serial)
    raw = scorer.bundle.model.booster_.predict(L, raw_score=True)
    assert np.allclose(parallel.sum(axis=1) + bias, raw, atol=1e-9)
