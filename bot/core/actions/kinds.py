"""What actions there are, which RBAC permission each needs, and the states an action moves through."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """The action names of `rbac.actions` and `rbac.approval_required` in the config."""

    SCALE = "scale"
    ROLLBACK = "rollback"
    FLAG = "flag"
    STOP = "stop"
    # Giving someone an incident role: the incident's commander holds `commander` for every
    # action in it, so handing out roles is guarded like the actions it opens.
    ASSIGN_ROLE = "assign_role"


class ActionKind(StrEnum):
    SCALE = "scale"
    STOP = "stop"
    REDEPLOY = "redeploy"  # force a new deployment of the same task definition
    ROLLBACK_MODEL = "rollback_model"
    LOAD_MODEL = "load_model"  # serve a named version (the seeds' `--load v4`)
    ROLLBACK_DEPLOY = "rollback_deploy"
    ROLLBACK_CONFIG = "rollback_config"
    SET_FLAG = "set_flag"

    @property
    def permission(self) -> Permission:
        return _PERMISSIONS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


_PERMISSIONS = {
    ActionKind.SCALE: Permission.SCALE,
    ActionKind.STOP: Permission.STOP,
    ActionKind.REDEPLOY: Permission.SCALE,
    ActionKind.ROLLBACK_MODEL: Permission.ROLLBACK,
    ActionKind.LOAD_MODEL: Permission.ROLLBACK,
    ActionKind.ROLLBACK_DEPLOY: Permission.ROLLBACK,
    ActionKind.ROLLBACK_CONFIG: Permission.ROLLBACK,
    ActionKind.SET_FLAG: Permission.FLAG,
}

_LABELS = {
    ActionKind.SCALE: "Scale",
    ActionKind.STOP: "Emergency stop",
    ActionKind.REDEPLOY: "Redeploy",
    ActionKind.ROLLBACK_MODEL: "Model rollback",
    ActionKind.LOAD_MODEL: "Load model version",
    ActionKind.ROLLBACK_DEPLOY: "Deployment rollback",
    ActionKind.ROLLBACK_CONFIG: "Config rollback",
    ActionKind.SET_FLAG: "Set flag",
}


class ActionState(StrEnum):
    PROPOSED = "proposed"  # planned and shown; waiting for the requester's confirmation
    CANCELLED = "cancelled"
    AWAITING_APPROVAL = "awaiting_approval"
    DENIED = "denied"  # an approver said no
    EXPIRED = "expired"  # nobody approved in time
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # changed and verified
    NO_CHANGE = "no_change"  # the target was already in the requested state
    STALE = "stale"  # the state changed since the request; nothing was done
    UNVERIFIED = "unverified"  # changed, but the change did not show in time
    FAILED = "failed"
    DRY_RUN = "dry_run"  # dry-run mode: shown, not done
    INTERRUPTED = "interrupted"  # the bot stopped while it ran
    SUPERSEDED = "superseded"  # an emergency stop took its target over before it was verified

    @property
    def finished(self) -> bool:
        return self not in {ActionState.PROPOSED, ActionState.AWAITING_APPROVAL, ActionState.RUNNING}
