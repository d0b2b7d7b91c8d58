"""The REST service over real HTTP: uvicorn on a free loopback port, called with httpx."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from _scoring_helpers import LiveServer, save_bundle, small_settings, world
from riskmodel.data import schemas as S
from riskmodel.features.build import build_features
from riskmodel.io import write_frame
from riskmodel.scoring import Scorer
from riskmodel.service.app import create_app

AS_OF = "2024-12-31"


def _records(frame, n: int) -> list[dict]:
    out = []
    for rec in frame.head(n).astype(object).to_dict("records"):
        feats = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()
                 if k not in (S.CUSTOMER_ID, S.SNAPSHOT_DATE, "population_status")}
        out.append({"customer_id": rec[S.CUSTOMER_ID], "features": feats})
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The service over the lightgbm champion loaded from models/ at start-up, with a batch score file."""
    w = world()
    root = tmp_path_factory.mktemp("service")
    settings = small_settings(root, service={"max_batch": 5})
    bundle = w.bundles["lightgbm"]
    save_bundle(bundle, root)
    features = build_features(w.tables, [AS_OF], settings.features, population="all")
    scores = Scorer(bundle, settings.scoring).score_features(features)
    write_frame(scores, settings.resolve(settings.paths.generated_dir) / f"scores_{AS_OF}.parquet")
    eligible = features[features["population_status"] == "eligible"]
    # clients send the model's features (GET /v1/model); models.exclude_features (e.g. fin_leverage) are refused
    eligible = eligible[[S.CUSTOMER_ID, S.SNAPSHOT_DATE, "population_status", *bundle.features]]
    with LiveServer(create_app(settings)) as server:  # bundle loaded in lifespan
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client, bundle, eligible, scores


def test_health_and_openapi(served) -> None:
    client, bundle, _, _ = served
    assert client.get("/health").json() == {"status": "ok", "model_loaded": True, "model_version": bundle.version}
    spec = client.get("/openapi.json").json()
    assert {"/v1/score", "/v1/model", "/v1/customers/{customer_id}", "/health"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_model_metadata(served) -> None:
    client, bundle, _, _ = served
    info = client.get("/v1/model").json()
    assert info["model_name"] == "lightgbm" and info["version"] == bundle.version
    assert [f["name"] for f in info["features"]] == bundle.features
    industry = next(f for f in info["features"] if f["name"] == "reg_industry")
    assert "construction" in industry["levels"] and industry["c"] == "conditions"
    assert info["metrics"]["models"]["lightgbm"]["auc"] > 0.5
    assert [g["grade"] for g in info["master_scale"]["grades"]][0] == "A1"


def test_score_one_customer(served) -> None:
    client, bundle, eligible, _ = served
    body = {"customers": _records(eligible, 1)}
    r = client.post("/v1/score", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model_version"] == bundle.version
    (res,) = doc["results"]
    assert res["customer_id"] == eligible[S.CUSTOMER_ID].iloc[0] and res["status"] == "scored"
    expected = Scorer(bundle).score_features(eligible.head(1))
    assert res["pd"] == pytest.approx(float(expected["pd"].iloc[0]), abs=1e-12)
    assert res["grade"] == expected["grade"].iloc[0]
    assert 0.1 <= res["credit_level"] <= 1 and set(res["sub_scores"]) == {"character", "capacity", "capital",
                                                                          "conditions"}  # collateral: limit side
    assert [x["text"] for x in res["reasons_up"]] == [expected[f"reason_up_{k}"].iloc[0]
                                                      for k in range(1, len(res["reasons_up"]) + 1)]
    assert all(x["contribution"] > 0 for x in res["reasons_up"])
    assert all(x["contribution"] < 0 for x in res["reasons_down"])
    assert res["policy"]["grade"] == res["grade"] and res["policy"]["calculation"].startswith("Grade ")


def test_score_many_and_missing_features(served) -> None:
    client, _, eligible, _ = served
    recs = _records(eligible, 4)
    recs.append({"customer_id": "sparse", "features": {"pay_max_dpd_12m": 120, "reg_industry": "construction"}})
    r = client.post("/v1/score", json={"customers": recs})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["customer_id"] for x in results] == [x["customer_id"] for x in recs]
    assert all(x["status"] == "scored" and 0 <= x["pd"] <= 1 for x in results)


def test_bad_input_gets_field_level_422(served) -> None:
    client, _, _, _ = served
    r = client.post("/v1/score", json={"customers": [
        {"customer_id": "x", "features": {"pay_max_dpd_12m": "forty", "reg_industry": "mining", "bogus": 1}}]})
    assert r.status_code == 422
    locs = {tuple(e["loc"]): e for e in r.json()["detail"]}
    assert ("body", "customers", 0, "features", "pay_max_dpd_12m") in locs
    assert "mining" in locs[("body", "customers", 0, "features", "reg_industry")]["msg"]
    assert ("body", "customers", 0, "features", "bogus") in locs
    assert client.post("/v1/score", json={"customers": []}).status_code == 422
    assert client.post("/v1/score", json={"rows": []}).status_code == 422
    assert client.post("/v1/score", content=b"not json", headers={"content-type": "application/json"}).status_code \
        == 422


def test_size_limit_gives_413(served) -> None:
    client, _, eligible, _ = served
    r = client.post("/v1/score", json={"customers": _records(eligible, 6)})  # max_batch is 5
    assert r.status_code == 413 and "limit is 5" in r.json()["detail"]
    huge = b'{"customers": [' + b" " * (5 * 16_384 + 10) + b"]}"
    assert client.post("/v1/score", content=huge, headers={"content-type": "application/json"}).status_code == 413

    def streamed():  # no Content-Length: chunked transfer encoding, counted as it arrives
        yield b'{"customers": ['
        for _ in range(200):
            yield b" " * 1024
        yield b"]}"

    r = client.post("/v1/score", content=streamed(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over the limit" in r.json()["detail"]


def test_batch_scores_by_customer(served) -> None:
    client, _, _, scores = served
    row = scores[scores["status"] == "scored"].iloc[0]
    r = client.get(f"/v1/customers/{row[S.CUSTOMER_ID]}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["pd"] == pytest.approx(float(row["pd"])) and doc["grade"] == row["grade"]
    assert doc["as_of"] == AS_OF and doc["source"] == f"scores_{AS_OF}.parquet"
    assert doc["reasons_up"][0] == {"code": row["reason_up_1_code"], "text": row["reason_up_1"]}
    defaulted = scores[scores["status"] == "in_default"].iloc[0]
    d = client.get(f"/v1/customers/{defaulted[S.CUSTOMER_ID]}").json()
    assert d["grade"] == "D" and d["reasons_up"] == []
    missing = client.get("/v1/customers/NOPE")
    assert missing.status_code == 404 and "NOPE" in missing.json()["detail"]


def test_api_key_from_the_environment(monkeypatch, tmp_path) -> None:
    w = world()
    settings = small_settings(tmp_path)
    monkeypatch.setenv(settings.service.api_key_env, "s3cret")
    with LiveServer(create_app(settings, w.bundles["lightgbm"])) as server:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/health").status_code == 200  # liveness stays open
            assert client.get("/v1/model").status_code == 401
            assert client.get("/v1/model", headers={"X-API-Key": "wrong"}).status_code == 401
            assert client.get("/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200
            assert client.get("/v1/customers/C000001", headers={"X-API-Key": "s3cret"}).status_code == 404


def test_start_up_objects_are_kept_out_of_full_collections(tmp_path) -> None:
    """The lifespan freezes what start-up loaded (gc.freeze): a full collection then skips the libraries and the
    model. Without it, a full pass under load stalled the service for about 3 s and the p99 at 200 requests/s
    was 2-3 s instead of 16 ms (issue 11.6, benchmarks/service.py --trace)."""
    import gc

    w = world()
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        with LiveServer(create_app(small_settings(tmp_path), w.bundles["lightgbm"])) as server:
            with httpx.Client(base_url=server.url) as client:
                assert client.get("/health").status_code == 200
            assert gc.get_freeze_count() > 100_000  # the start-up heap, not a handful of objects
    finally:
        gc.unfreeze()
