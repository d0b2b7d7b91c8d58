"""Issue 11.3: the service over real HTTP refuses hostile bodies with a small 422 (never a 500), keeps the
connection alive, checks ranges and the API key before the body, works offline, and survives bad score files."""

from __future__ import annotations

import socket

import httpx
import pandas as pd
import pytest

from _scoring_helpers import LiveServer, save_bundle, small_settings, world
from riskmodel.data import schemas as S
from riskmodel.features.build import build_features
from riskmodel.io import write_frame
from riskmodel.scoring import Scorer
from riskmodel.service.app import create_app

AS_OF = "2024-12-31"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    w = world()
    root = tmp_path_factory.mktemp("hard_service")
    settings = small_settings(root, service={"max_batch": 5})
    bundle = w.bundles["lightgbm"]
    save_bundle(bundle, root)
    features = build_features(w.tables, [AS_OF], settings.features, population="all")
    scores = Scorer(bundle, settings.scoring).score_features(features)
    gen = settings.resolve(settings.paths.generated_dir)
    write_frame(scores, gen / "scores_2024-09-30.parquet")  # an older, valid file
    with LiveServer(create_app(settings)) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client, gen, scores


def _one(features: str, cid: str = '"c1"') -> bytes:
    return ('{"customers": [{"customer_id": ' + cid + ', "features": {' + features + "}}]}").encode()


HOSTILE_BODIES = {
    "nan": _one('"pay_max_dpd_12m": NaN'),
    "infinity": _one('"pay_max_dpd_12m": Infinity'),
    "minus_infinity": _one('"fin_equity_ratio": -Infinity'),
    "1e309": _one('"pay_max_dpd_12m": 1e309'),
    "400_digits": _one('"pay_max_dpd_12m": ' + "9" * 400),
    "lone_surrogate_value": _one('"reg_industry": "\\ud800"'),
    "lone_surrogate_key": _one('"\\ud800x": 1'),
    "lone_surrogate_id": _one('"pay_max_dpd_12m": 3', cid='"\\udfff"'),
    "rtl_override_id": _one('"pay_max_dpd_12m": 3', cid='"abc\\u202e"'),
    "share_1000": _one('"pay_share_late_12m": 1000'),
    "negative_dpd": _one('"pay_max_dpd_12m": -5'),
    "long_text": _one('"pay_max_dpd_12m": "%s"' % ("x" * 50_000)),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_get_a_small_422_and_the_connection_survives(live, name: str) -> None:
    client, _, _ = live
    r = client.post("/v1/score", content=HOSTILE_BODIES[name], headers=JSON)
    assert r.status_code == 422, (name, r.status_code, r.text[:300])
    assert len(r.content) < 4_000 and "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" not in r.text
    assert r.json()["detail"]
    ok = client.post("/v1/score", json={"customers": [{"features": {"pay_max_dpd_12m": 3}}]})  # same keep-alive
    assert ok.status_code == 200, ok.text


def test_ranges_are_named(live) -> None:
    client, _, _ = live
    r = client.post("/v1/score", content=HOSTILE_BODIES["share_1000"], headers=JSON)
    assert "plausible range [0, 1]" in r.json()["detail"][0]["msg"]


def test_unknown_feature_floods_are_bounded(live) -> None:
    client, _, _ = live
    body = {"customers": [{"features": {f"bogus_{i}": i for i in range(400)}}]}
    r = client.post("/v1/score", json=body)
    assert r.status_code == 422 and len(r.json()["detail"]) <= 21 and len(r.content) < 8_000
    assert "more problem(s) not listed" in r.json()["detail"][-1]["msg"]
    many = {"customers": [{"features": {f"b{i}": 0 for i in range(2_000)}}]}
    r = client.post("/v1/score", json=many)
    assert r.status_code == 422 and len(r.content) < 4_000


def test_no_evidence_is_no_activity_and_missing_features_are_reported(live) -> None:
    client, _, _ = live
    r = client.post("/v1/score", json={"customers": [{"customer_id": "e", "features": {}},
                                                     {"customer_id": "n", "features": {"fin_equity_ratio": None}},
                                                     {"customer_id": "s", "features": {"pay_max_dpd_12m": 45}}]})
    assert r.status_code == 200, r.text
    empty, nulls, some = r.json()["results"]
    assert empty["status"] == "no_activity" and empty["pd"] is None
    assert nulls["status"] == "no_activity"
    assert some["status"] == "scored" and some["pd"] is not None
    assert "pay_max_dpd_12m" not in some["missing_features"] and "fin_equity_ratio" in some["missing_features"]


def test_api_key_is_checked_before_the_body_is_read(monkeypatch, tmp_path) -> None:
    settings = small_settings(tmp_path)
    monkeypatch.setenv(settings.service.api_key_env, "s3cret")
    with LiveServer(create_app(settings, world().bundles["lightgbm"])) as server:
        with httpx.Client(base_url=server.url) as client:
            assert client.post("/v1/score", content=b"{not json", headers=JSON).status_code == 401
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:  # a body announced, never sent
            sock.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 50000\r\n\r\n")
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:100]


def test_swagger_ui_is_served_from_the_package(live) -> None:
    client, _, _ = live
    html = client.get("/docs").text
    assert "/docs-static/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    js = client.get("/docs-static/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000


def test_corrupt_or_duplicated_newest_score_file_falls_back(live) -> None:
    client, gen, scores = live
    cid = str(scores[S.CUSTOMER_ID].iloc[0])
    newest = gen / f"scores_{AS_OF}.parquet"
    newest.write_bytes(b"PAR1 this is not parquet")
    r = client.get(f"/v1/customers/{cid}")
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "scores_2024-09-30.parquet"
    newest.unlink()
    dup = gen / f"scores_{AS_OF}.csv"
    pd.concat([scores, scores.head(2)]).to_csv(dup, index=False)
    r = client.get(f"/v1/customers/{cid}")
    assert r.status_code == 200 and r.json()["source"] == "scores_2024-09-30.parquet"
    (gen / "scores_2024-09-30.parquet").write_bytes(b"")
    r = client.get(f"/v1/customers/{cid}")
    assert r.status_code == 503 and "no valid batch score file" in r.json()["detail"]
    assert "more than once" in r.json()["detail"] and "unreadable" in r.json()["detail"]
