"""What every webhook route shares: refusals, and the durable accept."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.core.errors import OutsideReplayWindow
from bot.core.inbox import Appended
from bot.core.signals import AlertSignal
from bot.metrics import Metrics
from handlers.webhooks.asgi import Answer
from handlers.webhooks.errors import ReplayedDelivery, WebhookError
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


def refuse(exc: WebhookError, *, source: str, client: str, metrics: Metrics) -> Answer:
    metrics.webhooks.labels(source=source, outcome=f"refused_{exc.http_status}").inc()
    if exc.http_status in (401, 403):
        # Security log: who and why, never the body, which may be an attacker's payload.
        security_log.warning("refused %s webhook from %s: %s (%s)", source, client, exc.reason, exc.http_status)
    return Answer(exc.http_status, {"error": exc.reason})


def unavailable(source: str, metrics: Metrics, why: str, *, retry_after: int = 5) -> Answer:
    metrics.webhooks.labels(source=source, outcome="unavailable").inc()
    # 503, never 2xx: the sender keeps the delivery and retries it.
    return Answer(503, {"error": f"temporarily unavailable: {why}"}, headers=(("retry-after", str(retry_after)),))


async def accept(intake: Intake, signal: AlertSignal, body: bytes) -> Answer:
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
    try:
        work = intake.writer.submit(signal, body.decode("utf-8", "replace"))
        # An append that outlives its answer may still fail; its error is logged, not left unread.
        work.add_done_callback(_log_late_failure)
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
        return Answer(200, {"status": "duplicate"})
    intake.metrics.webhooks.labels(source=source, outcome="accepted").inc()
    # The stored delivery's number: what it did can be looked up once it is applied.
    return Answer(200, {"status": "accepted", "delivery": appended.delivery_id})


def _log_late_failure(task: asyncio.Future[Appended]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("a webhook commit failed: %s", task.exception())
