"""Routing `/incident <subcommand> ...` to the subcommand's handler."""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from handlers.slack.commands import (
    acknowledge,
    deactivate_key,
    declare,
    diagnose,
    escalate,
    evidence,
    failover,
    flag,
    followup,
    incident_list,
    investigate,
    mitigate,
    note,
    notify,
    postmortem,
    redeploy,
    resolve,
    role,
    rollback,
    rotate_secret,
    runbook,
    scale,
    severity,
    status,
    stop,
    timeline,
)
from handlers.slack.commands import (
    help as help_command,
)
from handlers.slack.commands.base import (
    COMMAND,
    Invocation,
    Subcommand,
    UsageError,
    split_first,
)
from handlers.slack.context import Ack, Reply, Request, services_of

SUBCOMMANDS: tuple[Subcommand, ...] = (
    declare.SUBCOMMAND,
    acknowledge.SUBCOMMAND,
    severity.SUBCOMMAND,
    role.SUBCOMMAND,
    status.SUBCOMMAND,
    note.SUBCOMMAND,
    followup.SUBCOMMAND,
    escalate.SUBCOMMAND,
    mitigate.SUBCOMMAND,
    scale.SUBCOMMAND,
    rollback.SUBCOMMAND,
    flag.SUBCOMMAND,
    stop.SUBCOMMAND,
    failover.SUBCOMMAND,
    redeploy.SUBCOMMAND,
    resolve.SUBCOMMAND,
    postmortem.SUBCOMMAND,
    runbook.SUBCOMMAND,
    diagnose.SUBCOMMAND,
    investigate.SUBCOMMAND,
    timeline.SUBCOMMAND,
    evidence.SUBCOMMAND,
    rotate_secret.SUBCOMMAND,
    deactivate_key.SUBCOMMAND,
    notify.SUBCOMMAND,
    incident_list.SUBCOMMAND,
    help_command.help_subcommand(lambda: SUBCOMMANDS),
)

_BY_NAME: dict[str, Subcommand] = {
    name: sub for sub in SUBCOMMANDS for name in (sub.name, *sub.aliases)
}


def find(name: str) -> Subcommand | None:
    return _BY_NAME.get(name.lower())


async def handle_incident_command(ack: Ack, command: dict[str, Any], context: AsyncBoltContext) -> None:
    started = time.perf_counter()
    services = services_of(context)
    name, args = split_first(command.get("text") or "")
    request = Request(
        user_id=command.get("user_id", ""),
        channel_id=command.get("channel_id"),
        response_url=command.get("response_url"),
        trigger_id=command.get("trigger_id"),
        team_id=command.get("team_id"),
    )
    subcommand = find(name)
    services.metrics.slack_requests.labels(kind="command", name=subcommand.name if subcommand else "help").inc()
    invocation = Invocation(args=args, request=request, services=services, ack=_timed(ack, services, started))
    if subcommand is None:
        await help_command.show_help(invocation, subcommands=SUBCOMMANDS, unknown=name or None)
        return
    try:
        await subcommand.run(invocation)
    except UsageError as exc:
        await invocation.ack(**Reply(text=f"⚠️ {exc}\nUsage: {subcommand.usage_line}").ack_kwargs())


def _timed(ack: Ack, services: Any, started: float) -> Ack:
    async def timed_ack(*args: Any, **kwargs: Any) -> Any:
        result = await ack(*args, **kwargs)
        services.metrics.slack_ack_seconds.labels(kind="command").observe(time.perf_counter() - started)
        return result

    return timed_ack


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(handle_incident_command)
