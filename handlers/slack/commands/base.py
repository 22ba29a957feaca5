"""The shape every subcommand shares, and parsing helpers for their arguments."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config.severity import Severity
from bot.core import incidents
from bot.core.errors import InvalidInput
from bot.core.roles import Role
from handlers.services import Services
from handlers.slack.context import Ack, Reply, Request, answer_within_budget
from storage.models import Incident

COMMAND = "/incident"


class UsageError(ValueError):
    """The arguments don't fit the subcommand; the message says what was wrong."""


@dataclass(frozen=True)
class Invocation:
    args: str
    request: Request
    services: Services
    ack: Ack


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Callable[[Invocation], Awaitable[None]]
    aliases: tuple[str, ...] = ()

    @property
    def usage_line(self) -> str:
        return f"`{COMMAND} {self.usage}`"


# Slack escapes mentions in command text as <@U123|name> (manifest: should_escape: true).
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_BARE_ID = re.compile(r"^([UW][A-Z0-9]{2,})$")


def parse_user(token: str) -> str:
    match = _MENTION.match(token) or _BARE_ID.match(token)
    if match is None:
        raise UsageError(f"`{token[:40]}` isn't a person. Mention them with @ so Slack sends who they are.")
    return match.group(1)


def parse_severity(token: str) -> Severity:
    try:
        return Severity.parse(token)
    except ValueError:
        raise UsageError(f"`{token[:20]}` isn't a severity. Use one of {Severity.expected()}.") from None


def looks_like_severity(token: str) -> bool:
    return token.strip().upper() in Severity.__members__


def parse_role(token: str) -> Role:
    try:
        return Role(token.strip().lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise UsageError(f"`{token[:30]}` isn't a role. Roles are {roles}.") from None


def split_first(text: str) -> tuple[str, str]:
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


async def channel_incident(invocation: Invocation) -> Incident:
    """The incident whose channel the command was typed in."""
    channel_id = invocation.request.channel_id
    if not channel_id:
        raise InvalidInput("Run this in an incident channel.")
    return await invocation.services.core.read(
        lambda session: incidents.require_incident_for_channel(session, channel_id=channel_id)
    )


ChangeFn = Callable[..., Awaitable[Incident]]


async def change_channel_incident(
    invocation: Invocation, *, action: str, change: ChangeFn, done: Callable[[Incident], str], **kwargs: object
) -> None:
    """The common path of the state-changing subcommands: find, change, audit, answer."""
    actor = invocation.request.user_id

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        changed = await invocation.services.core.change(
            actor=actor, action=action, incident_id=incident.id,
            apply=lambda session, now: change(session, incident_id=incident.id, actor=actor, now=now, **kwargs),
            detail={k: str(v) for k, v in kwargs.items() if v is not None} or None,
        )
        return Reply(text=done(changed))

    await answer_within_budget(invocation.ack, invocation.services, invocation.request, work())
