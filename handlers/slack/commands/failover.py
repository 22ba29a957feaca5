"""`/incident failover [service] [provider]`: move an AI service's traffic to a backup provider;
`/incident failover restore [service]`: back to the primary, in canary steps (seed 003).

One word is a service when the config names a service so, else a provider of the incident's
service; no words fail over the incident's service to its first healthy backup.
"""

from __future__ import annotations

from bot.config import IncidentBotConfig
from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command

RESTORE = "restore"


def parse(args: str, config: IncidentBotConfig) -> ActionRequest:
    words = args.split()
    if words and words[0].lower() == RESTORE:
        if len(words) > 2:
            raise UsageError("Name at most the service, e.g. `failover restore ai-orchestrator`.")
        return ActionRequest(ActionKind.RESTORE_PROVIDER, service=words[1] if len(words) > 1 else "")
    if len(words) > 2:
        raise UsageError("Give the service and the backup provider, e.g. `failover ai-orchestrator anthropic`.")
    if len(words) == 2:
        return ActionRequest(ActionKind.FAILOVER, service=words[0], value=words[1])
    if len(words) == 1 and config.service_name(words[0]) is not None:
        return ActionRequest(ActionKind.FAILOVER, service=words[0])
    return ActionRequest(ActionKind.FAILOVER, service="", value=words[0] if words else "")


async def run(invocation: Invocation) -> None:
    await propose_from_command(invocation, parse(invocation.args, invocation.services.config))


SUBCOMMAND = Subcommand(name="failover", usage="failover [service] [provider] | failover restore [service]",
                        summary="Move an AI service's traffic to a backup provider, or restore it in canary steps.",
                        run=run)
