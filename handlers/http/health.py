"""GET /healthz (the process is up), /readyz (the database answers), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics import CONTENT_TYPE_LATEST
from handlers.services import Services
from storage.db import ping

router = APIRouter()

READY_TIMEOUT_SECONDS = 2.0


def _services(request: Request) -> Services:
    return request.app.state.services


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    sessions = _services(request).core.sessions

    try:
        await asyncio.wait_for(ping(sessions), timeout=READY_TIMEOUT_SECONDS)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        return JSONResponse({"status": "unavailable", "database": exc.__class__.__name__}, status_code=503)
    # Ready either way: a route that believes nobody is a choice, but one an operator should see;
    # and a backlog is every replica's (one database), so it is shown, not made a reason to stop
    # sending this one traffic (webhooks answer 503 themselves past the bound).
    inbox = request.app.state.inbox
    return JSONResponse({"status": "ready", "database": "ok", "senders": request.app.state.webhooks.senders(),
                         "inbox": {"backlog": inbox.pending, "oldest_age_seconds": round(inbox.oldest_age, 3),
                                   "max_backlog": inbox.max_backlog}})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(_services(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
