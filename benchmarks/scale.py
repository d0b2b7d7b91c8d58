"""Scale benchmark (issue 14.4): wall time and peak memory of each stage as a user runs it, at several sizes.

Run from the project root (a trained champion must be where ``--params`` points,
``paths.models_dir``; ``riskmodel demo`` or ``riskmodel train`` puts one there)::

    python benchmarks/scale.py --sizes 10000,50000,100000 --repeats 3 --work /tmp/scale-bench
    python benchmarks/scale.py --sizes 2000 --repeats 1 --params /tmp/p/params.yaml --json out.json

For every size it simulates a base once (timed like the other stages), then runs
``riskmodel features`` and ``riskmodel score --as-of`` (with reasons) ``--repeats``
times each, every command in its own child process, and reports per stage:

* wall time, min and median over the repeats;
* peak memory of the command, max and median: the larger of ``ru_maxrss`` from
  ``os.wait4`` (the largest single process of the tree, exact) and the largest sum of
  the tree's resident memory sampled every 0.25 s (``simulate --partitioned`` runs
  partitions in parallel child processes, which ``ru_maxrss`` alone does not add up);
* the cost per million invoices (median seconds / invoices x 1e6) and customers a second,
  so that a time per invoice that grows with the book shows as a growing cost;
* the 1-minute load average before and after each command: on a shared machine the
  times are only as good as the load says, memory is not affected.

Only the single-machine engine is measured here; `benchmarks/spark.py` runs the same stages on both
engines and projects 50 million customers on a stated number of Spark executors.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def _tree_rss_sampler(pid: int, stop: threading.Event, peak: list[float], every_s: float = 0.25) -> None:
    """Largest sum of resident memory of ``pid`` and its descendants seen while it runs (GB).

    ``ru_maxrss`` is the peak of the largest single process: a command that works
    on partitions in parallel child processes holds the sum of theirs at once.
    """
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        total = 0
        try:
            for proc in [root, *root.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
        except psutil.NoSuchProcess:
            return
        peak[0] = max(peak[0], total / 1024**3)
        stop.wait(every_s)


def run_child(cmd: list[str], log: Path) -> dict[str, float]:
    """Run one command; its wall time, peak memory (GB) and the load around it.

    ``peak_gb`` is the larger of ``ru_maxrss`` from ``wait4`` (the largest single
    process of the tree, exact) and the sampled sum over the process tree (every
    0.25 s: catches parallel workers, may miss a peak shorter than a sample).
    Any engine's stage runs through here: pass the command line.
    """
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        stop, tree = threading.Event(), [0.0]
        sampler = threading.Thread(target=_tree_rss_sampler, args=(proc.pid, stop, tree), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        stop.set()
        sampler.join()
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {code}; see {log}")
    maxrss = usage.ru_maxrss / 1024**2
    return {"wall_s": wall, "peak_gb": max(maxrss, tree[0]), "maxrss_gb": maxrss, "tree_peak_gb": tree[0],
            "cpu_s": usage.ru_utime + usage.ru_stime, "load_before": load0, "load_after": os.getloadavg()[0]}


def count_rows(folder: Path, table: str) -> int:
    """Rows of one table in a raw folder (Parquet metadata only: nothing is loaded)."""
    import pyarrow.dataset as ds

    single = folder / f"{table}.parquet"
    return ds.dataset(single if single.exists() else folder / table, format="parquet").count_rows()


def summarise(runs: list[dict[str, float]], invoices: int, customers: int) -> dict[str, Any]:
    """Min / median wall time, max / median peak memory, cost per million invoices, load seen."""
    walls = [r["wall_s"] for r in runs]
    peaks = [r["peak_gb"] for r in runs]
    med = statistics.median(walls)
    return {"repeats": len(runs), "wall_min_s": min(walls), "wall_median_s": med,
            "peak_max_gb": max(peaks), "peak_median_gb": statistics.median(peaks),
            "s_per_million_invoices": med / invoices * 1e6 if invoices else None,
            "customers_per_s": customers / med if med else None,
            "load_min": min(min(r["load_before"], r["load_after"]) for r in runs),
            "load_max": max(max(r["load_before"], r["load_after"]) for r in runs), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,50000,100000", help="customers, comma separated")
    ap.add_argument("--repeats", type=int, default=3, help="runs of features and score per size")
    ap.add_argument("--work", type=Path, default=Path("/tmp/riskmodel-scale-bench"), help="scratch folder")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml (champion, ceilings)")
    ap.add_argument("--as-of", default="2024-12-31", help="scoring date")
    ap.add_argument("--stages", default="simulate,features,score")
    ap.add_argument("--partition-customers", type=int, default=0,
                    help="simulate --partitioned with this many customers a partition (0: one file per table)")
    ap.add_argument("--keep", action="store_true", help="keep the simulated bases")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    exe = [sys.executable, "-m", "riskmodel.cli"]
    stages = args.stages.split(",")
    results: list[dict[str, Any]] = []
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / "bench.log"
    params, layout = args.params.resolve(), []
    if args.partition_customers:  # a params copy with scale.partition_customers, its paths made absolute
        import yaml

        from riskmodel.config import load_settings

        base = load_settings(params)
        doc = yaml.safe_load(params.read_text(encoding="utf-8"))
        doc["paths"] = {k: str(base.resolve(v)) for k, v in doc.get("paths", {}).items()}
        doc.setdefault("scale", {})["partition_customers"] = args.partition_customers
        params = args.work / "params.yaml"
        params.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        layout = ["--partitioned"]
    print(f"# riskmodel scale benchmark, {os.cpu_count()} CPUs, load {os.getloadavg()}, log {log}", flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        raw = args.work / f"c{n}" / "raw"
        row: dict[str, Any] = {"customers": n, "partition_customers": args.partition_customers or None}
        if "simulate" in stages or not raw.exists():
            row["simulate"] = [run_child([*exe, "simulate", "--customers", str(n), "--out", str(raw), *layout,
                                          "-p", str(params)], log)]
        invoices = count_rows(raw, "invoices")
        row["invoices"] = invoices
        if "simulate" in row:
            row["simulate"] = summarise(row["simulate"], invoices, n)
        if "features" in stages:
            out = args.work / f"c{n}" / "modelling_table.parquet"
            row["features"] = summarise([run_child([*exe, "features", "--data", str(raw), "--out", str(out),
                                                    "-p", str(params)], log)
                                         for _ in range(args.repeats)], invoices, n)
        if "score" in stages:
            out = args.work / f"c{n}" / "scores.parquet"
            row["score"] = summarise([run_child([*exe, "score", "--as-of", args.as_of, "--data", str(raw),
                                                 "--out", str(out), "-p", str(params)], log)
                                      for _ in range(args.repeats)], invoices, n)
        results.append(row)
        for stage in ("simulate", "features", "score"):
            if stage in row:
                s = row[stage]
                print(f"{'parts ' if layout else ''}{n:>9,} customers {invoices:>11,} invoices  {stage:<8} wall min {s['wall_min_s']:7.1f} s "
                      f"median {s['wall_median_s']:7.1f} s  peak {s['peak_max_gb']:5.2f} GB  "
                      f"{s['s_per_million_invoices']:6.1f} s/M invoices  {s['customers_per_s']:8.0f} cust/s  "
                      f"load {s['load_min']:.1f}-{s['load_max']:.1f}  (n={s['repeats']})", flush=True)
        if not args.keep:
            import shutil

            shutil.rmtree(raw, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
