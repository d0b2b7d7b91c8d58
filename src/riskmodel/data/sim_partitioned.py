"""The simulated book generated customer partition by customer partition, in bounded memory (issue 14.1).

``simulate`` builds the whole book in memory (about 25 KB a customer at its peak,
so 25 GB at a million customers). Here the book is cut into partitions of at most
``per_part`` customers and each partition is simulated alone, all of its
customers' records at once, and handed to ``write`` before the next one starts:
memory follows the partition, not the book.

The book stays the same book statistically:

* the world (calendar, macro downturn, industry shocks: ``sim_world.make_systematic``)
  is drawn once from ``seed`` and is the same for every partition, and the same
  as the whole-book ``simulate`` of that seed;
* each partition draws its customers and their records from a seed of its own,
  ``simulator.partition_seed(seed, k)``; partition 0 uses the whole book's
  streams, so a book of at most ``per_part`` customers is byte-identical to
  ``simulate(n, ..., seed)``. The draws are per partition, not per customer: the
  same seed with another ``per_part`` gives another (statistically equal) book;
* customers are numbered across the book (``C0000001`` ... in partition order,
  onboarding order within a partition); invoice, visit, event and visitor
  numbers get the partition in their leading digits (``INV`` + ``k * block + i``)
  so that they are unique over the book without knowing the other partitions'
  counts, and partitions can be generated in any order or in parallel. Each
  partition has its own sales staff (``visitor_count`` visitors), as a regional team would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskmodel.data import schemas as S
from riskmodel.data.default_definition import Materiality
from riskmodel.data.sim_frames import id_width, make_ids
from riskmodel.data.simulator import SimulationResult, simulate

#: (table, column, prefix, block digits beyond those of the partition's customers) of the record numbers
RECORD_IDS: tuple[tuple[str, str, str, int], ...] = (
    (S.INVOICES, S.INVOICE_ID, "INV", 4),  # room for 10,000 invoices a customer on average
    (S.VISITS, S.VISIT_ID, "VIS", 4),
    (S.EVENTS, S.EVENT_ID, "EVT", 4),
    (S.VISITS, S.VISITOR_ID, "V", 0),  # fewer visitors than customers
)


@dataclass(frozen=True)
class PartPlan:
    """Partition ``index`` of a book of ``n_total`` customers: its size and its first customer's number."""

    index: int
    n_parts: int
    n_customers: int
    first_customer: int
    n_total: int
    per_part: int


def plan_parts(n_customers: int, per_part: int) -> list[PartPlan]:
    """The partitions of a book: ``per_part`` customers each, the last one the remainder."""
    if n_customers < 1 or per_part < 1:
        raise ValueError(f"plan_parts: need n_customers >= 1 and per_part >= 1, got {n_customers}, {per_part}")
    starts = list(range(0, n_customers, per_part))
    return [PartPlan(k, len(starts), min(per_part, n_customers - lo), lo + 1, n_customers, per_part)
            for k, lo in enumerate(starts)]


def _renumber(ids: pd.Series, prefix: str, offset: int, width: int) -> pd.Series:
    """``prefix`` + (the number in ``ids`` + ``offset``), ``width`` digits; missing stays missing."""
    digits = pc.utf8_slice_codeunits(pa.array(ids.array, type=pa.string()), len(prefix))
    numbers = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    return make_ids(prefix, numbers + offset, width)


def simulate_part(plan: PartPlan, start_date: dt.date, years: int, seed: int,
                  materiality: Materiality = Materiality()) -> SimulationResult:
    """Simulate one partition of the book (see the module docstring for what is shared and what is not)."""
    res = simulate(plan.n_customers, start_date, years, seed, materiality, part=plan.index,
                   first_customer=plan.first_customer, customer_id_width=id_width(plan.n_total, 6))
    if plan.n_parts == 1:
        return res  # the whole book: numbered exactly as simulate numbers it
    frames = res.tables.as_dict()
    for table, column, prefix, extra in RECORD_IDS:
        frame = frames[table]
        block = 10 ** (len(str(plan.per_part)) + extra)
        local = len(frame) if column != S.VISITOR_ID else plan.per_part
        if local >= block:  # cannot happen at the simulator's rates; refuse rather than repeat a number
            raise RuntimeError(f"simulate partition {plan.index}: {local} {table} records do not fit a block of "
                               f"{block} numbers")
        width = id_width(plan.n_parts * block, 3 if column == S.VISITOR_ID else 7)
        frames[table] = frame.assign(**{column: _renumber(frame[column], prefix, plan.index * block, width)})
    return replace(res, tables=replace(res.tables, **{t: frames[t] for t in (S.INVOICES, S.VISITS, S.EVENTS)}))


def _part_job(args: tuple[PartPlan, dt.date, int, int, Materiality,
                          Callable[[PartPlan, SimulationResult], dict[str, Any]]]) -> dict[str, Any]:
    plan, start_date, years, seed, materiality, write = args
    return write(plan, simulate_part(plan, start_date, years, seed, materiality))


def simulate_partitioned(n_customers: int, start_date: dt.date, years: int, seed: int, per_part: int,
                         write: Callable[[PartPlan, SimulationResult], dict[str, Any]],
                         materiality: Materiality = Materiality(), workers: int = 1) -> list[dict[str, Any]]:
    """Simulate the book partition by partition, passing each to ``write`` (which returns a summary).

    ``workers`` > 1 runs that many partitions at once in child processes (``write``
    must then be picklable, a module-level function); the summaries come back in
    partition order. Peak memory is about ``workers`` partitions.
    """
    plans = plan_parts(int(n_customers), int(per_part))
    jobs = [(plan, start_date, int(years), int(seed), materiality, write) for plan in plans]
    if workers <= 1 or len(plans) == 1:
        return [_part_job(job) for job in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the children start clean (no inherited threads or half-built arrays); max_tasks_per_child
    # returns each partition's memory to the system instead of letting a worker's heap grow to its largest part
    with ProcessPoolExecutor(max_workers=min(workers, len(plans)), mp_context=mp.get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        return list(pool.map(_part_job, jobs))


def summarise_parts(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The book's counts from the partitions' summaries (customers, invoices, defaults, parts)."""
    return {key: int(sum(s.get(key, 0) for s in summaries)) for key in ("customers", "invoices", "defaults")} | {
        "parts": len(summaries)}


def sim_memory_gb(per_part: int) -> float:
    """Planned peak memory of one process simulating a partition of ``per_part`` customers (GB).

    Measured 2026-11-30 with ``/usr/bin/time`` (one partition, ``simulate_part``, the book of issue 8):
    0.68 GB at 10,000 customers, 1.48 GB at 25,000 and 2.72 GB at 50,000, i.e. about 0.17 GB for the
    interpreter and 51 KB a customer; 0.25 GB + 55 KB is planned. (The earlier plan, 0.3 GB + 25 KB,
    came from the book before issue 8; that book's ledger peak was 4.3 GB at 50,000 customers until
    ``sim_history._intervals_to_grid`` expanded its months in blocks, so two workers passed 8 GB.)
    """
    return 0.25 + per_part * 55e3 / 1e9


def sim_workers(per_part: int, ceiling_gb: float, cpus: int | None, requested: int = 0) -> int:
    """Partitions simulated at once: ``requested``, or as many as the CPUs and the memory ceiling allow."""
    if requested > 0:
        return requested
    return int(max(1, min(cpus or 1, np.floor(ceiling_gb / sim_memory_gb(per_part)))))
