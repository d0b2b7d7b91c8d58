"""Issue 11.6: `riskmodel serve --workers N` runs N worker processes, each with the verified champion, over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from _scoring_helpers import project_on_disk, world
from riskmodel.data import schemas as S

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def test_two_workers_serve_the_same_answers_as_the_scorer(tmp_path: Path) -> None:
    from riskmodel.config import load_settings
    from riskmodel.scoring import Scorer

    root, pfile = project_on_disk(tmp_path)
    w = world()
    bundle = w.bundles["lightgbm"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = Path(sys.executable).with_name("riskmodel")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "riskmodel.cli"]
    env = {k: v for k, v in os.environ.items() if k != "RISKMODEL_API_KEY"}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([*cmd, "serve", "--workers", "2", "--port", str(port), "--params", str(pfile)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(url + "/health", timeout=2).json().get("model_loaded"):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "no worker was ready within 600 s"
            time.sleep(0.5)
        assert len(_children(server.pid)) >= 2  # uvicorn's supervisor with its two worker processes

        t = w.table
        rows = t[t[S.SNAPSHOT_DATE] == t[S.SNAPSHOT_DATE].max()].head(8)
        levels = bundle.manifest["categorical_levels"]
        records = [{f: (None if pd.isna(r[f]) else (str(r[f]) if f in levels else float(r[f])))
                    for f in bundle.features} for _, r in rows.iterrows()]
        ids = [str(c) for c in rows[S.CUSTOMER_ID]]
        settings = load_settings(pfile)
        expected = Scorer(bundle, settings.scoring, limit_review=settings.limit_review).explain_records(records, ids)
        with httpx.Client(base_url=url, timeout=60) as client:
            for rec, cid, exp in zip(records, ids, expected, strict=True):  # keep-alive off: requests spread over the workers
                r = client.post("/v1/score", json={"customers": [{"customer_id": cid, "features": rec}]},
                                headers={"connection": "close"})
                assert r.status_code == 200, r.text[:500]
                assert r.headers["content-type"].startswith("application/json")
                got = r.json()["results"][0]
                assert got["customer_id"] == cid and got["status"] == exp.status and got["grade"] == exp.grade
                assert got["pd"] == pytest.approx(exp.pd, rel=1e-9, abs=1e-12)
                assert [x["feature"] for x in got["reasons_up"]] == [x["feature"] for x in exp.reasons_up]
            bad = client.post("/v1/score", json={"customers": [{"features": {"pay_share_late_12m": 7.0}}]})
            assert bad.status_code == 422 and "plausible range" in bad.text
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
