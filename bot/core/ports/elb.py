"""What the bot reads from a load balancer: the health of each target in a target group.

The targets investigation depends on these types; `bot.integrations.elb` implements them over
Elastic Load Balancing v2 (ALB and NLB target groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

HEALTHY = "healthy"


@dataclass(frozen=True)
class TargetHealth:
    target: str  # an instance id, an IP address or a Lambda ARN
    port: int | None
    state: str  # healthy / unhealthy / initial / draining / unused / unavailable
    reason: str | None = None  # Target.FailedHealthChecks, Target.Timeout, ...
    description: str | None = None

    @property
    def healthy(self) -> bool:
        return self.state == HEALTHY

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> TargetHealth:
        target = raw.get("Target") or {}
        health = raw.get("TargetHealth") or {}
        port = target.get("Port")
        return cls(target=str(target.get("Id") or "?"), port=int(port) if isinstance(port, int) else None,
                   state=str(health.get("State") or "unknown"), reason=health.get("Reason"),
                   description=health.get("Description"))


class TargetHealthSource(Protocol):
    async def target_health(self, *, target_group: str) -> tuple[TargetHealth, ...]:
        """Every registered target's health; ``target_group`` is an ARN, or a name to look up."""
        ...
