"""What the bot asks of ECS, and what it reads back: the service's state and its deployments.

The core and the runbooks depend on these types; `bot.integrations.ecs` implements them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


def revision_label(task_definition: str) -> str:
    """``family:revision`` from a task definition ARN (or from ``family:revision`` itself)."""
    return task_definition.rsplit("/", 1)[-1]


def family_and_revision(task_definition: str) -> tuple[str, int]:
    """The family and revision of a task definition ARN or ``family:revision``."""
    family, _, revision = revision_label(task_definition).rpartition(":")
    if not family or not revision.isdigit():
        raise ValueError(f"not a task definition ARN or family:revision: {task_definition!r}")
    return family, int(revision)


@dataclass(frozen=True)
class EcsDeployment:
    id: str
    status: str  # PRIMARY / ACTIVE / INACTIVE
    task_definition: str  # ARN
    desired: int
    running: int
    pending: int
    rollout_state: str | None  # COMPLETED / IN_PROGRESS / FAILED, or None (not every controller sets it)
    updated_at: datetime | None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> EcsDeployment:
        return cls(
            id=str(raw.get("id", "")),
            status=str(raw.get("status", "")),
            task_definition=str(raw.get("taskDefinition") or ""),
            desired=int(raw.get("desiredCount") or 0),
            running=int(raw.get("runningCount") or 0),
            pending=int(raw.get("pendingCount") or 0),
            rollout_state=raw.get("rolloutState"),
            updated_at=raw.get("updatedAt"),
        )


@dataclass(frozen=True)
class EcsServiceState:
    cluster: str
    service: str
    status: str  # ACTIVE / DRAINING / INACTIVE
    desired: int
    running: int
    pending: int
    task_definition: str  # ARN of the service's task definition
    deployments: tuple[EcsDeployment, ...]

    @property
    def revision_label(self) -> str:
        return revision_label(self.task_definition)

    @property
    def primary(self) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    @property
    def settled(self) -> bool:
        """Whether the service is at rest: what a scale or rollback waits for before verifying."""
        if self.running != self.desired or self.pending != 0:
            return False
        if any(d.rollout_state == "FAILED" for d in self.deployments):
            return False
        primary = self.primary
        return primary is None or primary.rollout_state == "COMPLETED" or primary.running == self.desired

    @classmethod
    def from_api(cls, raw: dict[str, Any], *, cluster: str) -> EcsServiceState:
        return cls(
            cluster=cluster,
            service=str(raw.get("serviceName", "")),
            status=str(raw.get("status", "")),
            desired=int(raw.get("desiredCount") or 0),
            running=int(raw.get("runningCount") or 0),
            pending=int(raw.get("pendingCount") or 0),
            task_definition=str(raw.get("taskDefinition") or ""),
            deployments=tuple(EcsDeployment.from_api(d) for d in raw.get("deployments") or ()),
        )


class EcsProvider(Protocol):
    """What runbook actions ask of ECS."""

    async def describe(self, *, cluster: str, service: str) -> EcsServiceState: ...

    async def set_desired_count(self, *, cluster: str, service: str, count: int) -> EcsServiceState: ...

    async def previous_task_definition(self, task_definition: str) -> str | None:
        """The newest ACTIVE revision of the same family below the given one (ARN), or None."""
        ...

    async def set_task_definition(self, *, cluster: str, service: str,
                                  task_definition: str) -> EcsServiceState: ...

    async def force_new_deployment(self, *, cluster: str, service: str) -> EcsServiceState: ...


# --- tasks: what the investigations read (stopped and pending tasks) ------------------------


@dataclass(frozen=True)
class EcsContainer:
    name: str
    last_status: str
    exit_code: int | None
    reason: str | None  # why the container stopped, when ECS says (OutOfMemoryError: ...)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> EcsContainer:
        exit_code = raw.get("exitCode")
        return cls(name=str(raw.get("name") or "?"), last_status=str(raw.get("lastStatus") or ""),
                   exit_code=exit_code if isinstance(exit_code, int) else None, reason=raw.get("reason"))


@dataclass(frozen=True)
class EcsTask:
    arn: str
    task_definition: str  # ARN
    last_status: str  # PROVISIONING / PENDING / RUNNING / STOPPED ...
    desired_status: str
    group: str  # "service:<name>" for a service's tasks
    stopped_reason: str | None
    stop_code: str | None  # TaskFailedToStart / EssentialContainerExited / ServiceSchedulerInitiated ...
    created_at: datetime | None
    stopped_at: datetime | None
    containers: tuple[EcsContainer, ...]

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> EcsTask:
        return cls(
            arn=str(raw.get("taskArn") or ""), task_definition=str(raw.get("taskDefinitionArn") or ""),
            last_status=str(raw.get("lastStatus") or ""), desired_status=str(raw.get("desiredStatus") or ""),
            group=str(raw.get("group") or ""), stopped_reason=raw.get("stoppedReason"),
            stop_code=raw.get("stopCode"), created_at=raw.get("createdAt"), stopped_at=raw.get("stoppedAt"),
            containers=tuple(EcsContainer.from_api(c) for c in raw.get("containers") or ()),
        )


class EcsTaskSource(Protocol):
    """What the tasks investigation reads: a service's tasks by desired status."""

    async def tasks(self, *, cluster: str, service: str, desired_status: str, limit: int = 100) -> tuple[EcsTask, ...]:
        """The service's tasks whose desired status is ``desired_status`` (RUNNING or STOPPED), at most ``limit``."""
        ...
