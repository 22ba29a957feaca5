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
    # Moving an AI service's traffic between its providers (seed 003), and back: its own
    # permission, since it reroutes every request of the service, not one setting.
    FAILOVER = "failover"
    # Rotating a secret and deactivating an access key in a security incident: guarded on their
    # own, and in `rbac.approval_required` by default, since a wrong one locks a service out.
    SECURITY = "security"
    # Posting a customer-facing notice (a status page draft, seeds 002 and 003) once a second
    # person approved it: always two-person, whatever `rbac.approval_required` says.
    PUBLISH_NOTICE = "publish_notice"
    # Copying an incident's logs and state to the evidence bucket (security incidents): read-only
    # for the services, but it writes to S3 what the bot can see, so it is guarded and audited.
    EVIDENCE = "evidence"


class ActionKind(StrEnum):
    SCALE = "scale"
    STOP = "stop"
    REDEPLOY = "redeploy"  # force a new deployment of the same task definition
    ROLLBACK_MODEL = "rollback_model"
    LOAD_MODEL = "load_model"  # serve a named version (the seeds' `--load v4`)
    ROLLBACK_DEPLOY = "rollback_deploy"
    ROLLBACK_CONFIG = "rollback_config"
    SET_FLAG = "set_flag"
    FAILOVER = "failover"  # route an AI service's traffic to a backup provider
    RESTORE_PROVIDER = "restore_provider"  # back to the primary, in canary steps when the switch has weights
    ROTATE_SECRET = "rotate_secret"  # a Secrets Manager secret, in a security incident
    DEACTIVATE_KEY = "deactivate_key"  # an IAM user's access key, in a security incident
    PUBLISH_NOTICE = "publish_notice"  # a customer notice to its channel and status page, once approved

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
    ActionKind.FAILOVER: Permission.FAILOVER,
    ActionKind.RESTORE_PROVIDER: Permission.FAILOVER,
    ActionKind.ROTATE_SECRET: Permission.SECURITY,
    ActionKind.DEACTIVATE_KEY: Permission.SECURITY,
    ActionKind.PUBLISH_NOTICE: Permission.PUBLISH_NOTICE,
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
    ActionKind.FAILOVER: "Provider failover",
    ActionKind.RESTORE_PROVIDER: "Provider restore",
    ActionKind.ROTATE_SECRET: "Rotate secret",
    ActionKind.DEACTIVATE_KEY: "Deactivate access key",
    ActionKind.PUBLISH_NOTICE: "Publish customer notice",
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
