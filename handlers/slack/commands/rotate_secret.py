"""`/incident rotate-secret <secret>`: rotate an allow-listed Secrets Manager secret (two-person)."""

from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command


def parse(args: str) -> ActionRequest:
    parts = args.split()
    if len(parts) != 1:
        raise UsageError("Name one secret by its name or ARN, e.g. `rotate-secret prod/scoring/api-key`.")
    return ActionRequest(ActionKind.ROTATE_SECRET, service="", secret_id=parts[0])


async def run(invocation: Invocation) -> None:
    await propose_from_command(invocation, parse(invocation.args))


SUBCOMMAND = Subcommand(name="rotate-secret", usage="rotate-secret <secret-name-or-arn>",
                        summary="Rotate a Secrets Manager secret (needs a second person's approval).", run=run)
