"""What a listener needs: the injected services and a way to answer the person."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.slack.errors import SlackError
from handlers.services import SERVICES_KEY, Services
from handlers.slack.errors import message_for

log = logging.getLogger(__name__)

# Slack allows 3 s for the acknowledgement, and Bolt gives up on a listener that has not acked
# 3 s after it started (answering 404). Half of that leaves room for the network and for an
# event loop that is slow to wake up on a busy host.
ACK_BUDGET_SECONDS = 1.5
WORKING_ON_IT = "⏳ Working on it…"
T = TypeVar("T")

Ack = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: list[dict[str, Any]] | None = None

    def ack_kwargs(self) -> dict[str, Any]:
        # An explicit response_type makes Bolt answer with JSON rather than bare text.
        kwargs: dict[str, Any] = {"text": self.text, "response_type": "ephemeral"}
        if self.blocks:
            kwargs["blocks"] = self.blocks
        return kwargs


@dataclass(frozen=True)
class Request:
    """Who asked, where, and how to answer them later."""

    user_id: str
    channel_id: str | None
    response_url: str | None = None
    trigger_id: str | None = None
    team_id: str | None = None


def services_of(context: AsyncBoltContext) -> Services:
    return context[SERVICES_KEY]


def install_services(app: AsyncApp, services: Services) -> None:
    async def inject(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context[SERVICES_KEY] = services
        await next()

    app.middleware(inject)


async def respond_later(services: Services, request: Request, reply: Reply) -> None:
    """After the ack, the response_url is the way back to the person (slash commands, buttons)."""
    try:
        if request.response_url:
            await services.gateway.respond(request.response_url, text=reply.text, blocks=reply.blocks)
        elif request.channel_id:
            await services.gateway.post_ephemeral(request.channel_id, request.user_id, text=reply.text,
                                                  blocks=reply.blocks)
    except SlackError as exc:
        log.warning("could not answer %s: %s", request.user_id, exc)


async def answer_within_budget(
    ack: Ack, services: Services, request: Request, work: Coroutine[Any, Any, Reply]
) -> None:
    """Ack with the result if the work is quick (it nearly always is: a few database writes).

    If it is not done inside the budget, ack now with "working on it" and answer through the
    response_url when it finishes, so Slack never shows a timeout.
    """
    task = asyncio.ensure_future(_reply_or_error(services, work))
    done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET_SECONDS)
    if task in done:
        await ack(**task.result().ack_kwargs())
        return
    await ack(**Reply(text=WORKING_ON_IT).ack_kwargs())
    await respond_later(services, request, await task)


async def ack_after(ack: Ack, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` for up to the ack budget, ack, then let it finish; returns what it returned."""
    task = asyncio.ensure_future(work)
    await asyncio.wait({task}, timeout=ACK_BUDGET_SECONDS)
    await ack()
    return await task


async def _reply_or_error(services: Services, work: Coroutine[Any, Any, Reply]) -> Reply:
    try:
        return await work
    except Exception as exc:  # every failure becomes a message for the person
        return Reply(text=message_for(exc, metrics=services.metrics))


def view_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """A modal's ``private_metadata`` as the JSON object the bot wrote there; {} if it is not one."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
