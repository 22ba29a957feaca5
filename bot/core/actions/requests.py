"""What a person asked for, before it is checked against the config and the live state."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actions.kinds import ActionKind


@dataclass(frozen=True)
class ActionRequest:
    """One requested action. Which fields matter depends on ``kind``.

    ``service`` may be empty: the planner then uses the incident's own service, or the only
    service that has the named model or flag.
    """

    kind: ActionKind
    service: str = ""
    count: int | None = None  # scale
    model: str | None = None  # rollback_model, load_model
    steps: int = 1  # rollback_model
    version: str | None = None  # load_model: "v4"; rollback_deploy: a revision; rollback_config: a version
    parameter: str | None = None  # set_flag, rollback_config: the name under the service's prefix
    value: str | None = None  # set_flag
    text: str | None = None  # publish_notice: the notice as the requester wrote it (the audience is ``parameter``)
    secret_id: str | None = None  # rotate_secret: the secret's name or ARN
    user: str | None = None  # deactivate_key: the IAM user
    access_key_id: str | None = None  # deactivate_key: the key


def scale(service: str, count: int) -> ActionRequest:
    return ActionRequest(ActionKind.SCALE, service=service, count=count)


def stop(service: str) -> ActionRequest:
    return ActionRequest(ActionKind.STOP, service=service, count=0)


def disable_auto_apply(service: str = "") -> ActionRequest:
    """The seeds' first move in a model regression: stop applying model output automatically."""
    return ActionRequest(ActionKind.SET_FLAG, service=service, parameter=AUTO_APPLY_FLAG, value="false")


AUTO_APPLY_FLAG = "AUTO_APPLY_ENABLED"
