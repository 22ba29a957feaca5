"""What every webhook endpoint shares: a capped body read, refusals, and the durable accept."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.config import IncidentBotConfig
from bot.core.errors import OutsideReplayWindow
from bot.core.ingest import IngestResult, Outcome, ingest
from bot.core.signals import AlertSignal
from bot.core.unit_of_work import Core
from bot.metrics import Metrics
from handlers.webhooks.errors import (
    MAX_BODY_BYTES,
    PayloadTooLarge,
    ReplayedDelivery,
    WebhookError,
)
from observability import correlation

security_log = logging.getLogger("incident_bot.security")
log = logging.getLogger(__name__)

# PagerDuty gives up on a delivery after 5 s and SNS after 15 s; answer well inside the shorter.
ACCEPT_TIMEOUT_SECONDS = 4.0
_QUIET_OUTCOMES = {Outcome.DUPLICATE, Outcome.IGNORED, Outcome.NO_CHANGE}


@dataclass(frozen=True)
class Intake:
    core: Core
    config: IncidentBotConfig
    metrics: Metrics
    # How many deliveries are stored at once. A storm's deliveries wait here for a slot rather
    # than take every database connection (and, on SQLite, the one writer), so a person's click
    # or command never queues behind hundreds of alerts. The wait counts toward the accept
    # timeout, so an overwhelmed bot answers 503 and the sender retries later.
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing anything over ``limit`` (by default the senders' own 256 KB limit)
    without reading it all: a declared length over it is refused at once, a chunked body as it passes it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def refuse(exc: WebhookError, *, source: str, request: Request, metrics: Metrics) -> JSONResponse:
    metrics.webhooks.labels(source=source, outcome=f"refused_{exc.http_status}").inc()
    if exc.http_status in (401, 403):
        # Security log: who and why, never the body, which may be an attacker's payload.
        client = request.client.host if request.client else "unknown"
        security_log.warning("refused %s webhook from %s: %s (%s)", source, client, exc.reason, exc.http_status)
    return JSONResponse({"error": exc.reason}, status_code=exc.http_status)


def unavailable(source: str, metrics: Metrics, why: str) -> JSONResponse:
    metrics.webhooks.labels(source=source, outcome="unavailable").inc()
    # 503, never 2xx: the sender keeps the delivery and retries it.
    return JSONResponse({"error": f"temporarily unavailable: {why}"}, status_code=503, headers={"Retry-After": "5"})


async def accept(intake: Intake, signal: AlertSignal, body: bytes) -> JSONResponse:
    """Store the delivery and its effects in one transaction; 2xx only after it committed.

    Raises ``ReplayedDelivery`` for a new delivery dated outside its sender's retry window:
    nothing of it is stored.
    """
    source = signal.source.value
    # From here the delivery's own id names the work: its rows in the outbox keep it, so the
    # Slack calls it leads to log the same id.
    correlation.bind(correlation.scoped(source, signal.delivery_id))
    log.info("%s delivery %s verified", source, correlation.accepted(signal.delivery_id) or "(id not loggable)")
    work = asyncio.ensure_future(_commit(intake, signal, body))
    # A commit that outlives its answer may still fail; its error is logged, not left unread.
    work.add_done_callback(_log_late_failure)
    try:
        # Shielded: if the answer has to go before the commit finishes, the commit still
        # finishes, and the sender's retry is then recognised as a duplicate.
        result = await asyncio.wait_for(asyncio.shield(work), timeout=ACCEPT_TIMEOUT_SECONDS)
    except TimeoutError:
        return unavailable(source, intake.metrics, "the database is slow")
    except OutsideReplayWindow as exc:
        raise ReplayedDelivery(str(exc)) from exc
    except (SQLAlchemyError, OSError) as exc:
        log.warning("could not store %s delivery %s: %s", source, signal.delivery_id, exc.__class__.__name__)
        return unavailable(source, intake.metrics, "the database is unreachable")
    intake.metrics.webhooks.labels(source=source, outcome=result.outcome.value).inc()
    if result.outcome not in _QUIET_OUTCOMES:
        intake.core.outbox_ready()
    return JSONResponse({"status": result.outcome.value, "incident": result.incident_number}, status_code=200)


async def _commit(intake: Intake, signal: AlertSignal, body: bytes) -> IngestResult:
    core = intake.core
    async with intake.slots, core.sessions() as session, session.begin():
        return await ingest(
            session, signal=signal, body=body.decode("utf-8", "replace"), config=intake.config, now=core.clock()
        )


def _log_late_failure(task: asyncio.Future[IngestResult]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("a webhook commit failed: %s", task.exception())
