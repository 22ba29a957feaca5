"""Modal submissions: the declare form."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.config.severity import Severity
from bot.slack.ids import BlockId, CallbackId, InputId
from handlers.slack import view_state
from handlers.slack.commands.declare import declare_incident
from handlers.slack.context import Ack, Reply, Request, respond_later, services_of
from handlers.slack.errors import message_for


def parse_declare_submission(view: dict[str, Any]) -> tuple[dict[str, str], str, Severity, str | None]:
    """Returns (errors by block id, title, severity, service)."""
    title = view_state.typed(view, BlockId.DECLARE_TITLE, InputId.TITLE)
    chosen = view_state.selected(view, BlockId.DECLARE_SEVERITY, InputId.SEVERITY)
    service = view_state.selected(view, BlockId.DECLARE_SERVICE, InputId.SERVICE) or None
    errors: dict[str, str] = {}
    if not title:
        errors[BlockId.DECLARE_TITLE.value] = "Say in a few words what is happening."
    try:
        severity = Severity.parse(chosen or "P2")
    except ValueError:
        errors[BlockId.DECLARE_SEVERITY.value] = f"Choose one of {Severity.expected()}."
        severity = Severity.P2
    return errors, title, severity, service


async def on_declare_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="view", name=CallbackId.DECLARE_MODAL.value).inc()
    errors, title, severity, service = parse_declare_submission(view)
    if service is not None and service not in services.config.services:
        errors[BlockId.DECLARE_SERVICE.value] = "That service isn't configured."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    try:
        origin = json.loads(view.get("private_metadata") or "{}").get("channel_id")
    except (ValueError, AttributeError):
        origin = None
    request = Request(user_id=(body.get("user") or {}).get("id", ""), channel_id=origin)
    try:
        reply = await declare_incident(services, request, title=title, severity=severity, service=service)
    except Exception as exc:  # every failure becomes a message for the person
        reply = Reply(text=message_for(exc, metrics=services.metrics))
    if origin:
        await respond_later(services, request, reply)


def register(app: AsyncApp) -> None:
    app.view(CallbackId.DECLARE_MODAL.value)(on_declare_submitted)
