"""The simulated book generated in customer partitions (issue 14.1): the same world, the same book statistically,
the whole book unchanged when it fits one partition, ids unique over the book, parallel = sequential."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import schemas as S
from riskmodel.data.sim_partitioned import plan_parts, sim_workers, simulate_part, simulate_partitioned
from riskmodel.data.simulator import SimulationResult, simulate, summarise
from riskmodel.data.tables import Tables
from riskmodel.data.validation import validate_tables

START = dt.date(2019, 1, 1)


def _collect(plan, result: SimulationResult) -> dict:
    """A picklable ``write``: hand the partition back (tests only; the CLI writes it to disk)."""
    return {"customers": len(result.tables.customers), "result": result}


def _concat(results: list[SimulationResult]) -> SimulationResult:
    frames = {f.name: pd.concat([getattr(r.tables, f.name) for r in results], ignore_index=True)
              for f in dataclasses.fields(Tables)}
    return SimulationResult(Tables(**frames), pd.concat([r.oracle for r in results], ignore_index=True))


@pytest.fixture(scope="module")
def whole() -> dict:
    """The whole-book summary of the same seed and size as ``book``."""
    return summarise(simulate(3000, START, 6, seed=5))


@pytest.fixture(scope="module")
def book() -> SimulationResult:
    """3,000 customers in 4 partitions of at most 800."""
    return _concat([s["result"] for s in simulate_partitioned(3000, START, 6, 5, 800, _collect)])


def test_plan_covers_every_customer_once() -> None:
    plans = plan_parts(2500, 1000)
    assert [p.n_customers for p in plans] == [1000, 1000, 500]
    assert [p.first_customer for p in plans] == [1, 1001, 2001]
    with pytest.raises(ValueError, match="per_part"):
        plan_parts(10, 0)


def test_a_book_that_fits_one_partition_is_the_whole_book_byte_for_byte() -> None:
    whole = simulate(300, START, 3, seed=7)
    (one,) = simulate_partitioned(300, START, 3, 7, 300, _collect)
    for name, frame in whole.tables.as_dict().items():
        pd.testing.assert_frame_equal(frame, getattr(one["result"].tables, name), check_exact=True)
    pd.testing.assert_frame_equal(whole.oracle, one["result"].oracle, check_exact=True)


def test_partitions_make_one_valid_book_with_unique_ids(book: SimulationResult) -> None:
    t = book.tables
    ids = t.customers[S.CUSTOMER_ID]
    assert len(ids) == 3000 and ids.is_unique and ids.is_monotonic_increasing
    assert ids.iloc[0] == "C000001" and ids.iloc[-1] == "C003000"
    for table, key in ((t.invoices, S.INVOICE_ID), (t.visits, S.VISIT_ID), (t.events, S.EVENT_ID)):
        assert table[key].is_unique and table[key].str.len().nunique() == 1, key
    typed, report = validate_tables(t.as_dict())  # the contract over the whole book, foreign keys included
    assert typed is not None and not report.errors and not report.warnings, report
    # each partition has its own sales staff (numbered k * 1000 + i), who visit only its customers
    team = t.visits[S.VISITOR_ID].str[1:].astype(int) // 1000
    part_of_customer = (t.visits[S.CUSTOMER_ID].str[1:].astype(int) - 1) // 800
    assert sorted(team.unique()) == [0, 1, 2, 3] and (team == part_of_customer).all()


def test_partition_zero_is_the_whole_book_simulation_of_its_customers() -> None:
    """The world and the first partition's streams are those of ``simulate``: only the numbering differs."""
    plan = plan_parts(900, 300)[0]
    part = simulate_part(plan, START, 3, seed=3)
    whole = simulate(300, START, 3, seed=3)
    assert part.tables.customers[S.CUSTOMER_ID].str[1:].astype(int).tolist() == \
        whole.tables.customers[S.CUSTOMER_ID].str[1:].astype(int).tolist()
    cols = [S.INVOICE_DATE, S.DUE_DATE, S.PAID_DATE, S.AMOUNT, S.PAID_AMOUNT]
    pd.testing.assert_frame_equal(part.tables.invoices[cols], whole.tables.invoices[cols], check_exact=True)
    np.testing.assert_array_equal(part.oracle[S.TRUE_PD], whole.oracle[S.TRUE_PD])


def test_partitions_draw_other_customers_in_the_same_world(book: SimulationResult, whole: dict) -> None:
    plans = plan_parts(1600, 800)
    a, b = (simulate_part(p, START, 6, seed=5) for p in plans)
    assert not np.array_equal(a.tables.customers[S.CREDIT_LIMIT], b.tables.customers[S.CREDIT_LIMIT])
    # the same downturn: the default rate is higher in 2023-2024 than in 2019-2022 in both books
    parts = summarise(book)
    for s in (whole, parts):
        rates = s["default_rate_by_year"]
        assert np.mean([rates[2023], rates[2024]]) > np.mean([rates[y] for y in range(2019, 2023)])


def test_partitioned_book_is_statistically_the_whole_book(book: SimulationResult, whole: dict) -> None:
    parts = summarise(book)
    assert parts["invoices"] / 3000 == pytest.approx(whole["invoices"] / 3000, rel=0.1)
    assert parts["defaults"] == pytest.approx(whole["defaults"], rel=0.2)
    for key, tol in (("late_share", 0.02), ("oracle_mean_pd", 0.01), ("loss_share_of_invoiced", 0.005)):
        assert parts[key] == pytest.approx(whole[key], abs=tol), key


def test_parallel_partitions_give_the_sequential_book() -> None:
    seq = simulate_partitioned(120, START, 2, 9, 40, _collect)
    par = simulate_partitioned(120, START, 2, 9, 40, _collect, workers=2)
    for a, b in zip(seq, par, strict=True):
        for name, frame in a["result"].tables.as_dict().items():
            pd.testing.assert_frame_equal(frame, getattr(b["result"].tables, name), check_exact=True)


def test_workers_follow_cpus_and_the_ceiling() -> None:
    assert sim_workers(50_000, 8.0, 2) == 2
    assert sim_workers(200_000, 8.0, 16) == 1  # 11.3 GB planned a partition: one at a time
    assert sim_workers(200_000, 8.0, 16, requested=3) == 3
