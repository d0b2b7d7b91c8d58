"""Service state and dependencies: the scorer, the API key check, feature-record validation, batch scores."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError

from riskmodel.config import Settings
from riskmodel.data import schemas as S
from riskmodel.exceptions import RiskModelError
from riskmodel.features.dictionary import FINANCIALS, recorded_registry
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

    _bad: dict[tuple[Path, float], str] = field(default_factory=dict)

    def score_files(self) -> list[Path]:
        """``scores_<date>.(parquet|csv)`` files in generated_dir, newest first (by date, then modification time)."""
        folder = self.settings.resolve(self.settings.paths.generated_dir)
        if not folder.is_dir():
            return []
        found = [(m.group(1), p.stat().st_mtime, p) for p in folder.iterdir()
                 if (m := SCORE_FILE.match(p.name)) and p.is_file()]
        return [p for *_, p in sorted(found, reverse=True)]

    def latest_score_file(self) -> Path | None:
        """The newest score file (valid or not)."""
        files = self.score_files()
        return files[0] if files else None

    @staticmethod
    def _read_scores(path: Path) -> pd.DataFrame:
        """A score table indexed by customer id; ScoreFileError when unreadable, incomplete or duplicated."""
        from riskmodel.io import read_frame

        try:
            frame = read_frame(path)
        except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
            raise ScoreFileError(f"{path.name} is unreadable ({type(err).__name__})") from None
        missing = [c for c in (S.CUSTOMER_ID, "status") if c not in frame.columns]
        if missing:
            raise ScoreFileError(f"{path.name} has no column {', '.join(missing)}")
        frame[S.CUSTOMER_ID] = frame[S.CUSTOMER_ID].astype(str)
        dup = frame[S.CUSTOMER_ID].duplicated()
        if dup.any():
            raise ScoreFileError(f"{path.name} lists {int(dup.sum())} customer id(s) more than once "
                                 f"(e.g. {frame.loc[dup, S.CUSTOMER_ID].iloc[0][:40]!r})")
        return frame.set_index(S.CUSTOMER_ID, drop=False)

    def batch_scores(self) -> tuple[Path, pd.DataFrame] | None:
        """The newest *valid* batch score table indexed by customer id (re-read when the file changes).

        A corrupt or duplicated newest file is skipped with a warning and the previous
        valid file is used; ScoreFileError when no file is valid.
        """
        files = self.score_files()
        if not files:
            return None
        skipped: list[str] = []
        with self._lock:
            for path in files:
                mtime = path.stat().st_mtime
                if self._scores is not None and self._scores[0] == path and self._scores[1] == mtime:
                    chosen = self._scores
                else:
                    if (path, mtime) in self._bad:
                        skipped.append(self._bad[(path, mtime)])
                        continue
                    try:
                        frame = self._read_scores(path)
                    except ScoreFileError as err:
                        self._bad[(path, mtime)] = str(err)
                        log.warning("batch scores: %s; trying the previous file", err)
                        skipped.append(str(err))
                        continue
                    self._scores = chosen = (path, mtime, frame)
                    log.info("loaded %d batch scores from %s", len(frame), path)
                if skipped:
                    log.warning("batch scores from %s, not the newest file (%s)", path.name, "; ".join(skipped))
                return chosen[0], chosen[2]
        raise ScoreFileError("no valid batch score file: " + "; ".join(skipped) + "; rerun `riskmodel score`")


class ScoreFileError(RiskModelError):
    """A batch score file cannot be served (unreadable, incomplete, duplicated ids)."""


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


#: plausible value range of a numeric feature, by the unit in the data dictionary (trends are signed)
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "count": (0.0, 1e9),
    "currency": (0.0, 1e13),
    "days": (0.0, 36_500.0),
    "share 0-1": (0.0, 1.0),
    "flag 0/1": (0.0, 1.0),
    "rating 1-5": (1.0, 5.0),
    "score 1-10": (1.0, 10.0),
    "rating points": (-4.0, 4.0),
    "months": (0.0, 12_000.0),
    "years": (0.0, 1_000.0),
    "ratio": (-1e6, 1e6),
    "score": (-1e6, 1e6),
    "log currency": (-50.0, 50.0),
}
MAX_ERRORS = 20  # a 422 lists at most this many problems (and says how many there were)


@functools.lru_cache(maxsize=16)  # one entry per feature settings served: a dictionary lookup per request
def _ranges(recorded: str) -> dict[str, tuple[float, float]]:
    registry = recorded_registry(json.loads(recorded))
    out: dict[str, tuple[float, float]] = {}
    for name, f in registry.items():
        if f.unit not in UNIT_RANGES:
            continue
        lo, hi = UNIT_RANGES[f.unit]
        signed = (f.reason is not None and f.reason.kind.startswith("signed")) or \
            (f.unit == "currency" and f.family == FINANCIALS)
        out[name] = (-hi if signed else lo, hi)
    return out


def feature_ranges(feature_settings: Mapping[str, Any] | None = None) -> dict[str, tuple[float, float]]:
    """The plausible range of every numeric feature of the registry built with ``feature_settings``
    (a bundle manifest's ``feature_settings``; None: the defaults), from its unit; signed for trends and
    changes (a ``signed_*`` reason kind) and statement amounts, which may be negative.  A feature whose
    unit has no range is absent."""
    return _ranges(json.dumps(dict(feature_settings or {}), sort_keys=True, default=str))


def feature_range(name: str, feature_settings: Mapping[str, Any] | None = None) -> tuple[float, float] | None:
    """The plausible range of one numeric feature (None when its unit is unknown); see :func:`feature_ranges`."""
    return feature_ranges(feature_settings).get(name)


def validate_records(scorer: Scorer, records: list[Any]) -> tuple[list[dict[str, Any]], list[str | None]]:
    """Feature records -> (checked name -> value dicts, customer ids); RequestValidationError (422)
    naming the bad fields (at most ``MAX_ERRORS`` of them, never echoing the input at length).

    Unknown feature names, text where a number is expected, non-finite or huge
    numbers, values outside the feature's plausible range and categorical values
    outside the training levels are refused.
    """
    from riskmodel.safety import preview

    known = set(scorer.features)
    table = feature_ranges(scorer.bundle.manifest.get("feature_settings"))  # the served model's registry
    ranges = {f: table.get(f) for f in scorer.features if f not in scorer.levels}
    errors: list[dict[str, Any]] = []
    n_errors = 0
    rows: list[dict[str, Any]] = []

    def fail(kind: str, loc: tuple[Any, ...], msg: str) -> None:
        nonlocal n_errors
        n_errors += 1
        if len(errors) < MAX_ERRORS - 1:  # room left for the "more not listed" line
            errors.append({"type": kind, "loc": loc, "msg": msg})

    for i, rec in enumerate(records):
        row: dict[str, Any] = {}
        for name, value in rec.features.items():
            loc = ("body", "customers", i, "features", name)
            if name not in known:
                fail("unknown_feature", loc, f"unknown feature {preview(name)}; GET /v1/model lists the features")
                continue
            if value is None:
                row[name] = None
                continue
            levels = scorer.levels.get(name)
            if levels is not None:
                if str(value) not in levels:
                    fail("enum", loc, f"expected one of {levels}, got {preview(value)}")
                    continue
                row[name] = str(value)
                continue
            if isinstance(value, str):
                fail("float_type", loc, f"expected a number, got the text {preview(value)}")
                continue
            try:
                v = float(value)
            except OverflowError:
                fail("finite_number", loc, f"number too large ({preview(value)})")
                continue
            if not math.isfinite(v):
                fail("finite_number", loc, "expected a finite number")
                continue
            bounds = ranges.get(name)
            if bounds is not None and not bounds[0] <= v <= bounds[1]:
                fail("range", loc, f"{v:.6g} is outside the plausible range [{bounds[0]:g}, {bounds[1]:g}]")
                continue
            row[name] = v
        rows.append(row)
    if errors:
        if n_errors > len(errors):
            errors.append({"type": "too_many_errors", "loc": ("body",),
                           "msg": f"{n_errors - len(errors)} more problem(s) not listed"})
        raise RequestValidationError(errors)
    return rows, [rec.customer_id for rec in records]


def bounded_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors made small and always serialisable: no ``input`` echo, at most
    ``MAX_ERRORS`` entries, every text cut and escaped (lone surrogates, control characters)."""
    from riskmodel.safety import preview

    def text(v: Any, limit: int) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and (not isinstance(v, float) or math.isfinite(v)):
            return v if isinstance(v, float) or abs(v) < 10**15 else preview(v, limit)
        s = v if isinstance(v, str) else str(v)
        clean = s.encode("utf-8", "backslashreplace").decode("utf-8")
        clean = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in clean)
        return clean if len(clean) <= limit else clean[:limit] + f"… ({len(clean):,} characters)"

    errors = list(errors)
    out = [{"type": text(e.get("type", "value_error"), 40),
            "loc": [text(x, 60) for x in list(e.get("loc", ()))[:8]],
            "msg": text(e.get("msg", ""), 300)} for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        out.append({"type": "too_many_errors", "loc": ["body"], "msg": f"{len(errors) - MAX_ERRORS} more not listed"})
    return out


class ApiKeyGuard:
    """ASGI middleware: 401 before the body is read when ``/v1/`` is called without the right key."""

    def __init__(self, app: Any, api_key: str | None) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (self.api_key and scope["type"] == "http" and scope.get("path", "").startswith("/v1/")):
            given = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode(), b"")
            if not secrets.compare_digest(given, self.api_key.encode()):
                body = json.dumps({"detail": f"missing or wrong {API_KEY_HEADER} header"}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"ApiKey")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
