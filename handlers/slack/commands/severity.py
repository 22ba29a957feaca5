"""`/incident sev <P0-P3>`: change the severity."""

from bot.config.severity import Severity
from bot.core import incidents
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    change_channel_incident,
    parse_severity,
)


async def run(invocation: Invocation) -> None:
    tokens = invocation.args.split()
    if len(tokens) != 1:
        raise UsageError(f"Give exactly one severity: {Severity.expected()}.")
    new_severity = parse_severity(tokens[0])
    await change_channel_incident(
        invocation, action="incident.severity", change=incidents.set_severity,
        done=lambda incident: f"⚠️ Incident #{incident.number} is now {incident.severity}.",
        severity=new_severity,
    )


SUBCOMMAND = Subcommand(name="sev", usage="sev <P0|P1|P2|P3>", summary="Change the severity.",
                        run=run, aliases=("severity",))
