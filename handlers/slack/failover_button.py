"""Diagnose's "Fail over…" button, shown when the primary provider is down and a backup is
healthy: it proposes the guarded failover at once and shows its confirmation (seed 003).

The button carries nothing the bot trusts: the planner reads the routing and the providers'
health again and picks the first healthy backup, so an old or forged click can only propose
what a fresh `/incident failover` would.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from bot.slack.ids import ActionId
from handlers.slack.action_buttons import propose_into_modal
from handlers.slack.actions import request_from_action
from handlers.slack.context import Ack, services_of


async def on_failover(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="action", name=ActionId.PROPOSE_FAILOVER.value).inc()
    await propose_into_modal(services, request_from_action(body),
                             lambda _incident: ActionRequest(ActionKind.FAILOVER, service=""))


def register(app: AsyncApp) -> None:
    app.action(ActionId.PROPOSE_FAILOVER.value)(on_failover)
