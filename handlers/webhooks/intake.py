"""What every webhook endpoint shares: a capped body read, refusals, and the durable accept."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.core.errors import OutsideReplayWindow
from bot.core.inbox import Appended
from bot.core.signals import AlertSignal
from bot.metrics import Metrics
from handlers.webhooks.errors import (
    MAX_BODY_BYTES,
    PayloadTooLarge,
    ReplayedDelivery,
    WebhookError,
)
from handlers.webhooks.inbox_writer import InboxFull, InboxWriter
from observability import correlation

security_log = logging.getLogger("incident_bot.security")
log = logging.getLogger(__name__)

# PagerDuty gives up on a delivery after 5 s and SNS after 15 s; answer well inside the shorter.
ACCEPT_TIMEOUT_SECONDS = 4.0


@dataclass(frozen=True)
class Intake:
    metrics: Metrics
    # Appends each verified delivery to the inbox, several to a transaction (group commit).
    writer: InboxWriter


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


def unavailable(source: str, metrics: Metrics, why: str, *, retry_after: int = 5) -> JSONResponse:
    metrics.webhooks.labels(source=source, outcome="unavailable").inc()
    # 503, never 2xx: the sender keeps the delivery and retries it.
    return JSONResponse({"error": f"temporarily unavailable: {why}"}, status_code=503,
                        headers={"Retry-After": str(retry_after)})


async def accept(intake: Intake, signal: AlertSignal, body: bytes) -> JSONResponse:
    """Append the delivery to the inbox; 2xx only once that append committed. What it does to
    the incidents happens after the answer (``handlers/jobs/inbox_processor.py``).

    Raises ``ReplayedDelivery`` for a new delivery dated outside its sender's retry window:
    nothing of it is stored.
    """
    source = signal.source.value
    # From here the delivery's own id names the work: its rows in the outbox keep it, so the
    # Slack calls it leads to log the same id.
    correlation.bind(correlation.scoped(source, signal.delivery_id))
    log.debug("%s delivery %s verified", source, correlation.accepted(signal.delivery_id) or "(id not loggable)")
    work = asyncio.ensure_future(intake.writer.append(signal, body.decode("utf-8", "replace")))
    # An append that outlives its answer may still fail; its error is logged, not left unread.
    work.add_done_callback(_log_late_failure)
    try:
        # Shielded: if the answer has to go before the commit finishes, the commit still
        # finishes, and the sender's retry is then recognised as a duplicate.
        appended = await asyncio.wait_for(asyncio.shield(work), timeout=ACCEPT_TIMEOUT_SECONDS)
    except TimeoutError:
        return unavailable(source, intake.metrics, "the database is slow")
    except InboxFull:
        # Honest back-pressure: never a 2xx for a delivery the bot cannot apply in time.
        return unavailable(source, intake.metrics, "too many alerts are waiting to be applied", retry_after=30)
    except OutsideReplayWindow as exc:
        raise ReplayedDelivery(str(exc)) from exc
    except (SQLAlchemyError, OSError) as exc:
        log.warning("could not store %s delivery %s: %s", source, signal.delivery_id, exc.__class__.__name__)
        return unavailable(source, intake.metrics, "the database is unreachable")
    if appended.duplicate:
        intake.metrics.webhooks.labels(source=source, outcome="duplicate").inc()
        return JSONResponse({"status": "duplicate"}, status_code=200)
    intake.metrics.webhooks.labels(source=source, outcome="accepted").inc()
    # The stored delivery's number: what it did can be looked up once it is applied.
    return JSONResponse({"status": "accepted", "delivery": appended.delivery_id}, status_code=200)


def _log_late_failure(task: asyncio.Future[Appended]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("a webhook commit failed: %s", task.exception())
