"""Which investigation runs each kind: built once from the providers, looked up by kind."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.ports.elb import TargetHealthSource
from bot.core.ports.logs import LogSource
from runbooks.investigations.base import Investigation, InvestigationKind
from runbooks.investigations.logs import LogsInvestigation
from runbooks.investigations.targets import TargetsInvestigation
from runbooks.investigations.tasks import EcsReader, TasksInvestigation


def investigations(*, logs: LogSource, ecs: EcsReader,
                   targets: TargetHealthSource) -> Mapping[InvestigationKind, Investigation]:
    built: list[Investigation] = [LogsInvestigation(logs), TasksInvestigation(ecs), TargetsInvestigation(targets)]
    return {investigation.kind: investigation for investigation in built}
