"""The portfolio indicators summed over customer partitions equal the whole book's (issue 14.1)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import schemas as S
from riskmodel.data.partition import chunk_tables
from riskmodel.data.simulator import simulate
from riskmodel.features.portfolio import STEMS, portfolio_features, portfolio_indicators
from riskmodel.features.portfolio_parts import PortfolioSums

SNAPS = pd.date_range("2020-03-31", "2022-12-31", freq="QE")


@pytest.fixture(scope="module")
def tables():
    return simulate(400, dt.date(2019, 1, 1), 4, seed=21).tables


@pytest.mark.parametrize("size", [400, 150, 37])
def test_sums_over_partitions_are_the_whole_books_indicators(tables, size: int) -> None:
    whole = portfolio_indicators(tables, SNAPS)
    sums = PortfolioSums(tables.customers, SNAPS)
    ids = np.sort(tables.customers[S.CUSTOMER_ID].astype(str).to_numpy())
    n = 0
    for _, part in chunk_tables(tables, ids, size):
        sums.add(part)
        n += 1
    assert n == -(-400 // size)
    parts = sums.indicators()
    for level, res in whole.items():
        assert list(parts[level]["_segments"]) == list(res["_segments"])
        for stem in STEMS:
            assert np.isfinite(res[stem]).any(), (level, stem)
            np.testing.assert_allclose(parts[level][stem], res[stem], rtol=1e-12, atol=1e-14, err_msg=stem)


def test_features_from_summed_indicators_and_a_missing_date_is_refused(tables) -> None:
    sums = PortfolioSums(tables.customers, SNAPS)
    sums.add(tables)
    keys = pd.DataFrame({S.CUSTOMER_ID: tables.customers[S.CUSTOMER_ID].iloc[:5].tolist() * 2,
                         S.SNAPSHOT_DATE: [SNAPS[2]] * 5 + [SNAPS[-1]] * 5})
    a = portfolio_features(tables, keys)
    b = portfolio_features(tables, keys, sums.indicators())
    pd.testing.assert_frame_equal(a, b)
    keys.loc[0, S.SNAPSHOT_DATE] = pd.Timestamp("2019-06-30")
    with pytest.raises(ValueError, match="without indicators"):
        portfolio_features(tables, keys, sums.indicators())


def test_a_segment_absent_from_the_indicators_is_refused_not_read_as_another(tables) -> None:
    """An industry the indicators were not computed for must not pick up the last segment's column (index -1)."""
    import dataclasses

    indicators = portfolio_indicators(tables, SNAPS)
    keys = pd.DataFrame({S.CUSTOMER_ID: tables.customers[S.CUSTOMER_ID].iloc[:3].tolist(),
                         S.SNAPSHOT_DATE: [SNAPS[-1]] * 3})
    assert len(portfolio_features(tables, keys, indicators)) == 3
    customers = tables.customers.copy()
    customers[S.INDUSTRY] = customers[S.INDUSTRY].astype(str)
    customers.loc[customers.index[1], S.INDUSTRY] = "space mining"
    with pytest.raises(ValueError, match="absent from the book's portfolio indicators"):
        portfolio_features(dataclasses.replace(tables, customers=customers), keys, indicators)
