"""Customer chunks of the tables (riskmodel.data.partition, issue 14): every row of a known customer in
exactly one chunk, a customer's records never split, row order kept, and the same rows as a plain filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import schemas as S
from riskmodel.data.partition import chunk_tables, customer_codes, iter_chunks, subset_tables
from riskmodel.data.tables import Tables


def _tables(seed: int, n_customers: int = 37) -> tuple[Tables, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:05d}" for i in rng.permutation(n_customers)])
    frames = {}
    for name in S.TABLE_NAMES:
        n = int(rng.integers(0, 200))
        # ids in random order, some customers absent, plus an unknown customer and a missing id
        cid = pd.Series(rng.choice(list(ids) + ["UNKNOWN"], size=n), dtype="str")
        if n:
            cid.iloc[0] = np.nan
        frames[name] = pd.DataFrame({S.CUSTOMER_ID: cid, "row": np.arange(n)},
                                    index=pd.RangeIndex(1000, 1000 + n))
    frames[S.CUSTOMERS] = pd.DataFrame({S.CUSTOMER_ID: pd.Series(ids, dtype="str"), "row": np.arange(len(ids))})
    return Tables.from_dict(frames), np.sort(ids)


@pytest.mark.parametrize("size", [1, 5, 36, 37, 1000])
def test_chunks_partition_the_known_customers_rows_as_a_filter_would(size: int) -> None:
    tables, sorted_ids = _tables(seed=size)
    seen: dict[str, list[pd.DataFrame]] = {n: [] for n in tables.as_dict()}
    n_chunks = 0
    for sl, part in chunk_tables(tables, sorted_ids, size):
        n_chunks += 1
        mine = set(sorted_ids[sl])
        expected = subset_tables(tables, sorted(mine))
        for name, frame in part.as_dict().items():
            assert set(frame[S.CUSTOMER_ID]) <= mine
            want = getattr(expected, name)
            # the same rows as filtering the table, and each customer's rows in the table's own order
            assert sorted(frame["row"]) == sorted(want["row"])
            for _, g in frame.groupby(S.CUSTOMER_ID):
                assert list(g["row"]) == sorted(g["row"])
            assert list(frame.index) == list(tables.as_dict()[name].index[frame["row"].to_numpy()])
            seen[name].append(frame)
    assert n_chunks == len(list(iter_chunks(len(sorted_ids), size)))
    for name, frame in tables.as_dict().items():
        got = pd.concat(seen[name]) if seen[name] else frame.iloc[:0]
        known = frame[frame[S.CUSTOMER_ID].isin(sorted_ids)]
        assert len(got) == len(known) and not got["row"].duplicated().any()
        assert "UNKNOWN" not in set(got[S.CUSTOMER_ID])


def test_customer_codes_rank_ids_and_flag_unknown_or_missing() -> None:
    ids = pd.Index(pd.Series(["b", "a", "c"], dtype="str"))
    for dtype in ("str", object):
        col = pd.Series(["a", "x", None, "c", "b"], dtype=dtype)
        assert customer_codes(col, ids).tolist() == [1, -1, -1, 2, 0]


def test_chunk_tables_refuses_repeated_ids() -> None:
    tables, sorted_ids = _tables(seed=0)
    with pytest.raises(ValueError, match="repeated"):
        next(chunk_tables(tables, np.r_[sorted_ids, sorted_ids[:1]], 5))
