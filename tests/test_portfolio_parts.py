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


def test_indicators_equal_the_definition_day_by_day_bit_for_bit(tables) -> None:
    """portfolio_indicators sums each invoice over the days it is open (ranges, not a mask per day) and the
    settled invoices by running totals: every figure equals the definition, a mask over the whole ledger at
    each day, to the last bit (snapshots off the quarter ends too, so the 3- and 6-month look-backs are
    days of their own)."""
    from riskmodel.features.portfolio import LEVELS, _months_before, _segment_codes, _share
    from riskmodel.features.snapshots import NAT_DAYS, to_days

    snaps = pd.DatetimeIndex([*SNAPS, pd.Timestamp("2021-02-28"), pd.Timestamp("2022-07-15")]).sort_values()
    got = portfolio_indicators(tables, snaps)
    inv, cust = tables.invoices, tables.customers
    inv_cust = pd.Index(cust[S.CUSTOMER_ID].astype(str)).get_indexer(inv[S.CUSTOMER_ID].astype(str))
    issued, due = to_days(inv[S.INVOICE_DATE]), to_days(inv[S.DUE_DATE])
    paid = to_days(inv[S.PAID_DATE])
    paid = np.where(paid == NAT_DAYS, np.iinfo(np.int64).max, paid)
    amount = inv[S.AMOUNT].to_numpy(float)
    dpd = np.maximum(np.where(paid == np.iinfo(np.int64).max, 0, paid - due), 0).astype(float)
    days = to_days(snaps)
    b3, b6, b12 = (_months_before(days, m) for m in (3, 6, 12))
    for level, column in LEVELS:
        cseg, k = _segment_codes(cust, column)
        seg = cseg[inv_cust]

        def state(day: int, seg: np.ndarray = seg, k: int = k) -> tuple[np.ndarray, ...]:
            open_ = (issued < day) & (paid >= day)
            over, o90 = open_ & (due < day), open_ & (day - due > 90)
            return tuple(np.bincount(seg[m], amount[m], minlength=k) for m in (open_, over, o90))

        for i, d in enumerate(days):
            op, ov, o90 = state(int(d))
            share = _share(ov, op)
            op3, ov3, _ = state(int(b3[i]))
            op6, ov6, _ = state(int(b6[i]))
            settled = (paid >= b12[i]) & (paid < d)
            want = {"overdue_share": share, "overdue90_share": _share(o90, op),
                    "overdue_share_chg_3m": share - _share(ov3, op3), "overdue_share_chg_6m": share - _share(ov6, op6),
                    "mean_dpd_12m": _share(np.bincount(seg[settled], dpd[settled], minlength=k),
                                           np.bincount(seg[settled], minlength=k).astype(float))}
            for stem, values in want.items():
                assert np.array_equal(got[level][stem][i], values, equal_nan=True), (level, stem, snaps[i])
        assert np.isfinite(got[level]["mean_dpd_12m"]).any() and np.isfinite(got[level]["overdue90_share"]).any()


def test_an_invoice_of_an_unknown_customer_is_refused_naming_table_rule_and_id(tables) -> None:
    from dataclasses import replace

    from riskmodel.exceptions import SchemaError

    inv = tables.invoices.copy()
    inv.loc[inv.index[:3], S.CUSTOMER_ID] = "C_NOT_A_CUSTOMER"
    broken = replace(tables, invoices=inv)
    with pytest.raises(SchemaError, match=r"invoices\.customer_id: rule 'customer_id known in customers' broken by 3 "
                                          r"rows; first unknown ids: \['C_NOT_A_CUSTOMER'\]"):
        portfolio_indicators(broken, SNAPS)
    with pytest.raises(SchemaError, match="C_NOT_A_CUSTOMER"):
        PortfolioSums(tables.customers, SNAPS).add(broken)
