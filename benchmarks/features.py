"""Benchmark: the full point-in-time modelling table for a large simulated customer base.

Simulates (or reuses a cached Parquet copy of) a base of 100,000 customers
with about 10 million invoices, builds the modelling table for 24 quarter-end
snapshots (all four evidence families and the label) and prints wall time,
rows/s and peak memory, next to a reference figure measured in the same run
(one plain pandas groupby-sum pass over all invoices).

    python benchmarks/features.py                      # 100,000 customers, 24 snapshots
    python benchmarks/features.py --customers 20000 --snapshots 12
    python benchmarks/features.py --engines            # also time the engine comparison

Target (issue 2): <= 30 s and <= 8 GB on the 2-core development machine; stretch 10 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskmodel.config import FeatureSettings, SnapshotSettings
from riskmodel.data import schemas as S
from riskmodel.data.tables import Tables
from riskmodel.features.build import build_modelling_table

START = dt.date(2019, 1, 1)
TARGET_S, STRETCH_S, TARGET_GB = 30.0, 10.0, 8.0


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def fallback_tables(n: int, years: int, seed: int) -> Tables:
    """A synthetic ledger of the right shape, used only when the simulator cannot be imported."""
    from riskmodel.data.tables import Tables

    rng = np.random.default_rng(seed)
    ids = pd.array([f"C{i:07d}" for i in range(n)], dtype="str")
    days = (dt.date(START.year + years, 1, 1) - START).days
    t0 = np.datetime64(START.isoformat())

    def dates(offsets):
        return (t0 + np.asarray(offsets).astype("timedelta64[D]")).astype("datetime64[ns]")

    customers = pd.DataFrame(
        {
            S.CUSTOMER_ID: ids,
            S.INDUSTRY: pd.Categorical.from_codes(
                rng.integers(0, len(S.INDUSTRIES), n), list(S.INDUSTRIES)
            ),
            S.REGION: pd.Categorical.from_codes(
                rng.integers(0, len(S.REGIONS), n), list(S.REGIONS)
            ),
            S.LEGAL_FORM: pd.Categorical.from_codes(
                rng.integers(0, len(S.LEGAL_FORMS), n), list(S.LEGAL_FORMS)
            ),
            S.FOUNDED_DATE: dates(-rng.integers(400, 9000, n)),
            S.REGISTERED_CAPITAL: rng.lognormal(11, 1, n),
            S.PAID_IN_CAPITAL: 0.0,
            S.ONBOARDED_DATE: dates(rng.integers(-365, days // 2, n)),
            S.BUSINESS_SCOPE_OK: rng.random(n) < 0.95,
            S.ADDRESS_VERIFIED: rng.random(n) < 0.95,
            S.PAYMENT_TERMS_DAYS: rng.choice([30, 45, 60], n),
            S.CREDIT_LIMIT: rng.lognormal(9.5, 1, n),
        }
    )
    customers[S.PAID_IN_CAPITAL] = customers[S.REGISTERED_CAPITAL] * rng.uniform(0.2, 1, n)
    m = n * years * 17
    c = rng.integers(0, n, m)
    issued = np.sort(rng.integers(0, days, m))
    due = issued + customers[S.PAYMENT_TERMS_DAYS].to_numpy()[c]
    paid = due + np.where(rng.random(m) < 0.45, rng.geometric(0.08, m), -rng.integers(0, 10, m))
    paid = np.maximum(paid, issued)
    open_ = (paid >= days) | (rng.random(m) < 0.01)
    amount = np.round(rng.lognormal(8, 1, m), 2)
    invoices = pd.DataFrame(
        {
            S.INVOICE_ID: pd.array(np.char.add("I", np.arange(m).astype(str)), dtype="str"),
            S.CUSTOMER_ID: ids.take(c),
            S.INVOICE_DATE: dates(issued),
            S.DUE_DATE: dates(due),
            S.AMOUNT: amount,
            S.PAID_DATE: pd.Series(dates(paid)).mask(open_).to_numpy(),
            S.PAID_AMOUNT: np.where(open_, np.nan, amount),
        }
    )
    k = n * years
    fc = np.repeat(np.arange(n), years)
    ta = rng.lognormal(13, 1, k)
    fin = {
        S.CUSTOMER_ID: ids.take(fc),
        S.PERIOD_END: dates(np.tile(np.arange(years) * 365 + 364, n)),
    }
    for col, share in (
        (S.REVENUE, 2.0),
        (S.EBIT, 0.1),
        (S.NET_INCOME, 0.05),
        (S.INTEREST_EXPENSE, 0.02),
        (S.OPERATING_CASH_FLOW, 0.08),
        (S.CURRENT_ASSETS, 0.6),
        (S.CASH, 0.1),
        (S.INVENTORY, 0.2),
        (S.RECEIVABLES, 0.2),
        (S.TOTAL_LIABILITIES, 0.6),
        (S.CURRENT_LIABILITIES, 0.4),
        (S.EQUITY, 0.4),
        (S.RETAINED_EARNINGS, 0.2),
    ):
        fin[col] = ta * share * rng.uniform(0.5, 1.5, k)
    fin[S.TOTAL_ASSETS] = ta
    fin[S.AUDITED] = rng.random(k) < 0.5
    financials = pd.DataFrame(fin)[list(S.SPECS[S.FINANCIALS].column_names)]
    v = n * years
    visits = pd.DataFrame(
        {
            S.VISIT_ID: pd.array(np.char.add("V", np.arange(v).astype(str)), dtype="str"),
            S.CUSTOMER_ID: ids.take(rng.integers(0, n, v)),
            S.VISIT_DATE: dates(rng.integers(0, days, v)),
            S.VISITOR_ID: "S1",
            **{r: pd.array(rng.integers(1, 6, v), dtype="Int64") for r in S.VISIT_RATINGS},
            S.LICENCE_CHECKED: rng.random(v) < 0.5,
            S.LAVISH_OFFICE: rng.random(v) < 0.03,
            S.NOTES: pd.array([None] * v, dtype="str"),
        }
    )
    e = n * years * 3
    events = pd.DataFrame(
        {
            S.EVENT_ID: pd.array(np.char.add("E", np.arange(e).astype(str)), dtype="str"),
            S.CUSTOMER_ID: ids.take(rng.integers(0, n, e)),
            S.EVENT_DATE: dates(rng.integers(0, days, e)),
            S.EVENT_TYPE: pd.Categorical.from_codes(rng.integers(0, 5, e), list(S.EVENT_TYPES)),
            S.VALUE: rng.integers(1, 6, e).astype(float),
        }
    )
    d = n // 5
    defaults = pd.DataFrame(
        {
            S.CUSTOMER_ID: ids.take(rng.choice(n, d, replace=False)),
            S.DEFAULT_DATE: dates(rng.integers(200, days, d)),
            S.KIND: pd.Categorical(["dpd90"] * d, categories=list(S.DEFAULT_KINDS)),
        }
    )
    return Tables(customers, invoices, financials, visits, events, defaults)


def load_or_simulate(cache: Path, n: int, years: int, seed: int) -> tuple[Tables, str]:
    """The tables from the Parquet cache, or simulated (then cached); also a line saying which."""
    folder = cache / f"{n}c-{years}y-seed{seed}"
    if all((folder / f"{t}.parquet").is_file() for t in S.TABLE_NAMES):
        t0 = time.perf_counter()
        tables = Tables.from_dict(  # the optional history table too, when the simulator wrote it
            {t: pd.read_parquet(folder / f"{t}.parquet") for t in S.ALL_TABLE_NAMES
             if (folder / f"{t}.parquet").is_file()}
        )
        return tables, f"loaded from cache {folder} in {time.perf_counter() - t0:.1f} s"
    t0 = time.perf_counter()
    try:
        from riskmodel.data.simulator import simulate
    except ImportError as err:  # the simulator is written by another part of the project
        tables = fallback_tables(n, years, seed)
        how = f"SYNTHETIC FALLBACK ledger (simulator not importable: {err})"
    else:
        tables = simulate(n, START, years, seed).tables
        how = "simulated with riskmodel.data.simulator.simulate"
    elapsed = time.perf_counter() - t0
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.as_dict().items():
        tmp = folder / f".{name}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.replace(folder / f"{name}.parquet")
    return tables, f"{how} in {elapsed:.1f} s, cached in {folder}"


def snapshot_settings(tables: Tables, k: int) -> SnapshotSettings:
    """The last ``k`` quarter ends of the data period."""
    end = max(tables.invoices[S.INVOICE_DATE].max(), tables.defaults[S.DEFAULT_DATE].max())
    quarter_ends = pd.date_range(START, end, freq="QE")
    if len(quarter_ends) < k:
        sys.exit(
            f"only {len(quarter_ends)} quarter ends in the data; ask for fewer --snapshots or more --years"
        )
    chosen = quarter_ends[-k:]
    return SnapshotSettings(start=chosen[0].date(), end=chosen[-1].date())


def reference_pass(invoices: pd.DataFrame) -> float:
    """Seconds for one plain pandas groupby-sum over all invoices."""
    t0 = time.perf_counter()
    invoices.groupby(S.CUSTOMER_ID, observed=True)[S.AMOUNT].sum()
    return time.perf_counter() - t0


# ------------------------------------------------------------ engine comparison
def compare_engines(tables: Tables, snaps: pd.DatetimeIndex, windows: tuple[int, ...]) -> None:
    """Time one representative job with each engine: invoice counts and amounts issued in each
    window before each snapshot, for every customer (2 x len(windows) features x K snapshots)."""
    import duckdb
    import polars as pl

    from riskmodel.features.snapshots import Grid, customer_codes, to_days

    inv = tables.invoices[[S.CUSTOMER_ID, S.INVOICE_DATE, S.AMOUNT]]
    ids = pd.Index(np.sort(tables.customers[S.CUSTOMER_ID].to_numpy(dtype=object)))
    wmax = max(windows)
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    grid = Grid.build(snaps, ids, windows)
    key = grid.bin_key(
        grid.bin_of(to_days(inv[S.INVOICE_DATE])), customer_codes(inv[S.CUSTOMER_ID], ids, "inv")
    )
    cnt, amt = grid.totals(key), grid.totals(key, inv[S.AMOUNT].to_numpy())
    res_np = {w: (grid.window(cnt, w), grid.window(amt, w)) for w in windows}
    times["numpy: one pass, per-(bin, customer) bincount + window sums"] = time.perf_counter() - t0

    starts = {w: snaps - pd.DateOffset(months=w) for w in windows}
    snap_df = pd.DataFrame(
        {"k": np.arange(len(snaps)), "s": snaps, **{f"w{w}": starts[w] for w in windows}}
    )
    aggs = ", ".join(
        f"count(*) FILTER (WHERE i.{S.INVOICE_DATE} >= s.w{w}) AS n{w}, "
        f"sum(i.{S.AMOUNT}) FILTER (WHERE i.{S.INVOICE_DATE} >= s.w{w}) AS a{w}"
        for w in windows
    )
    con = duckdb.connect()
    con.register("inv", inv)
    con.register("snaps", snap_df)
    t0 = time.perf_counter()
    res_duck = con.sql(
        f"SELECT s.k, i.{S.CUSTOMER_ID}, {aggs} FROM inv i JOIN snaps s "
        f"ON i.{S.INVOICE_DATE} < s.s AND i.{S.INVOICE_DATE} >= s.w{wmax} GROUP BY ALL"
    ).df()
    times["duckdb: range join invoices x snapshots + filtered aggregates"] = (
        time.perf_counter() - t0
    )

    # the same one-pass algorithm as numpy, with DuckDB doing the (customer, bin) aggregation
    t0 = time.perf_counter()
    binned = inv.assign(bin=grid.bin_of(to_days(inv[S.INVOICE_DATE])))
    con.register("binned", binned)
    per_bin = con.sql(
        f"SELECT {S.CUSTOMER_ID}, bin, count(*) AS n, sum({S.AMOUNT}) AS a FROM binned GROUP BY ALL"
    ).df()
    codes = ids.get_indexer(per_bin[S.CUSTOMER_ID])
    key_b = per_bin["bin"].to_numpy() * len(ids) + codes
    cnt_b, amt_b = (
        grid.totals(key_b, per_bin["n"].to_numpy(float)),
        grid.totals(key_b, per_bin["a"].to_numpy()),
    )
    for w in windows:
        grid.window(cnt_b, w), grid.window(amt_b, w)
    times["duckdb: one pass GROUP BY (customer, bin) + numpy window sums"] = (
        time.perf_counter() - t0
    )

    t0 = time.perf_counter()
    lf = pl.from_pandas(inv).lazy()
    parts = []
    for k, s in enumerate(snaps):
        d = pl.col(S.INVOICE_DATE)
        parts.append(
            lf.filter((d < s) & (d >= starts[wmax][k]))
            .group_by(S.CUSTOMER_ID)
            .agg(
                [
                    e
                    for w in windows
                    for e in (
                        (d >= starts[w][k]).sum().alias(f"n{w}"),
                        pl.col(S.AMOUNT).filter(d >= starts[w][k]).sum().alias(f"a{w}"),
                    )
                ]
            )
            .with_columns(pl.lit(k).alias("k"))
        )
    res_pl = pl.concat(parts).collect()
    times["polars: K filtered group_by passes (lazy, parallel)"] = time.perf_counter() - t0

    # the engines agree on the numbers
    k_last = len(snaps) - 1
    got = res_duck[res_duck["k"] == k_last].set_index(S.CUSTOMER_ID)[f"n{windows[0]}"]
    mine = pd.Series(res_np[windows[0]][0][k_last], index=ids)
    assert (mine.reindex(got.index).to_numpy() == got.to_numpy()).all(), "numpy and duckdb disagree"
    assert len(res_pl) == len(res_duck), (
        "polars and duckdb disagree on the number of (snapshot, customer) rows"
    )

    print(
        f"engine comparison ({len(inv):,} invoices, {len(snaps)} snapshots, {2 * len(windows)} window "
        "features):"
    )
    for name, sec in times.items():
        print(f"  {sec:7.2f} s  {name}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--snapshots", type=int, default=24)
    ap.add_argument("--years", type=int, default=6, help="years of simulated history (default 6)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/riskmodel-bench-100k"))
    ap.add_argument(
        "--repeat", type=int, default=3, help="build this many times; report the fastest and the median"
    )
    ap.add_argument(
        "--engines", action="store_true", help="also time numpy vs DuckDB vs polars on one job"
    )
    args = ap.parse_args(argv)

    tables, how = load_or_simulate(args.cache, args.customers, args.years, args.seed)
    inv = tables.invoices
    print(
        f"data: {len(tables.customers):,} customers, {len(inv):,} invoices, {len(tables.financials):,} "
        f"statements, {len(tables.visits):,} visits, {len(tables.events):,} events, "
        f"{len(tables.defaults):,} defaults ({how})"
    )
    snap = snapshot_settings(tables, args.snapshots)
    print(
        f"snapshots: {args.snapshots} quarter ends {snap.start} .. {snap.end} (labels of snapshots within "
        "12 months of the data end are partially observed: allow_partial_labels=True)"
    )
    gc.collect()
    rss_loaded = peak_rss_gb()

    ref = min(reference_pass(inv) for _ in range(2))
    print(f"reference: one pandas groupby-sum pass over {len(inv):,} invoices: {ref:.2f} s")

    runs = []
    load0 = os.getloadavg()[0]
    for _ in range(max(1, args.repeat)):
        table = None
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        table = build_modelling_table(tables, snap, FeatureSettings(), allow_partial_labels=True)
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(runs)
    median = statistics.median(w for w, _ in runs)
    peak = peak_rss_gb()
    print(
        f"build_modelling_table: min {wall:.2f} s wall ({cpu:.2f} s CPU), median {median:.2f} s of "
        f"{len(runs)} run(s), {len(table):,} rows x {table.shape[1]} columns, {len(table) / wall:,.0f} rows/s, "
        f"default rate {table[S.LABEL].mean():.4f}; 1-minute load average {load0:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (on a shared machine the times are only as good as the load)"
    )
    if len(runs) > 1:
        print("  all runs (wall / CPU s): " + ", ".join(f"{w:.2f} / {c:.2f}" for w, c in runs))
    print(
        f"ratio build / reference pass: {wall / ref:.1f} (a naive per-snapshot build would cost about "
        f"{args.snapshots} x reference = {args.snapshots * ref:.1f} s for one aggregate)"
    )
    print(
        f"peak memory (max RSS of the process): {peak:.2f} GB; {rss_loaded:.2f} GB before building "
        f"(tables loaded)"
    )
    ok = wall <= TARGET_S and peak <= TARGET_GB
    print(
        f"target <= {TARGET_S:.0f} s and <= {TARGET_GB:.0f} GB: {'PASS' if ok else 'FAIL'}; "
        f"stretch <= {STRETCH_S:.0f} s: {'PASS' if wall <= STRETCH_S else 'not reached'}"
    )
    if args.engines:
        del table
        gc.collect()
        compare_engines(tables, pd.date_range(snap.start, snap.end, freq="QE"), (3, 6, 12, 24))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
