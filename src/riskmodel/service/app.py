"""The REST service: score and explain customers, batch scores, model metadata, health (FastAPI).

``create_app(settings, bundle=None)`` builds the app; the champion is loaded
once at start-up in ``lifespan`` (from ``models/champion``, else the registry
alias) unless a bundle is passed in.  Routes are thin: validation in
:mod:`riskmodel.service.deps`, scoring in :class:`riskmodel.scoring.Scorer`,
shapes in :mod:`riskmodel.service.schemas`.  Domain errors become 4xx/5xx
answers in one handler.  ``POST /v1/score`` requests that arrive together are
scored as one batch (:mod:`riskmodel.service.batching`, issue 11.6).
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from riskmodel import __version__
from riskmodel.bundle import Bundle
from riskmodel.champion import load_champion_bundle
from riskmodel.config import C_NAMES, Settings
from riskmodel.data import schemas as S
from riskmodel.exceptions import ModelNotFoundError, RiskModelError, UnknownCustomerError
from riskmodel.scoring import Scorer, reason_columns
from riskmodel.service.batching import MicroBatcher, QueueFullError, ShuttingDownError
from riskmodel.service.deps import (
    BYTES_PER_CUSTOMER,
    ApiKeyGuard,
    BodySizeLimit,
    ScoreFileError,
    ServiceState,
    bounded_errors,
    get_scorer,
    get_state,
    require_api_key,
    validate_records,
)
from riskmodel.service.schemas import (
    CustomerScore,
    ErrorOut,
    Health,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
)

log = logging.getLogger(__name__)


def _none(v: Any) -> Any:
    """NaN / NA / NaT -> None; numpy scalars -> Python."""
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v.item() if isinstance(v, np.generic) else v


def create_app(settings: Settings, bundle: Bundle | None = None) -> FastAPI:
    """The FastAPI application.

    Parameters
    ----------
    settings : Settings
        ``service`` (max batch, API key variable), ``scoring`` and ``paths`` are used.
    bundle : Bundle, optional
        Serve this bundle instead of loading the champion at start-up (tests, notebooks).
    """
    api_key = os.environ.get(settings.service.api_key_env) or None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: ServiceState = app.state.service
        loaded = bundle if bundle is not None else load_champion_bundle(settings)
        scorer = Scorer(loaded, settings.scoring, limit_review=settings.limit_review)
        scorer.self_test()  # /health never says "loaded" for a model that cannot score
        state.scorer = scorer
        batcher = _batcher(settings, scorer)
        await batcher.start()
        app.state.batcher = batcher
        # the start-up objects (libraries, model, tables) live as long as the process: kept out of the
        # collector's full passes, which otherwise walk all of them while requests wait
        gc.collect()
        gc.freeze()
        log.info("serving %s %s (%d features)%s", loaded.model_name, loaded.version, len(loaded.features),
                 "; API key required" if api_key else "")
        yield
        await batcher.stop()  # refuses new requests, scores the waiting ones
        state.scorer = None

    app = FastAPI(
        title="riskmodel",
        version=__version__,
        description=f"Explainable {settings.snapshots.horizon_months}-month probability of default for business "
                    "customers: PD, rating grade, "
                    "5C credit level, reasons in plain words, recommended limit and terms.",
        lifespan=lifespan,
        docs_url=None,  # served below from the installed swagger-ui-bundle package: works offline
    )
    app.state.service = ServiceState(settings=settings, api_key=api_key)
    app.add_middleware(BodySizeLimit, limit=settings.service.max_batch * BYTES_PER_CUSTOMER)
    app.add_middleware(ApiKeyGuard, api_key=api_key)  # added last = runs first: no key, no body read
    secured = [Depends(require_api_key)]
    _offline_docs(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        """A small 422 that never repeats the input (NaN, huge numbers, lone surrogates, floods)."""
        return JSONResponse(status_code=422, content={"detail": bounded_errors(err.errors())})

    @app.exception_handler(QueueFullError)
    @app.exception_handler(ShuttingDownError)
    async def _busy(request: Request, err: RiskModelError) -> JSONResponse:
        """503 with Retry-After: a bounded queue answers "come back" rather than with unbounded latency."""
        return JSONResponse(status_code=503, content={"detail": str(err)}, headers={"Retry-After": "1"})

    @app.exception_handler(RiskModelError)
    async def _domain_error(request: Request, err: RiskModelError) -> JSONResponse:
        status = 404 if isinstance(err, UnknownCustomerError) else 503 if isinstance(err, ModelNotFoundError) \
            else 422 if isinstance(err, ValueError) else 400
        return JSONResponse(status_code=status, content={"detail": str(err)})

    @app.get("/health", response_model=Health, tags=["service"])
    def health(request: Request) -> Health:
        """Liveness and readiness: is the model loaded, which version."""
        scorer = get_state(request).scorer
        return Health(status="ok" if scorer is not None else "starting", model_loaded=scorer is not None,
                      model_version=None if scorer is None else scorer.version)

    @app.get("/v1/model", response_model=ModelInfo, dependencies=secured, tags=["model"],
             responses={401: {"model": ErrorOut}})
    def model_info(scorer: Scorer = Depends(get_scorer)) -> ModelInfo:
        """The served model: name, version, training metrics, features (with their C and levels), master scale."""
        from riskmodel.features.dictionary import recorded_catalog

        m = scorer.bundle.manifest
        catalog = recorded_catalog(m.get("feature_settings"))
        feats = []
        for f in scorer.features:
            info = catalog.get(f)
            feats.append({"name": f, "c": scorer.c_of.get(f), "description": info.description if info else None,
                          "unit": info.unit if info else None, "levels": scorer.levels.get(f)})
        return ModelInfo(model_name=scorer.model_name, version=scorer.version, created_at=m.get("created_at"),
                         features=feats, metrics=m.get("metrics") or {},
                         master_scale=scorer.master_scale.model_dump(mode="json"),
                         horizon_months=int(m.get("horizon_months", 12)))  # bundles before the key were 12-month

    @app.post("/v1/score", response_model=ScoreResponse, dependencies=[Depends(_require_api_key_async)],
              tags=["scoring"], responses={401: {"model": ErrorOut}, 413: {"model": ErrorOut},
                                           503: {"model": ErrorOut}})
    async def score(body: ScoreRequest, request: Request, scorer: Scorer = Depends(_get_scorer_async)) -> Response:
        """Score one or many customers given as feature records: PD, grade, 5C level, reasons and policy.

        Requests arriving together are scored as one batch (``service.batch_*``); each answer equals
        scoring the request alone.  503 with Retry-After when ``service.queue_limit`` requests wait.
        """
        limit = get_state(request).settings.service.max_batch
        if len(body.customers) > limit:
            raise HTTPException(status_code=413, detail=f"{len(body.customers)} customers in one request; "
                                f"the limit is {limit} (service.max_batch)")
        rows, ids = validate_records(scorer, body.customers)
        explained = await request.app.state.batcher.submit(rows, ids)
        results = [{**e.as_dict(), "missing_features": [f for f in scorer.features if row.get(f) is None]}
                   for e, row in zip(explained, rows, strict=True)]
        answer = ScoreResponse(model_name=scorer.model_name, model_version=scorer.version, results=results)
        # validated once above and serialised by pydantic: returning the model would make FastAPI dump it to
        # a dict, validate it again against response_model and encode it a second time (about 0.3 ms a request)
        return Response(content=answer.model_dump_json(), media_type="application/json")

    @app.get("/v1/customers/{customer_id}", response_model=CustomerScore, dependencies=secured,
             tags=["scoring"], responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}})
    def customer(customer_id: str, request: Request) -> CustomerScore:
        """The customer's row of the latest batch score file (``riskmodel score``), with its reasons."""
        state = get_state(request)
        try:
            found = state.batch_scores()
        except ScoreFileError as err:
            raise HTTPException(status_code=503, detail=str(err)) from None
        if found is None:
            raise HTTPException(status_code=404, detail="no batch score file yet; run `riskmodel score`")
        path, table = found
        if customer_id not in table.index:
            raise UnknownCustomerError(f"customer {customer_id!r} is not in the latest batch scores ({path.name})")
        row = table.loc[customer_id]
        sc = state.settings.scoring
        text_cols, _ = reason_columns(sc.n_reasons_up, sc.n_reasons_down)

        def reasons(cols: list[str]) -> list[dict[str, str]]:
            return [{"code": str(row[c + "_code"]), "text": str(row[c])} for c in cols
                    if c in row.index and _none(row[c]) is not None]

        as_of = _none(row.get(S.SNAPSHOT_DATE))
        return CustomerScore(
            customer_id=customer_id,
            as_of=None if as_of is None else str(pd.Timestamp(as_of).date()),
            status=str(row["status"]), pd=_none(row.get("pd")), grade=_none(row.get("grade")),
            credit_level=_none(row.get("credit_level")),
            sub_scores={c: float(row[f"level_{c}"]) for c in C_NAMES if _none(row.get(f"level_{c}")) is not None},
            reasons_up=reasons(text_cols[: sc.n_reasons_up]), reasons_down=reasons(text_cols[sc.n_reasons_up:]),
            limit=_none(row.get("limit")), limit_basis=_none(row.get("limit_basis")),
            terms_days=_none(row.get("terms_days")), prepayment_share=_none(row.get("prepayment_share")),
            review_months=_none(row.get("review_months")), model_version=_none(row.get("model_version")),
            source=path.name,
        )

    return app


async def _get_scorer_async(request: Request) -> Scorer:
    """:func:`get_scorer` on the event loop (a plain ``def`` dependency costs a thread-pool hop per request)."""
    return get_scorer(request)


async def _require_api_key_async(request: Request) -> None:
    """:func:`require_api_key` on the event loop (see :func:`_get_scorer_async`)."""
    require_api_key(request)


def _batcher(settings: Settings, scorer: Scorer) -> MicroBatcher:
    """The micro-batcher of ``POST /v1/score``: ``Scorer.explain_records`` on batches (params.yaml ``service``)."""
    sv = settings.service
    return MicroBatcher(scorer.explain_records, window_s=sv.batch_window_ms / 1000.0,
                        max_records=sv.batch_max_records, max_pending=sv.queue_limit)


#: environment variable through which `riskmodel serve --workers N` hands its settings (JSON) to the workers
SETTINGS_ENV = "RISKMODEL_SERVICE_SETTINGS"


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``riskmodel serve --workers N`` (uvicorn imports it by name).

    The settings are the parent's, read from ``RISKMODEL_SERVICE_SETTINGS``; the worker loads and
    verifies the champion in its own start-up.
    """
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise RiskModelError(f"{SETTINGS_ENV} is not set: start the workers with `riskmodel serve --workers N`")
    return create_app(Settings.model_validate_json(raw))


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files of the installed ``swagger-ui-bundle`` package (no CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from starlette.staticfiles import StaticFiles

    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # pragma: no cover - a declared dependency
        log.warning("swagger-ui-bundle is not installed: /docs is not served (the schema is at /openapi.json)")
        return
    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon-32x32.png")
