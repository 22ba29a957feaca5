"""Elastic Load Balancing v2 as a target-health source: ``describe_target_health``, with the
target group given by ARN or by name (looked up with ``describe_target_groups``).

A target group that does not exist is ``ProviderRejected`` (ELB answers 400
``TargetGroupNotFound``; it is mapped to 404 here, as the other providers' "not found").
"""

from __future__ import annotations

from typing import Any

from bot.core.ports.elb import TargetHealth
from bot.core.ports.errors import ProviderRejected
from bot.integrations.aws import DEFAULT_MAX_ATTEMPTS, AwsService

PROVIDER = "elbv2"
_NOT_FOUND = ("TargetGroupNotFound", "LoadBalancerNotFound")


class Boto3TargetHealth:
    """``TargetHealthSource`` over boto3. Pass ``client`` to share a ready boto3 elbv2 client."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 client: Any = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._aws = AwsService(PROVIDER, endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def target_health(self, *, target_group: str) -> tuple[TargetHealth, ...]:
        what = f"read target health of {target_group}"
        try:
            arn = target_group if target_group.startswith("arn:") else await self._arn_of(target_group)
            answer = await self._aws.call("describe_target_health", what=what, TargetGroupArn=arn)
        except ProviderRejected as exc:
            if any(code in exc.message for code in _NOT_FOUND):
                raise ProviderRejected(exc.message, provider=PROVIDER, status=404) from exc
            raise
        return tuple(TargetHealth.from_api(raw) for raw in answer.get("TargetHealthDescriptions") or ())

    async def _arn_of(self, name: str) -> str:
        answer = await self._aws.call("describe_target_groups", what=f"find target group {name}", Names=[name])
        groups = answer.get("TargetGroups") or []
        if not groups:
            raise ProviderRejected(f"ELBV2 has no target group named {name}", provider=PROVIDER, status=404)
        return str(groups[0]["TargetGroupArn"])
