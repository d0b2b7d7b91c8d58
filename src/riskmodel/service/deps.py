"""Service state and dependencies: the scorer, the API key check, feature-record validation, batch scores."""

from __future__ import annotations

import json

import logging
import math
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError

from riskmodel.config import Settings
from riskmodel.data import schemas as S
from riskmodel.scoring import Scorer

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
SCORE_FILE = re.compile(r"^scores_(\d{4}-\d{2}-\d{2})\.(parquet|csv)$")
BYTES_PER_CUSTOMER = 16_384  # request bodies above max_batch x this are refused before parsing


@dataclass
class ServiceState:
    """What the app holds between requests (``app.state.service``)."""

    settings: Settings
    api_key: str | None
    scorer: Scorer | None = None
    _scores: tuple[Path, float, pd.DataFrame] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def latest_score_file(self) -> Path | None:
        """The newest ``scores_<date>.(parquet|csv)`` in generated_dir (by date, then modification time)."""
        folder = self.settings.resolve(self.settings.paths.generated_dir)
        if not folder.is_dir():
            return None
        found = [(m.group(1), p.stat().st_mtime, p) for p in folder.iterdir()
                 if (m := SCORE_FILE.match(p.name)) and p.is_file()]
        return max(found)[2] if found else None

    def batch_scores(self) -> tuple[Path, pd.DataFrame] | None:
        """The latest batch score table indexed by customer id (re-read when the file changes)."""
        from riskmodel.io import read_frame

        path = self.latest_score_file()
        if path is None:
            return None
        mtime = path.stat().st_mtime
        with self._lock:
            if self._scores is None or self._scores[0] != path or self._scores[1] != mtime:
                frame = read_frame(path)
                frame[S.CUSTOMER_ID] = frame[S.CUSTOMER_ID].astype(str)
                self._scores = (path, mtime, frame.set_index(S.CUSTOMER_ID, drop=False))
                log.info("loaded %d batch scores from %s", len(frame), path)
            return self._scores[0], self._scores[2]


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


def get_scorer(request: Request) -> Scorer:
    scorer = get_state(request).scorer
    if scorer is None:  # only between start-up failure and shutdown
        raise HTTPException(status_code=503, detail="the model is not loaded")
    return scorer


def require_api_key(request: Request) -> None:
    """401 unless the X-API-Key header matches the key set in the environment (when one is set)."""
    expected = get_state(request).api_key
    if not expected:
        return
    given = request.headers.get(API_KEY_HEADER, "")
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail=f"missing or wrong {API_KEY_HEADER} header",
                            headers={"WWW-Authenticate": "ApiKey"})


class BodySizeLimit:
    """ASGI middleware: 413 before any parsing when a request body is over ``limit`` bytes.

    The declared ``Content-Length`` is checked first; a body sent without one
    (chunked) is read as it streams in and refused as soon as it passes the
    limit.  A body within the limit is handed on unchanged.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _reject(self, send: Any, size: int) -> None:
        body = json.dumps({"detail": f"request body of {size:,} bytes is over the limit of {self.limit:,} bytes"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send, int(declared))
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._reject(send, size)
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def validate_records(scorer: Scorer, records: list[Any]) -> tuple[list[dict[str, Any]], list[str | None]]:
    """Feature records -> (checked name -> value dicts, customer ids); RequestValidationError (422)
    naming every bad field.

    Unknown feature names, text where a number is expected, non-finite numbers
    and categorical values outside the training levels are refused.
    """
    known = set(scorer.features)
    errors: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        row: dict[str, Any] = {}
        for name, value in rec.features.items():
            loc = ("body", "customers", i, "features", name)
            if name not in known:
                errors.append({"type": "unknown_feature", "loc": loc, "input": value,
                               "msg": f"unknown feature {name!r}; GET /v1/model lists the model's features"})
                continue
            if value is None:
                row[name] = None
                continue
            levels = scorer.levels.get(name)
            if levels is not None:
                if str(value) not in levels:
                    errors.append({"type": "enum", "loc": loc, "input": value,
                                   "msg": f"expected one of {levels}, got {value!r}"})
                    continue
                row[name] = str(value)
            else:
                if isinstance(value, str):
                    errors.append({"type": "float_type", "loc": loc, "input": value,
                                   "msg": f"expected a number, got the text {value!r}"})
                    continue
                v = float(value)
                if not math.isfinite(v):
                    errors.append({"type": "finite_number", "loc": loc, "input": value,
                                   "msg": "expected a finite number"})
                    continue
                row[name] = v
        rows.append(row)
    if errors:
        raise RequestValidationError(errors)
    return rows, [rec.customer_id for rec in records]
