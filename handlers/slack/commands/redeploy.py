"""`/incident redeploy <service>`: force a new ECS deployment of the task definition it runs now.

The seeds restart stuck tasks this way (`aws ecs update-service --force-new-deployment`).
"""

from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command


async def run(invocation: Invocation) -> None:
    parts = invocation.args.split()
    if len(parts) > 1:
        raise UsageError("Name one service, e.g. `redeploy multimodal-api`.")
    await propose_from_command(invocation, ActionRequest(ActionKind.REDEPLOY, service=parts[0] if parts else ""))


SUBCOMMAND = Subcommand(name="redeploy", usage="redeploy <service>",
                        summary="Force a new deployment of the running task definition.", run=run)
