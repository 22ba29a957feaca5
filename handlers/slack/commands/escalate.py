"""`/incident escalate [@user|@group|level N]`: page someone now, without waiting for the timer."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from bot.core.escalation import Targets, escalate_by_hand
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    change_channel_incident,
    parse_user,
)
from storage.models import Incident

# Slack sends user-group mentions in command text as <!subteam^S123|@name>.
_GROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>$")
_LEVEL = re.compile(r"^(?:level\s+|l)?(\d{1,2})$", re.IGNORECASE)


def parse_target(args: str) -> tuple[Targets | None, int | None]:
    """(people named, None), (None, level), or (None, None) for "the next level"."""
    text = args.strip()
    if not text:
        return None, None
    level = _LEVEL.match(text)
    if level is not None:
        return None, int(level.group(1))
    users: list[str] = []
    groups: list[str] = []
    for token in text.split():
        group = _GROUP.match(token)
        if group is not None:
            groups.append(group.group(1))
        else:
            users.append(parse_user(token))
    if len(users) + len(groups) > 10:
        raise UsageError("Name at most 10 people or groups at once.")
    return Targets(users=tuple(dict.fromkeys(users)), usergroups=tuple(dict.fromkeys(groups))), None


def _done(targets: Targets | None, level: int | None) -> Callable[[Incident], str]:
    def describe(incident: Incident) -> str:
        if targets is not None:
            who = " ".join([*(f"<@{u}>" for u in targets.users), *(f"<!subteam^{g}>" for g in targets.usergroups)])
            return f"📈 Escalated incident #{incident.number} to {who}."
        return f"📈 Escalated incident #{incident.number} to level {incident.escalation_level}."
    return describe


async def run(invocation: Invocation) -> None:
    targets, level = parse_target(invocation.args)
    await change_channel_incident(
        invocation, action="incident.escalate", done=_done(targets, level),
        # The policy is bound here, not passed as a keyword: keywords go into the audit detail.
        change=partial(escalate_by_hand, policy=invocation.services.escalation), targets=targets, level=level,
    )


SUBCOMMAND = Subcommand(
    name="escalate", usage="escalate [@person|@group|level N]",
    summary="Page the next escalation level now, a given level, or named people.", run=run,
)
