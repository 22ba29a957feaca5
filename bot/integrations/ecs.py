"""ECS as a provider: read a service's state, scale it, and roll its task definition.

Runbook actions drive services through ``EcsProvider``; ``Boto3Ecs`` is the real one (boto3 in
a thread, errors mapped by ``bot.integrations.aws``). A service that ECS does not know, or
only knows as deleted, is ``ProviderRejected(status=404)``.
"""

from __future__ import annotations

from typing import Any

from bot.core.ports.ecs import (
    EcsServiceState,
    EcsTask,
    family_and_revision,
    revision_label,
)
from bot.core.ports.errors import ProviderRejected
from bot.integrations.aws import DEFAULT_MAX_ATTEMPTS, AwsService

PROVIDER = "ecs"
GONE_STATUSES = frozenset({"INACTIVE", "MISSING"})
DESCRIBE_TASKS_MAX = 100  # describe_tasks takes at most 100 ARNs a call


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

    async def tasks(self, *, cluster: str, service: str, desired_status: str, limit: int = 100) -> tuple[EcsTask, ...]:
        """A service's tasks by desired status; ECS keeps stopped tasks for about an hour."""
        if desired_status not in ("RUNNING", "PENDING", "STOPPED"):
            raise ValueError(f"not a task status ECS lists by: {desired_status!r}")
        limit = max(1, min(limit, DESCRIBE_TASKS_MAX))

        def read(client: Any) -> list[dict[str, Any]]:
            listed = client.list_tasks(cluster=cluster, serviceName=service, desiredStatus=desired_status,
                                       maxResults=limit)
            arns = list(listed.get("taskArns") or ())[:limit]
            if not arns:
                return []
            return list(client.describe_tasks(cluster=cluster, tasks=arns).get("tasks") or ())

        raw = await self._aws.run(read, what=f"list {desired_status.lower()} tasks of {service} in {cluster}")
        group = f"service:{service}"
        # moto (the tests' ECS) ignores serviceName, so keep only the service's own tasks here too.
        return tuple(EcsTask.from_api(t) for t in raw if str(t.get("group") or group) == group)
