"""`/incident stop <service>`: the emergency stop, desired count 0, after a second person approves."""

from bot.core.actions.requests import stop
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command


async def run(invocation: Invocation) -> None:
    parts = invocation.args.split()
    if len(parts) > 1:
        raise UsageError("Name one service, e.g. `stop multimodal-api`.")
    await propose_from_command(invocation, stop(parts[0] if parts else ""))


SUBCOMMAND = Subcommand(name="stop", usage="stop <service>",
                        summary="Emergency stop: desired count 0 (needs a second person's approval).", run=run)
