"""Targets: the health of each target in the service's load balancer target group.

Seed 000's outage steps read ``aws elbv2 describe-target-health``: no healthy target is an
outage (critical); some unhealthy ones are a warning, with each one's reason.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.core.ports.elb import TargetHealth, TargetHealthSource
from bot.core.text import escape_mrkdwn
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Attachment, Finding, InvestigationKind, Scope, unavailable

SHOWN = 8


def target_line(target: TargetHealth) -> str:
    where = f"{target.target}:{target.port}" if target.port is not None else target.target
    why = ": ".join(part for part in (target.reason, target.description) if part)
    return f"{where} {target.state}" + (f" ({why})" if why else "")


class TargetsInvestigation:
    kind = InvestigationKind.TARGETS
    timeout_s = 10.0

    def __init__(self, source: TargetHealthSource) -> None:
        self._source = source

    async def run(self, scope: Scope) -> Finding:
        balancer = scope.service.load_balancer
        if balancer is None:
            return unavailable(self.kind, "targets: no target group configured",
                               f"Add `load_balancer: {{target_group_arn: ...}}` to service {scope.service_name}.")
        targets = await self._source.target_health(target_group=balancer.target_group_ref)
        healthy = [t for t in targets if t.healthy]
        sick = [t for t in targets if not t.healthy]
        if not healthy:
            verdict = Verdict.CRITICAL
        elif sick:
            verdict = Verdict.WARNING
        else:
            verdict = Verdict.OK
        states = Counter(t.state for t in targets)
        headline = (f"targets: {len(healthy)} of {len(targets)} healthy"
                    + (f"; {', '.join(f'{n} {s}' for s, n in states.items() if s != 'healthy')}" if sick else ""))
        name = balancer.target_group_ref.rsplit(":", 1)[-1]
        shown = [f"Target group `{escape_mrkdwn(name)}`: {len(healthy)} healthy of {len(targets)} registered."]
        if not targets:
            shown.append("No target is registered: the load balancer has nowhere to send requests.")
        shown.extend(escape_mrkdwn(target_line(t)) for t in sick[:SHOWN])
        if len(sick) > SHOWN:
            shown.append(f"_…and {len(sick) - SHOWN} more in the file._")
        data: dict[str, Any] = {"target_group": balancer.target_group_ref, "registered": len(targets),
                                "healthy": len(healthy), "states": dict(states),
                                "unhealthy": [target_line(t) for t in sick[:50]]}
        attachment = None
        if len(sick) > SHOWN:
            body = [f"# incident #{scope.incident_number} {scope.service_name}: target health of {name}"]
            body.extend(target_line(t) for t in targets)
            attachment = Attachment(f"targets-incident-{scope.incident_number}-{scope.service_name}.txt",
                                    ("\n".join(body) + "\n").encode())
        return Finding(kind=self.kind, verdict=verdict, headline=headline, lines=tuple(shown), data=data,
                       attachment=attachment)
