"""The worker's HTTP API: KServe V1 style, plus the seeds' own routes as aliases.

Every refusal is a 4xx (or 503) whose body carries the error code; nothing a client sends can
make it answer 500.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from inference.diagnostics import DEFAULT_DRIFT_WINDOW, drift_report
from inference.errors import (
    BadRequest,
    DeployRefused,
    InferenceError,
    ModelNotFound,
    ModelNotReady,
    Overloaded,
    PayloadTooLarge,
)
from inference.host import DEFAULT_ACTOR, ModelHost
from inference.inputs import Instance, check_text, parse_instances
from inference.metrics import WorkerMetrics
from inference.registry import (
    CorruptVersion,
    RegistryError,
    UnknownModel,
    UnknownVersion,
)
from inference.registry.manifest import is_version, serving_history
from inference.scoring import VersionScores
from observability.asgi import CorrelationMiddleware

MAX_BODY_BYTES = 16 * 1024 * 1024
TEXT_MODEL = "incident-text"
_WANTS = {"text": (True, False), "image": (False, True), "fusion": (True, True)}
ACTOR_MAX = 200
MAX_EMBED_TEXTS = 256


# The bot's own requests (verification, latency profiles, triage) carry this header, so they stay
# out of the prediction log that drift and low-confidence checks read.
PROBE_HEADER = "x-incident-bot-probe"


@dataclass(frozen=True)
class WorkerState:
    """What the routes need, kept on ``app.state.worker``.

    Not captured in closures: FastAPI caches what it learns about each endpoint function in a
    process-wide LRU (4,096 entries), so endpoints closing over an app's host would keep its
    models in memory long after the app itself is gone.
    """

    host: ModelHost
    metrics: WorkerMetrics
    scores: VersionScores


def _state(request: Request) -> WorkerState:
    return request.app.state.worker


router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    host = _state(request).host
    body = {"ready": host.ready, "models": {name: _version_or_none(host, name) for name in host.names}}
    return JSONResponse(body, status_code=200 if host.ready else 503)


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    metrics = _state(request).metrics
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    host = _state(request).host
    return {"models": [_describe(host, name) for name in host.names]}


@router.get("/v1/models/{name}")
async def model_info(name: str, request: Request) -> dict[str, Any]:
    host, scores = _state(request).host, _state(request).scores
    info = _describe(host, name)
    manifests = await host.versions(name)
    # Each version's stored golden-set score, so a caller gets them all in one cheap request.
    stored = await scores.summaries(manifests, info["version"])
    info["versions"] = [{**_manifest_json(m), "golden_score": stored.get(m.version)} for m in manifests]
    records = await host.deploy_log(name)
    info["deploys"] = [record.to_dict() for record in records]
    info["serving_history"] = serving_history(records)
    return info


@router.post("/v1/models/{name}:predict")
async def predict(name: str, request: Request) -> dict[str, Any]:
    host = _state(request).host
    model = host.served(name)
    wants_text, wants_image = _WANTS.get(model.kind, (True, False))
    instances = parse_instances(await _json(request), wants_text=wants_text, wants_image=wants_image)
    results = await host.predict(name, instances, log=request.headers.get(PROBE_HEADER, "") != "1")
    return _predict_response(name, results)


@router.post("/v1/models/{name}:embed")
async def embed(name: str, request: Request) -> dict[str, Any]:
    host = _state(request).host
    host.served(name)  # 404 for an unknown model before reading the body
    texts = _embed_texts(await _json(request))
    version, vectors = await host.embed(name, texts)
    return {"model_name": name, "model_version": version, "embeddings": vectors}


@router.post("/v1/models/{name}/versions/{version}:load")
async def load_version(name: str, version: str, request: Request) -> dict[str, Any]:
    host = _state(request).host
    body = _object(await _json(request, allow_empty=True))
    expect, actor = _expect_and_actor(body)
    host.served(name)  # 404 for an unknown model before touching the registry
    model = await host.swap(name, version, promote=True, expect=expect, actor=actor)
    return {"name": name, "version": model.version, "ready": True}


@router.post("/v1/models/{name}:rollback")
async def rollback(name: str, request: Request) -> dict[str, Any]:
    host = _state(request).host
    body = _object(await _json(request, allow_empty=True))
    steps = body.get("steps", 1)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 50:
        raise BadRequest("steps must be a whole number from 1 to 50")
    expect, actor = _expect_and_actor(body)
    model = await host.rollback(name, steps, expect=expect, actor=actor)
    return {"name": name, "version": model.version, "ready": True}


@router.post("/v1/models/{name}/versions/{version}:evaluate")
async def evaluate(name: str, version: str, request: Request) -> dict[str, Any]:
    host, scores = _state(request).host, _state(request).scores
    body = _object(await _json(request, allow_empty=True))
    golden_from = body.get("golden_from")
    for value in (version, golden_from):
        if value is not None and (not isinstance(value, str) or not is_version(value)):
            raise BadRequest('versions are named "v1", "v2", ...')
    host.served(name)  # 404 for an unknown model before touching the registry
    return await scores.evaluate(name, version, golden_from=golden_from)


@router.get("/v1/models/{name}/drift")
async def drift(name: str, request: Request, limit: int = DEFAULT_DRIFT_WINDOW) -> dict[str, Any]:
    host, metrics = _state(request).host, _state(request).metrics
    return await drift_report(host, metrics, name, max(1, min(limit, 5000)))


@router.get("/v1/models/{name}/predictions")
async def predictions(name: str, request: Request, limit: int = 500) -> dict[str, Any]:
    host = _state(request).host
    logged = host.prediction_log(name, max(0, min(limit, 5000)))
    return {"name": name, "predictions": [
        {"at": p.at, "version": p.version, "label": p.label, "confidence": p.confidence,
         "embedding": list(p.embedding)} for p in logged]}


@router.post("/classify")
async def classify(request: Request) -> dict[str, Any]:
    host = _state(request).host
    body = await _json(request)
    if not isinstance(body, dict) or "text" not in body:
        raise BadRequest('expected {"text": "..."}')
    text = check_text(body["text"])
    version, prediction = (await host.predict(TEXT_MODEL, [Instance(text=text)]))[0]
    return {"model_name": TEXT_MODEL, "model_version": version, **prediction.to_json()}


@router.get("/model/version")
async def model_version(request: Request) -> dict[str, Any]:
    host = _state(request).host
    return {"models": {name: _version_or_none(host, name) for name in host.names}}


def create_worker_app(host: ModelHost, metrics: WorkerMetrics) -> FastAPI:
    scores = VersionScores(host, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await host.load_all()
        try:
            yield
        finally:
            await scores.stop()
            await host.stop()

    app = FastAPI(title="incident-bot worker", lifespan=lifespan, docs_url=None, redoc_url=None)
    # A call from the bot carries the bot's correlation id (X-Request-Id): the worker logs it
    # under that id, so a prediction is found from the alert that asked for it.
    app.add_middleware(CorrelationMiddleware, log_requests="sent", logger="inference.http")

    @app.exception_handler(InferenceError)
    async def inference_error(_request: Request, exc: InferenceError) -> JSONResponse:
        metrics.errors.labels(code=exc.code).inc()
        headers = {"Retry-After": "1"} if isinstance(exc, Overloaded) or exc.http_status == 503 else None
        return JSONResponse(exc.body(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RegistryError)
    async def registry_error(_request: Request, exc: RegistryError) -> JSONResponse:
        if isinstance(exc, UnknownModel | UnknownVersion):
            mapped: InferenceError = ModelNotFound(str(exc))
        elif isinstance(exc, CorruptVersion):
            mapped = DeployRefused(f"{exc}; nothing was changed")
        else:
            mapped = ModelNotReady(f"the model registry is unavailable: {exc}")
        return await inference_error(_request, mapped)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.errors.labels(code=BadRequest.code).inc()
        return JSONResponse({"error": "malformed request", "code": BadRequest.code}, status_code=400)

    app.state.worker = WorkerState(host=host, metrics=metrics, scores=scores)
    app.include_router(router)
    return app


async def _json(request: Request, *, allow_empty: bool = False) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request bodies are limited to {MAX_BODY_BYTES // (1024 * 1024)} MB")
    if not body and allow_empty:
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("the body is not valid JSON") from exc


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _embed_texts(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("texts"), list):
        raise BadRequest('expected a JSON object {"texts": ["...", ...]}')
    texts = body["texts"]
    if not 1 <= len(texts) <= MAX_EMBED_TEXTS:
        raise BadRequest(f"texts must hold 1 to {MAX_EMBED_TEXTS} strings, not {len(texts)}")
    return [check_text(text, where=f"texts[{index}]") for index, text in enumerate(texts)]


def _expect_and_actor(body: dict[str, Any]) -> tuple[str | None, str]:
    """The optional ``expect`` (the version the caller believes is serving) and ``actor``."""
    expect = body.get("expect")
    if expect is not None and (not isinstance(expect, str) or not expect):
        raise BadRequest("expect must be a version name such as \"v2\"")
    actor = body.get("actor")
    if actor is None:
        return expect, DEFAULT_ACTOR
    if not isinstance(actor, str) or not actor.strip() or len(actor) > ACTOR_MAX:
        raise BadRequest(f"actor must be a non-empty string of at most {ACTOR_MAX} characters")
    return expect, actor


def _version_or_none(host: ModelHost, name: str) -> str | None:
    try:
        return host.served(name).version
    except InferenceError:
        return None


def _describe(host: ModelHost, name: str) -> dict[str, Any]:
    try:
        model = host.served(name)
    except ModelNotReady:
        return {"name": name, "version": None, "ready": False}
    return {"name": name, "version": model.version, "ready": True, "kind": model.kind, "labels": list(model.labels)}


def _manifest_json(manifest: Any) -> dict[str, Any]:
    return json.loads(manifest.to_json())


def _predict_response(name: str, results: list[tuple[str, Any]]) -> dict[str, Any]:
    versions = [version for version, _ in results]
    return {
        "model_name": name,
        # A request that straddled a hot swap is reported under the newer version.
        "model_version": max(versions, key=_version_number),
        "predictions": [{**p.to_json(), "model_version": v} for v, p in results],
    }


def _version_number(version: str) -> int:
    digits = "".join(ch for ch in version if ch.isdigit())
    return int(digits) if digits else 0
