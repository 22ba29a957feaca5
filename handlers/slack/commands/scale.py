"""`/incident scale <service> <count>`: set an ECS service's desired count, within its bounds."""

from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command


def parse(args: str) -> ActionRequest:
    """A count that is not a whole number still goes to the planner, which names the bounds."""
    parts = args.split()
    if len(parts) == 1:
        parts = ["", parts[0]]  # the incident's own service
    if len(parts) != 2:
        raise UsageError("Give the service and the new desired count, e.g. `scale multimodal-api 10`.")
    service, count = parts
    number = int(count) if count.isascii() and count.isdigit() and len(count) < 7 else None
    return ActionRequest(ActionKind.SCALE, service=service, count=number, value=count)


async def run(invocation: Invocation) -> None:
    await propose_from_command(invocation, parse(invocation.args))


SUBCOMMAND = Subcommand(name="scale", usage="scale <service> <count>",
                        summary="Set an ECS service's desired count (within its bounds).", run=run)
