"""`/incident rollback <model|deploy|config> <target> [version]`: undo a change, guarded."""

from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.commands.response_action import propose_from_command

KINDS = ("model", "deploy", "config")


def parse(args: str) -> ActionRequest:
    parts = args.split()
    if len(parts) < 2 or len(parts) > 3 or parts[0].lower() not in KINDS:
        raise UsageError("Say what to roll back: `rollback model incident-text [v3]`, "
                         "`rollback deploy multimodal-api [revision]` or `rollback config max_batch_size [version]`.")
    kind, target = parts[0].lower(), parts[1]
    version = parts[2] if len(parts) == 3 else None
    if kind == "model":
        if version is None:
            return ActionRequest(ActionKind.ROLLBACK_MODEL, model=target, steps=1)
        if version.isdigit():
            raise UsageError(f"Name the version as the registry does, e.g. `v{version}`.")
        return ActionRequest(ActionKind.LOAD_MODEL, model=target, version=version)
    if kind == "deploy":
        return ActionRequest(ActionKind.ROLLBACK_DEPLOY, service=target, version=version)
    service, _, parameter = target.rpartition(":")
    return ActionRequest(ActionKind.ROLLBACK_CONFIG, service=service, parameter=parameter, version=version)


async def run(invocation: Invocation) -> None:
    await propose_from_command(invocation, parse(invocation.args))


SUBCOMMAND = Subcommand(name="rollback", usage="rollback <model|deploy|config> <target> [version]",
                        summary="Roll back a model, the deployment, or a config value.", run=run)
