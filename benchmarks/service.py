"""Service benchmark: drive `riskmodel serve` over loopback at a fixed request rate and report latency.

Run from the project root::

    python benchmarks/service.py --rate 200                  # 200 requests/s for 30 s, one customer per request
    python benchmarks/service.py --rate 200 --duration 10 --workers 2 --project /tmp/svc-bench

It trains the shipped default model on a simulated base (``--customers``),
exports the bundle into a project folder (a temporary one, or ``--project``,
which is kept and reused by later runs so that they skip the training), starts
``riskmodel serve`` there as a subprocess on a free loopback port (optionally
pinned to ``--server-cpus``), waits for ``/health``, warms it up, then sends
``POST /v1/score`` requests **open-loop**: request i is due at
``start + i / rate`` whatever the answers before it (a slow server is not
given a rest), from an asynchronous httpx client with up to ``--concurrency``
requests in flight.  Latency is measured from the due time, so queueing in the
client or the server is charged to the server (no coordinated omission).

Printed: requests sent, answered 2xx, non-2xx answers by status, transport
errors (timeouts, resets) by kind; the requested rate, the rate at which the
requests were actually sent and the rate of 2xx answers; p50 / p95 / p99 / max
latency of the 2xx answers; the server's micro-batch sizes (from its log); the server's CPU time per request (all its
processes, from /proc: the figure that contention moves least); the machine's
load average before and after, next to its CPU count.  A warning is printed
when the answered rate falls short of the requested one or the client could
not keep up; the exit code is 1 when any request failed or the rate was not
achieved.  Timings on a shared machine are not comparable with an idle one:
the load average is there to say which it was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

SHORTFALL = 0.95  # answered rate below this share of the requested rate -> warning and exit code 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _payloads(table, features: list[str], levels: dict, n: int) -> list[bytes]:
    import pandas as pd

    from riskmodel.data import schemas as S

    rows = table[table[S.SNAPSHOT_DATE] == table[S.SNAPSHOT_DATE].max()].head(n)
    out = []
    for _, r in rows.iterrows():
        feats = {f: (None if pd.isna(r[f]) else (str(r[f]) if f in levels else float(r[f]))) for f in features}
        out.append(json.dumps({"customers": [{"customer_id": str(r[S.CUSTOMER_ID]), "features": feats}]}).encode())
    return out


def _tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and all its descendants (Linux /proc; None elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo, seen = 0.0, [pid], set()
    try:
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo.extend(int(k) for k in kids)
    except OSError:
        return None
    return total


async def _drive(url: str, payloads: list[bytes], rate: float, duration: float, concurrency: int) -> dict:
    """Send ``rate * duration`` requests open-loop; latency of each 2xx answer from its due time."""
    import httpx

    n = int(round(rate * duration))
    lat = np.full(n, np.nan)
    dispatch_lag = np.full(n, np.nan)  # how late this client created request i (its own scheduling delay)
    statuses: dict[str, int] = {}
    failures: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as client:
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = start + i / rate
            async with sem:  # waiting here (server too slow) counts in the latency: it is measured from `due`
                try:
                    r = await client.post("/v1/score", content=payloads[i % len(payloads)], headers=headers)
                except httpx.HTTPError as err:
                    failures[type(err).__name__] = failures.get(type(err).__name__, 0) + 1
                    return
            if 200 <= r.status_code < 300:
                lat[i] = time.perf_counter() - due
            else:
                statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1

        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            dispatch_lag[i] = time.perf_counter() - (start + i / rate)
            tasks.append(asyncio.create_task(one(i)))
        send_end = time.perf_counter()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    ok = lat[~np.isnan(lat)] * 1000.0

    def pct(q: float) -> float | None:
        return float(np.percentile(ok, q)) if ok.size else None

    scheduled = n / rate
    return {"requests": n, "ok": int(ok.size), "non_2xx": statuses, "transport_errors": failures,
            "errors": sum(statuses.values()) + sum(failures.values()), "elapsed_s": elapsed,
            "requested_rps": rate,
            "sent_rps": n / max(send_end - start, (n - 1) / rate, 1e-9),  # the last request is due at (n-1)/rate
            "answered_rps": ok.size / max(elapsed, scheduled),
            "client_lag_p99_ms": float(np.percentile(dispatch_lag, 99) * 1000.0) if n else None,
            "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": float(ok.max()) if ok.size else None,
            "_trace": [(i / rate, None if np.isnan(x) else float(x) * 1000.0) for i, x in enumerate(lat)]}


def _project(args: argparse.Namespace) -> tuple[Path, list[bytes], str]:
    """A project folder with the champion, params.yaml and request bodies (trained now, or reused)."""
    import yaml

    from riskmodel.config import DEFAULT_PARAMS

    root = Path(args.project) if args.project else Path(tempfile.mkdtemp(prefix="riskmodel-service-bench-"))
    bodies = root / "payloads.jsonl"
    if not (bodies.is_file() and (root / "models" / "champion").is_dir() and (root / "params.yaml").is_file()):
        from _champion import train_champion

        champ = train_champion(args.customers, {"models": {"n_jobs": args.threads}})
        champ.bundle.save(root / "models" / "champion")
        payloads = _payloads(champ.table, champ.bundle.features, champ.bundle.manifest["categorical_levels"], 500)
        params = yaml.safe_load(DEFAULT_PARAMS.read_text())
        params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
        params["models"]["n_jobs"] = args.threads
        (root / "params.yaml").write_text(yaml.safe_dump(params))
        bodies.write_bytes(b"\n".join(payloads) + b"\n")
        about = f"trained on {args.customers:,} simulated customers in {champ.seconds:.0f} s"
    else:
        about = f"reused from {root}"
    payloads = [ln for ln in bodies.read_bytes().splitlines() if ln.strip()]
    return root, payloads, about


def _loadavg() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second (open loop)")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight at most (client connections)")
    ap.add_argument("--customers", type=int, default=2000, help="simulated customers to train on")
    ap.add_argument("--threads", type=int, default=2, help="LightGBM / numba threads of the server")
    ap.add_argument("--workers", type=int, default=None, help="server worker processes (default: params.yaml)")
    ap.add_argument("--server-cpus", default=None, help="pin the server to these CPUs, e.g. 0,1")
    ap.add_argument("--project", default=None, help="keep the project (bundle, params, request bodies) in this "
                                                     "folder and reuse it when it is there (skips training)")
    ap.add_argument("--trace", type=Path, default=None, help="write each request's due time (s) and latency (ms) "
                    "here, CSV: where in the run the slow answers are")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up at 50 requests/s, not counted")
    args = ap.parse_args()
    if args.rate <= 0 or args.duration <= 0:
        ap.error("--rate and --duration must be positive")

    root, payloads, about = _project(args)
    cmd = [sys.executable, "-m", "riskmodel.cli", "serve", "--params", str(root / "params.yaml")]
    port = _free_port()
    cmd += ["--port", str(port)] + (["--workers", str(args.workers)] if args.workers else [])
    env = {**os.environ, "NUMBA_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("RISKMODEL_API_KEY", None)
    cpus = [int(c) for c in args.server_cpus.split(",")] if args.server_cpus else None
    print(f"# service benchmark: {len(payloads)} distinct one-customer requests, model {about}; "
          f"{args.rate:g} requests/s for {args.duration:g} s, at most {args.concurrency} in flight; "
          f"{os.cpu_count()} CPUs, load average {_loadavg()} (1/5/15 min) before", flush=True)
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                              preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise SystemExit("the server stopped: " + (root / "server.log").read_text()[-2000:])
            try:
                if httpx.get(url + "/health", timeout=1).json().get("model_loaded"):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 180 s")
            time.sleep(0.2)
        warm = asyncio.run(_drive(url, payloads, 50.0, args.warmup, args.concurrency))  # caches, connections
        if warm["errors"]:
            print(f"warm-up errors: {warm['non_2xx']} {warm['transport_errors']}")
        cpu0 = _tree_cpu_seconds(server.pid)
        res = asyncio.run(_drive(url, payloads, args.rate, args.duration, args.concurrency))
        cpu1 = _tree_cpu_seconds(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    res["server_cpu_ms_per_request"] = (None if cpu0 is None or cpu1 is None or not res["requests"]
                                        else (cpu1 - cpu0) * 1000.0 / res["requests"])
    res["loadavg_after"] = _loadavg()
    res["cpus"] = os.cpu_count()

    def ms(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f} ms"

    print(f"requests {res['requests']:,} in {res['elapsed_s']:.1f} s: {res['ok']:,} answered 2xx, "
          f"{res['errors']} failed (non-2xx {res['non_2xx'] or 0}, transport {res['transport_errors'] or 0})")
    print(f"rate requested {res['requested_rps']:.1f}/s, sent {res['sent_rps']:.1f}/s, answered 2xx "
          f"{res['answered_rps']:.1f}/s (this client's dispatch lag p99 {ms(res['client_lag_p99_ms'])})")
    print(f"latency p50 {ms(res['p50_ms'])}, p95 {ms(res['p95_ms'])}, p99 {ms(res['p99_ms'])}, "
          f"max {ms(res['max_ms'])}")
    cpu = res["server_cpu_ms_per_request"]
    print(f"server CPU {ms(cpu)} per request; load average after {res['loadavg_after']} on {res['cpus']} CPUs")
    batching = [ln.split("micro-batching: ", 1)[1] for ln in (root / "server.log").read_text().splitlines()
                if "micro-batching: " in ln]  # the server's batch sizes (logged at shutdown, warm-up included)
    if batching:
        print("server micro-batching (warm-up included): " + batching[-1])
    short = res["answered_rps"] < SHORTFALL * args.rate
    if short:
        print(f"WARNING: answered {res['answered_rps']:.1f} requests/s, below the requested {args.rate:g}/s: the "
              "server (or this client, see its dispatch lag) could not keep up; the latencies are not at that rate")
    if res["errors"]:
        print(f"WARNING: {res['errors']} request(s) failed")
    trace = res.pop("_trace")
    if args.trace is not None:
        args.trace.write_text("due_s,latency_ms\n" + "".join(f"{t:.4f},{'' if v is None else f'{v:.2f}'}\n"
                                                            for t, v in trace))
    print("RESULT " + json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()}))
    return 1 if (short or res["errors"]) else 0


if __name__ == "__main__":
    sys.exit(main())
