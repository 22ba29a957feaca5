"""ECS as a provider: read a service's state, scale it, and roll its task definition.

Runbook actions drive services through ``EcsProvider``; ``Boto3Ecs`` is the real one (boto3 in
a thread, errors mapped by ``runbooks.providers.aws``). A service that ECS does not know, or
only knows as deleted, is ``ProviderRejected(status=404)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from runbooks.providers.aws import DEFAULT_MAX_ATTEMPTS, AwsService
from runbooks.providers.errors import ProviderRejected

PROVIDER = "ecs"
GONE_STATUSES = frozenset({"INACTIVE", "MISSING"})


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


class Boto3Ecs:
    """``EcsProvider`` over boto3. Pass ``client`` to share a ready boto3 ECS client."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 client: Any = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._aws = AwsService(PROVIDER, endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def describe(self, *, cluster: str, service: str) -> EcsServiceState:
        answer = await self._aws.call("describe_services", what=f"describe {service} in {cluster}",
                                      cluster=cluster, services=[service])
        found = answer.get("services") or []
        # ECS lists an unknown service under "failures" (reason MISSING) rather than failing.
        if not found or str(found[0].get("status", "")).upper() in GONE_STATUSES:
            reasons = ", ".join(str(f.get("reason")) for f in answer.get("failures") or ()) or "INACTIVE"
            raise ProviderRejected(f"ECS has no service {service} in cluster {cluster} ({reasons})",
                                   provider=PROVIDER, status=404)
        return EcsServiceState.from_api(found[0], cluster=cluster)

    async def set_desired_count(self, *, cluster: str, service: str, count: int) -> EcsServiceState:
        if count < 0:
            raise ValueError(f"a desired count cannot be negative: {count}")
        return await self._update(cluster, service, f"scale {service} to {count}", desiredCount=count)

    async def previous_task_definition(self, task_definition: str) -> str | None:
        family, revision = family_and_revision(task_definition)
        pages = await self._aws.pages("list_task_definitions", what=f"list revisions of {family}",
                                      familyPrefix=family, status="ACTIVE", sort="DESC")
        older: list[tuple[int, str]] = []
        for arn in (arn for page in pages for arn in page.get("taskDefinitionArns") or ()):
            arn_family, arn_revision = family_and_revision(arn)
            # familyPrefix is a prefix ("api" also lists "api-worker"), so keep the exact family.
            if arn_family == family and arn_revision < revision:
                older.append((arn_revision, arn))
        # The newest by number, not the first listed: moto (the tests' ECS) ignores ``sort``.
        return max(older)[1] if older else None

    async def set_task_definition(self, *, cluster: str, service: str,
                                  task_definition: str) -> EcsServiceState:
        return await self._update(cluster, service,
                                  f"set {service} to {revision_label(task_definition)}",
                                  taskDefinition=task_definition)

    async def force_new_deployment(self, *, cluster: str, service: str) -> EcsServiceState:
        return await self._update(cluster, service, f"redeploy {service}", forceNewDeployment=True)

    async def _update(self, cluster: str, service: str, what: str, **change: Any) -> EcsServiceState:
        answer = await self._aws.call("update_service", what=f"{what} in {cluster}", cluster=cluster,
                                      service=service, **change)
        return EcsServiceState.from_api(answer["service"], cluster=cluster)
