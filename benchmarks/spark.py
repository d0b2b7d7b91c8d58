"""Spark engine benchmark (issue 14.2/14.4): ``features`` and ``score`` on both engines, and a projection.

Run from the project root with a trained champion where ``--params`` points
(``paths.models_dir``; ``riskmodel demo`` or ``riskmodel train`` puts one there)::

    python benchmarks/spark.py --sizes 5000,10000 --work /tmp/spark-bench [--params params.yaml]
        [--stages score,features] [--executors 50 --cores 4]

For every size it simulates a base once, then runs ``riskmodel <stage> --engine local`` and
``--engine spark`` (params.yaml's ``spark`` block: ``local[2]`` by default), each in its own child
process, checks that both engines wrote the same output (the test suite's rules), and prints wall
time, the driver's peak memory (``ru_maxrss`` of the child; Spark's JVM and Python workers are
children of it and not counted), customers a second, and the Spark cost per
customer per core (wall time x cores / customers, which includes Spark's fixed start-up and job
overheads, so it over-states the cost at small sizes; with two or more sizes the slope between them
is printed too). From the slope (or the per-customer cost) it projects the time of 50 million
customers on ``--executors`` x ``--cores`` cores, assuming the work scales linearly with customers
and cores (each customer group is independent) and that the driver-side steps fit, which today they
do not at that size: see the printed caveats.

Times measured on a shared machine are only as good as the 1-minute load average it prints.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CORES_LOCAL = 2  # spark.master local[2]


def run_child(cmd: list[str], log: Path) -> tuple[float, float, float]:
    """Wall time (s), peak RSS of the child (GB) and the 1-minute load average when it ended."""
    t0 = time.perf_counter()
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}; see {log}")
    return wall, usage.ru_maxrss / 1024**2, os.getloadavg()[0]


def compare_outputs(work: Path, stage: str, n: int) -> str:
    """Whether both engines wrote the same output for ``stage``, by the issue's rule: the same rows in the
    same order; every text, grade, status and integer column equal; every float (PDs, limits) within 1e-9.
    The whole book's ``ptf_*`` indicators are sums over customer groups added in another order, so they
    (and the PDs of a champion whose level reads them) may differ in the last bits."""
    import numpy as np
    import pandas as pd

    from riskmodel.io import read_frame

    if stage == "score":
        a, b = (read_frame(work / f"scores_{n}_{e}.parquet") for e in ("local", "spark"))
    else:
        a, b = (read_frame(work / f"features_{n}_{e}" / "t.parquet") for e in ("local", "spark"))
    floats = [c for c in a.columns if pd.api.types.is_float_dtype(a[c].dtype)]
    try:
        pd.testing.assert_frame_equal(a.drop(columns=floats), b.drop(columns=floats), check_exact=True)
        pd.testing.assert_frame_equal(a[floats], b[floats], check_exact=False, rtol=0, atol=1e-9)
    except AssertionError as err:
        return f"engines DIFFER ({len(a)} / {len(b)} rows): {' '.join(str(err).split())[:300]}"
    gaps = {c: float(np.nanmax(np.abs(a[c].to_numpy(float) - b[c].to_numpy(float)), initial=0.0)) for c in floats}
    inexact = {c: g for c, g in gaps.items() if g > 0}
    worst = max(inexact, key=inexact.__getitem__) if inexact else None
    return (f"engines identical: {len(a):,} rows x {a.shape[1]} columns; {a.shape[1] - len(inexact)} columns bit for "
            f"bit, {len(inexact)} float columns within 1e-9"
            + (f" (largest gap {inexact[worst]:.1e}, {worst})" if worst else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="5000,10000")
    ap.add_argument("--work", type=Path, default=Path("/tmp/spark-bench"))
    ap.add_argument("--params", type=Path, default=None)
    ap.add_argument("--stages", default="score,features")
    ap.add_argument("--as-of", default="2024-12-31")
    ap.add_argument("--executors", type=int, default=50)
    ap.add_argument("--cores", type=int, default=4)
    args = ap.parse_args()
    exe = [str(Path(sys.executable).parent / "riskmodel")]
    params = ["--params", str(args.params)] if args.params else []
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / "bench.log"
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        raw = args.work / f"raw_{n}"
        if not (raw / "customers.parquet").is_file():
            run_child([*exe, "simulate", "--customers", str(n), "--out", str(raw), *params], log)
        for stage in args.stages.split(","):
            for engine in ("local", "spark"):
                if stage == "score":
                    cmd = [*exe, "score", "--as-of", args.as_of, "--data", str(raw),
                           "--out", str(args.work / f"scores_{n}_{engine}.parquet")]
                else:
                    cmd = [*exe, "features", "--data", str(raw), "--allow-partial-labels",
                           "--out", str(args.work / f"features_{n}_{engine}" / "t.parquet")]
                wall, gb, load = run_child([*cmd, "--engine", engine, *params], log)
                rows.append((n, stage, engine, wall, gb, load))
                print(f"{n:>9,} {stage:<8} {engine:<5} {wall:8.1f} s  driver peak {gb:5.2f} GB  "
                      f"{n / wall:8.0f} customers/s  load {load:5.1f}", flush=True)
            print(f"{n:>9,} {stage:<8} " + compare_outputs(args.work, stage, n), flush=True)
    print("\nSpark cost per customer per core (wall x cores / customers, start-up included):")
    proj = 50_000_000
    for stage in args.stages.split(","):
        pts = sorted((n, w) for n, s, e, w, _, _ in rows if s == stage and e == "spark")
        if not pts:
            continue
        per = [w * CORES_LOCAL / n * 1e3 for n, w in pts]
        print(f"  {stage}: " + ", ".join(f"{c:.2f} ms at {n:,}" for c, (n, _) in zip(per, pts, strict=True)))
        if len(pts) >= 2:
            (n0, w0), (n1, w1) = pts[0], pts[-1]
            slope = max((w1 - w0) / (n1 - n0), 0.0) * CORES_LOCAL  # core-seconds per customer
            basis = f"slope between {n0:,} and {n1:,}"
        else:
            slope, basis = per[-1] / 1e3, f"per-customer cost at {pts[-1][0]:,} (start-up included)"
        hours = proj * slope / (args.executors * args.cores) / 3600
        print(f"  {stage}: 50,000,000 customers on {args.executors} executors x {args.cores} cores "
              f"= {args.executors * args.cores} cores: about {hours:.1f} h of work ({basis}; {slope * 1e3:.2f} "
              "core-ms a customer), assuming linear scaling, the same per-core speed as this machine, and "
              "customer groups that fit an executor")
    print("\nCaveats: the driver holds the book's ledger columns for the portfolio indicators (about 60-90 bytes an "
          "invoice, so about 0.3-0.5 TB at 50 million customers of this book) and gathers the single output file; "
          "both must be distributed before 50 million customers can run (the _parts output already is).")


if __name__ == "__main__":
    main()
