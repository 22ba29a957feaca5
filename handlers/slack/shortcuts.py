"""The "Run diagnostic inference" message shortcut: ack at once, reply in the message's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.slack.ids import CallbackId
from handlers.jobs.pasted import reply_in_thread
from handlers.slack.context import Ack, services_of


async def on_diagnostic_shortcut(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="shortcut", name=CallbackId.DIAGNOSTIC_SHORTCUT.value).inc()
    channel = (body.get("channel") or {}).get("id") or ""
    message = body.get("message") or {}
    if not channel or not isinstance(message, dict):
        return
    await reply_in_thread(worker=services.diagnoser.worker, gateway=services.gateway,
                          models=services.diagnoser.model_names(), channel=channel, message=message)


def register(app: AsyncApp) -> None:
    app.shortcut(CallbackId.DIAGNOSTIC_SHORTCUT.value)(on_diagnostic_shortcut)
