"""The one place where errors become messages for people.

Expected refusals (a core error) are shown as they are. Anything else gets an error id that is
logged with the traceback, so a person can quote it and an operator can find it.
"""

from __future__ import annotations

import logging
import uuid

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.core.errors import CoreError
from bot.metrics import Metrics

log = logging.getLogger("incident_bot.errors")

# The database is away (stopped, failing over, unreachable): not a bug, so no error id, and the
# transaction that met it rolled back.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, ConnectionError)
DATABASE_UNAVAILABLE_MESSAGE = (
    "⚠️ The incident database can't be reached right now, so nothing was changed. "
    "Please try again in a minute: the bot reconnects by itself when the database is back."
)


def message_for(exc: BaseException, *, metrics: Metrics | None = None) -> str:
    if isinstance(exc, CoreError):
        return f"⚠️ {exc}"
    if isinstance(exc, DATABASE_UNAVAILABLE):
        log.warning("the database is unavailable: %s", exc.__class__.__name__)
        return DATABASE_UNAVAILABLE_MESSAGE
    error_id = uuid.uuid4().hex[:10]
    log.error("unexpected error %s", error_id, exc_info=exc)
    if metrics is not None:
        metrics.errors.inc()
    return (
        f"❌ Something went wrong on our side (error id `{error_id}`). Nothing was lost: "
        "check the incident channel before trying again, and quote the error id if you report it."
    )


# Bolt trusts Slack's payload shapes; these are what it raises on a signed body of another shape.
MALFORMED_PAYLOAD_ERRORS = (TypeError, AttributeError, LookupError, ValueError)


def register_error_handler(app: AsyncApp) -> None:
    async def on_unhandled_error(error: Exception) -> BoltResponse | None:
        if isinstance(error, MALFORMED_PAYLOAD_ERRORS):
            log.warning("malformed Slack request: %s: %s", error.__class__.__name__, error)
            return BoltResponse(status=400, body='{"error": "malformed Slack request"}',
                                headers={"content-type": "application/json"})
        message_for(error)
        return None

    app.error(on_unhandled_error)
