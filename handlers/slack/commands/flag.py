"""`/incident flag <name> <value>`: set a configured flag in Parameter Store."""

from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command


def parse(args: str) -> ActionRequest:
    parts = args.split(maxsplit=1)
    if len(parts) != 2 or not parts[1].strip():
        raise UsageError("Give the flag and its new value, e.g. `flag AUTO_APPLY_ENABLED false`.")
    name, value = parts
    service, _, flag = name.rpartition(":")  # `service:FLAG` picks the service when several have it
    return ActionRequest(ActionKind.SET_FLAG, service=service, parameter=flag, value=value.strip())


async def run(invocation: Invocation) -> None:
    await propose_from_command(invocation, parse(invocation.args))


SUBCOMMAND = Subcommand(name="flag", usage="flag <name> <value>",
                        summary="Set a feature flag, e.g. AUTO_APPLY_ENABLED false.", run=run)
