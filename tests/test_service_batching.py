"""Issue 11.6: micro-batching of POST /v1/score — same answers as alone, failures isolated, bounded queue, drain."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pandas as pd
import pytest

from _scoring_helpers import LiveServer, small_settings, world
from riskmodel.data import schemas as S
from riskmodel.scoring import Scorer
from riskmodel.service.app import create_app
from riskmodel.service.batching import MicroBatcher, QueueFullError, ShuttingDownError


@pytest.fixture(scope="module")
def records() -> tuple[Any, list[dict[str, Any]], list[str]]:
    """The lightgbm bundle and 12 customers' feature records (latest snapshot), as a client sends them."""
    w = world()
    bundle = w.bundles["lightgbm"]
    t = w.table
    rows = t[t[S.SNAPSHOT_DATE] == t[S.SNAPSHOT_DATE].max()].head(12)
    levels = bundle.manifest["categorical_levels"]
    recs = [{f: (None if pd.isna(r[f]) else (str(r[f]) if f in levels else float(r[f]))) for f in bundle.features}
            for _, r in rows.iterrows()]
    recs[3] = {f: recs[3][f] for f in list(recs[3])[:10]}  # a sparse record (most features missing) in the burst
    return bundle, recs, [str(c) for c in rows[S.CUSTOMER_ID]]


def _post_all(url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST the bodies at the same moment, each from its own thread and connection."""
    out: list[Any] = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def one(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            out[i] = client.post("/v1/score", json=bodies[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def _rounded(doc: Any) -> Any:
    """The JSON document with every float rounded to 12 significant digits (texts and ints unchanged)."""
    if isinstance(doc, dict):
        return {k: _rounded(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_rounded(v) for v in doc]
    return float(f"{doc:.12g}") if isinstance(doc, float) else doc


def test_a_burst_is_batched_and_each_answer_equals_scoring_it_alone(records, tmp_path) -> None:
    bundle, recs, ids = records
    settings = small_settings(tmp_path, service={"batch_window_ms": 50.0, "batch_max_records": 64})
    app = create_app(settings, bundle)
    with LiveServer(app) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:  # one at a time: each scored alone
            alone = []
            for rec, cid in zip(recs, ids, strict=True):
                r = client.post("/v1/score", json={"customers": [{"customer_id": cid, "features": rec}]})
                assert r.status_code == 200, r.text[:300]
                alone.append(r.json())
        largest_alone = app.state.batcher.stats.largest
        bodies = [{"customers": [{"customer_id": cid, "features": rec}]} for rec, cid in zip(recs, ids, strict=True)]
        bodies.append({"customers": [{"customer_id": c, "features": r} for r, c in zip(recs[:3], ids[:3])]})
        burst = _post_all(server.url, bodies)
        stats = app.state.batcher.stats
    assert largest_alone == 1
    assert stats.largest > 1, "the burst was not batched"  # several requests scored in one call
    assert [r.status_code for r in burst] == [200] * len(bodies)
    for got, exp in zip(burst, alone, strict=False):
        # grade, status, PD, 5C levels, reasons (texts, contributions), policy, missing features; numbers equal to
        # rounding (a 5C level summed over a matrix may differ in its last bit between a batch and a single row)
        assert _rounded(got.json()) == _rounded(exp)
    multi = burst[-1].json()["results"]
    assert [x["customer_id"] for x in multi] == ids[:3]
    assert [x["grade"] for x in multi] == [a["results"][0]["grade"] for a in alone[:3]]
    assert alone[3]["results"][0]["missing_features"]  # the sparse record says what it lacked


def test_a_failing_request_does_not_fail_the_others_in_its_batch(records) -> None:
    bundle, recs, ids = records
    scorer = Scorer(bundle)

    def score(rows: list[dict[str, Any]], cids: list[str | None]) -> list[Any]:
        if "poison" in cids:  # a record the scorer cannot handle
            raise ValueError("cannot score the poison record")
        return scorer.explain_records(rows, cids)

    async def main() -> list[Any]:
        batcher = MicroBatcher(score, window_s=0.2, max_records=64)
        await batcher.start()
        jobs = [batcher.submit([recs[0]], [ids[0]]), batcher.submit([recs[1]], ["poison"]),
                batcher.submit([recs[2], recs[4]], [ids[2], ids[4]])]
        out = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.stop()
        assert batcher.stats.fallbacks == 1 and batcher.stats.largest == 4  # one batch of all, then one by one
        return out

    first, poisoned, pair = asyncio.run(main())
    assert isinstance(poisoned, ValueError) and "poison" in str(poisoned)
    expected = scorer.explain_records([recs[0], recs[2], recs[4]], [ids[0], ids[2], ids[4]])
    assert [e.customer_id for e in first + pair] == [ids[0], ids[2], ids[4]]
    assert [e.pd for e in first + pair] == pytest.approx([e.pd for e in expected], rel=1e-12)


def test_a_full_queue_is_refused_not_delayed(records) -> None:
    bundle, recs, ids = records
    scorer = Scorer(bundle)

    async def main() -> None:
        batcher = MicroBatcher(scorer.explain_records, window_s=0.5, max_records=64, max_pending=2)
        await batcher.start()
        waiting = [asyncio.ensure_future(batcher.submit([recs[i]], [ids[i]])) for i in range(2)]
        await asyncio.sleep(0)  # both are queued; the batcher waits for its window
        with pytest.raises(QueueFullError, match="queue_limit"):
            await batcher.submit([recs[2]], [ids[2]])
        assert batcher.stats.refused == 1
        done = await asyncio.gather(*waiting)
        assert [d[0].customer_id for d in done] == ids[:2]
        await batcher.stop()

    asyncio.run(main())


def test_full_queue_is_a_503_with_retry_after_over_http(records, tmp_path) -> None:
    bundle, recs, ids = records
    # one request may wait; the batcher holds it for 100 ms, so a second arriving meanwhile finds the queue full
    settings = small_settings(tmp_path, service={"batch_window_ms": 100.0, "queue_limit": 1})
    with LiveServer(create_app(settings, bundle)) as server:
        burst = _post_all(server.url, [{"customers": [{"customer_id": c, "features": r}]}
                                       for r, c in zip(recs[:6], ids[:6], strict=True)])
    codes = [r.status_code for r in burst]
    assert 200 in codes and 503 in codes and set(codes) <= {200, 503}
    refused = next(r for r in burst if r.status_code == 503)
    assert refused.headers["retry-after"] == "1" and "queue_limit" in refused.json()["detail"]


def test_shutdown_scores_the_waiting_requests_then_refuses(records) -> None:
    bundle, recs, ids = records
    scorer = Scorer(bundle)

    async def main() -> None:
        batcher = MicroBatcher(scorer.explain_records, window_s=5.0, max_records=64)
        await batcher.start()
        waiting = [asyncio.ensure_future(batcher.submit([recs[i]], [ids[i]])) for i in range(3)]
        await asyncio.sleep(0)
        await asyncio.wait_for(batcher.stop(), 60)  # does not wait out the 5 s window, drains the queue
        assert all(w.done() and not w.exception() for w in waiting)
        assert [w.result()[0].customer_id for w in waiting] == ids[:3]
        with pytest.raises(ShuttingDownError):
            await batcher.submit([recs[0]], [ids[0]])

    asyncio.run(main())


def test_a_request_larger_than_a_batch_is_scored_alone_on_the_helper_thread(records) -> None:
    bundle, recs, ids = records
    scorer = Scorer(bundle)
    seen: list[str] = []

    def score(rows: list[dict[str, Any]], cids: list[str | None]) -> list[Any]:
        seen.append(threading.current_thread().name)
        return scorer.explain_records(rows, cids)

    async def main() -> list[Any]:
        batcher = MicroBatcher(score, window_s=0.0, max_records=2)
        await batcher.start()
        small = batcher.submit([recs[0]], [ids[0]])
        big = batcher.submit(recs[1:6], ids[1:6])
        out = await asyncio.gather(small, big)
        await batcher.stop()
        return out

    small, big = asyncio.run(main())
    assert [e.customer_id for e in small + big] == ids[:6]
    assert seen[0] == threading.main_thread().name and seen[1].startswith("riskmodel-score")
    expected = scorer.explain_records(recs[1:6], ids[1:6])
    assert [e.grade for e in big] == [e.grade for e in expected]
