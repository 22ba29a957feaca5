"""Tasks: the service's stopped tasks in the window, its pending tasks, and its deployments.

Seed 000's deployment-failure steps read ``describe-services`` for the rollout and
``list-tasks --desired-status STOPPED`` + ``describe-tasks`` for why tasks died. A stop that
ECS's scheduler or a person asked for (scaling in, a deployment replacing a task) is not a
failure; a container that exited, failed its health check or never started is.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Protocol

from bot.core.ports.ecs import EcsServiceState, EcsTask, EcsTaskSource, revision_label
from bot.core.text import escape_mrkdwn, truncate
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Attachment, Finding, InvestigationKind, Scope, unavailable

PENDING_STATES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})
ORDERED_STOP_CODES = frozenset({"ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption"})
ORDERED_REASON_PREFIXES = ("Scaling activity initiated by", "Task stopped by user")
CRITICAL_FAILED_STOPS = 3
LIST_LIMIT = 100
SHOWN = 5


class EcsReader(EcsTaskSource, Protocol):
    async def describe(self, *, cluster: str, service: str) -> EcsServiceState: ...


def failed(task: EcsTask) -> bool:
    """Whether a stopped task died rather than being stopped on purpose."""
    if any(c.exit_code not in (None, 0) for c in task.containers):
        return True
    if task.stop_code in ORDERED_STOP_CODES:
        return False
    return not (task.stopped_reason or "").startswith(ORDERED_REASON_PREFIXES)


def task_line(task: EcsTask) -> str:
    exits = ", ".join(f"{c.name} exit {c.exit_code}" + (f" ({c.reason})" if c.reason else "")
                      for c in task.containers if c.exit_code is not None or c.reason)
    when = f"{task.stopped_at:%H:%M:%S} " if task.stopped_at else ""
    reason = task.stopped_reason or "no reason given"
    return (f"{when}{task.task_id[:12]} {revision_label(task.task_definition)}: {truncate(reason, 200)}"
            + (f" [{exits}]" if exits else ""))


class TasksInvestigation:
    kind = InvestigationKind.TASKS
    timeout_s = 15.0

    def __init__(self, ecs: EcsReader) -> None:
        self._ecs = ecs

    async def run(self, scope: Scope) -> Finding:
        ecs = scope.service.ecs
        if ecs is None:
            return unavailable(self.kind, "tasks: no ECS service configured",
                               f"Add `ecs:` to service {scope.service_name} in the config.")
        state, stopped, running = await asyncio.gather(
            self._ecs.describe(cluster=ecs.cluster, service=ecs.service),
            self._ecs.tasks(cluster=ecs.cluster, service=ecs.service, desired_status="STOPPED", limit=LIST_LIMIT),
            self._ecs.tasks(cluster=ecs.cluster, service=ecs.service, desired_status="RUNNING", limit=LIST_LIMIT))
        # ECS keeps stopped tasks about an hour; one with no stop time cannot be placed outside the window.
        in_window = [t for t in stopped if t.stopped_at is None or t.stopped_at >= scope.start]
        pending = [t for t in running if t.last_status in PENDING_STATES]
        return self._finding(scope, state, in_window, pending)

    def _finding(self, scope: Scope, state: EcsServiceState, stopped: list[EcsTask],
                 pending: list[EcsTask]) -> Finding:
        died = [t for t in stopped if failed(t)]
        rollouts = [d for d in state.deployments if d.rollout_state]
        failed_rollout = any(d.rollout_state == "FAILED" for d in state.deployments)
        rolling = len(state.deployments) > 1 or any(d.rollout_state == "IN_PROGRESS" for d in rollouts)
        if failed_rollout or len(died) >= CRITICAL_FAILED_STOPS:
            verdict = Verdict.CRITICAL
        elif died or pending or rolling:
            verdict = Verdict.WARNING
        else:
            verdict = Verdict.OK
        reasons = Counter(truncate(t.stopped_reason or "no reason given", 80) for t in died)
        top = "; ".join(f"{escape_mrkdwn(r)} ×{n}" for r, n in reasons.most_common(2))
        headline = (f"tasks: {len(died)} failed of {len(stopped)} stopped, {len(pending)} pending, "
                    f"{state.running}/{state.desired} running" + (f"; {top}" if top else ""))
        shown = [f"Service `{escape_mrkdwn(state.service)}` in `{escape_mrkdwn(state.cluster)}`: "
                 f"{state.running} running, {state.pending} pending, {state.desired} desired."]
        for d in state.deployments:
            shown.append(f"Deployment {d.status} {escape_mrkdwn(revision_label(d.task_definition))}: "
                         f"rollout {d.rollout_state or 'unknown'}, {d.running}/{d.desired} running, "
                         f"{d.pending} pending")
        shown.extend(escape_mrkdwn(task_line(t)) for t in (died or stopped)[:SHOWN])
        if len(died or stopped) > SHOWN:
            shown.append(f"_…and {len(died or stopped) - SHOWN} more in the file._")
        data: dict[str, Any] = {
            "cluster": state.cluster, "service": state.service, "running": state.running, "desired": state.desired,
            "stopped": len(stopped), "failed": len(died), "pending": len(pending),
            "reasons": dict(reasons.most_common()),
            "deployments": [{"status": d.status, "task_definition": revision_label(d.task_definition),
                             "rollout": d.rollout_state, "running": d.running, "desired": d.desired}
                            for d in state.deployments],
        }
        attachment = None
        if stopped or pending:
            body = [f"# incident #{scope.incident_number} {scope.service_name}: {len(stopped)} stopped, "
                    f"{len(pending)} pending tasks"]
            body.extend(("FAILED  " if failed(t) else "ordered ") + task_line(t) for t in stopped)
            body.extend(f"pending {t.task_id} {revision_label(t.task_definition)} {t.last_status}" for t in pending)
            attachment = Attachment(f"tasks-incident-{scope.incident_number}-{scope.service_name}.txt",
                                    ("\n".join(body) + "\n").encode())
        return Finding(kind=self.kind, verdict=verdict, headline=headline, lines=tuple(shown), data=data,
                       attachment=attachment)
