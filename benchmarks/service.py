"""Service benchmark: drive `riskmodel serve` over loopback at a fixed request rate and report latency.

Run from the project root::

    python benchmarks/service.py                         # 100 requests/s for 30 s, one customer per request
    python benchmarks/service.py --rate 200 --duration 10 --server-cpus 0,1

It trains the shipped default model on a simulated base (``--customers``),
exports the bundle into a temporary project folder, starts ``riskmodel serve``
there as a subprocess on a free loopback port (optionally pinned to
``--server-cpus``), waits for ``/health``, then sends ``POST /v1/score``
requests open-loop: request i is due at ``start + i / rate`` whatever the
answers before it, from an asynchronous httpx client with up to
``--concurrency`` requests in flight.  Latency is measured from the due time
(so a server that falls behind is charged for the queueing).  The run stops
itself after ``--duration`` seconds, then stops the server.  Prints p50 / p90 /
p99 / max latency, throughput and the error count.
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


async def _drive(url: str, payloads: list[bytes], rate: float, duration: float, concurrency: int) -> dict:
    import httpx

    n = int(rate * duration)
    lat = np.full(n, np.nan)
    errors: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as client:
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = start + i / rate
            async with sem:
                try:
                    r = await client.post("/v1/score", content=payloads[i % len(payloads)],
                                          headers={"content-type": "application/json"})
                    if r.status_code != 200:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                        return
                except httpx.HTTPError as err:
                    errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
                    return
            lat[i] = time.perf_counter() - due

        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    ok = lat[~np.isnan(lat)] * 1000.0
    return {"requests": n, "ok": int(ok.size), "errors": errors, "elapsed_s": elapsed,
            "throughput_rps": ok.size / elapsed,
            "p50_ms": float(np.percentile(ok, 50)) if ok.size else None,
            "p90_ms": float(np.percentile(ok, 90)) if ok.size else None,
            "p99_ms": float(np.percentile(ok, 99)) if ok.size else None,
            "max_ms": float(ok.max()) if ok.size else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight at most")
    ap.add_argument("--customers", type=int, default=2000, help="simulated customers to train on")
    ap.add_argument("--threads", type=int, default=2, help="LightGBM / numba threads of the server")
    ap.add_argument("--server-cpus", default=None, help="pin the server to these CPUs, e.g. 0,1")
    args = ap.parse_args()

    import yaml
    from _champion import train_champion

    from riskmodel.config import DEFAULT_PARAMS

    champ = train_champion(args.customers, {"models": {"n_jobs": args.threads}})
    print(f"# service benchmark: {champ.bundle.model_name} {champ.bundle.version}, {len(champ.bundle.features)} "
          f"features; {args.rate:.0f} requests/s for {args.duration:.0f} s, one customer per request", flush=True)
    with tempfile.TemporaryDirectory(prefix="riskmodel-service-bench-") as tmp:
        root = Path(tmp)
        champ.bundle.save(root / "models" / "champion")
        params = yaml.safe_load(DEFAULT_PARAMS.read_text())
        params["paths"] = {k: str(root / v) for k, v in params["paths"].items()}
        params["models"]["n_jobs"] = args.threads
        (root / "params.yaml").write_text(yaml.safe_dump(params))
        port = _free_port()
        env = {**os.environ, "NUMBA_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
        env.pop("RISKMODEL_API_KEY", None)
        cpus = [int(c) for c in args.server_cpus.split(",")] if args.server_cpus else None
        server = subprocess.Popen(
            [sys.executable, "-m", "riskmodel.cli", "serve", "--params", str(root / "params.yaml"),
             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 120
            while True:
                if server.poll() is not None:
                    raise SystemExit("the server stopped: " + server.stderr.read().decode()[-2000:])
                try:
                    if httpx.get(url + "/health", timeout=1).json().get("model_loaded"):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start within 120 s")
                time.sleep(0.2)
            payloads = _payloads(champ.table, champ.bundle.features, champ.bundle.manifest["categorical_levels"], 500)
            warm = asyncio.run(_drive(url, payloads, 50.0, 2.0, args.concurrency))  # JIT, caches, connections
            if warm["errors"]:
                print(f"warm-up errors: {warm['errors']}")
            res = asyncio.run(_drive(url, payloads, args.rate, args.duration, args.concurrency))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    print(f"requests {res['requests']:,} in {res['elapsed_s']:.1f} s: {res['ok']:,} ok, errors "
          f"{sum(res['errors'].values())} {res['errors'] or ''}")
    print(f"throughput {res['throughput_rps']:.1f} requests/s")
    print(f"latency p50 {res['p50_ms']:.1f} ms, p90 {res['p90_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms, "
          f"max {res['max_ms']:.1f} ms")
    print("RESULT " + json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()}))


if __name__ == "__main__":
    main()
