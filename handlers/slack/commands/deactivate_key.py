"""`/incident deactivate-key <iam-user> <access-key-id>`: deactivate a leaked IAM access key (two-person)."""

from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command


def parse(args: str) -> ActionRequest:
    parts = args.split()
    if len(parts) != 2:
        raise UsageError("Give the IAM user and the access key id, e.g. `deactivate-key ci-deployer AKIA…`.")
    user, key_id = parts
    return ActionRequest(ActionKind.DEACTIVATE_KEY, service="", user=user, access_key_id=key_id)


async def run(invocation: Invocation) -> None:
    await propose_from_command(invocation, parse(invocation.args))


SUBCOMMAND = Subcommand(name="deactivate-key", usage="deactivate-key <iam-user> <access-key-id>",
                        summary="Deactivate an IAM user's access key (needs a second person's approval).", run=run)
