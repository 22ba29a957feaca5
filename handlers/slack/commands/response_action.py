"""The shared path of the action subcommands: propose in the incident, answer with the proposal."""

from __future__ import annotations

from bot.core.actions.requests import ActionRequest
from bot.slack.action_blocks import proposal
from handlers.slack.commands.base import Invocation, channel_incident
from handlers.slack.context import Reply, answer_within_budget


async def propose_from_command(invocation: Invocation, request: ActionRequest) -> None:
    """Answer with the plan (before and after) and Confirm/Cancel buttons, only to the requester."""

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        action = await invocation.services.actions.propose(
            actor=invocation.request.user_id, incident_id=incident.id, request=request)
        text, blocks = proposal(action)
        return Reply(text=text, blocks=blocks)

    await answer_within_budget(invocation.ack, invocation.services, invocation.request, work())
