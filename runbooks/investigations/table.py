"""Which investigation runs each kind: built once from the providers, looked up by kind."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.ports.cloudwatch import MetricSource
from bot.core.ports.elb import TargetHealthSource
from bot.core.ports.http_probe import HttpProbe
from bot.core.ports.logs import LogSource
from bot.core.ports.worker import WorkerClient
from runbooks.investigations.base import Investigation, InvestigationKind
from runbooks.investigations.canary import CanaryInvestigation
from runbooks.investigations.data_quality import DataQualityInvestigation
from runbooks.investigations.determinism import DeterminismInvestigation
from runbooks.investigations.logs import LogsInvestigation
from runbooks.investigations.metrics import MetricsInvestigation
from runbooks.investigations.targets import TargetsInvestigation
from runbooks.investigations.tasks import EcsReader, TasksInvestigation


def investigations(*, logs: LogSource, ecs: EcsReader, targets: TargetHealthSource,
                   worker: WorkerClient | None = None,
                   sessions: async_sessionmaker[AsyncSession] | None = None,
                   metrics: MetricSource | None = None,
                   http: HttpProbe | None = None) -> Mapping[InvestigationKind, Investigation]:
    built: list[Investigation] = [LogsInvestigation(logs), TasksInvestigation(ecs), TargetsInvestigation(targets)]
    if worker is not None and sessions is not None:
        built.append(DeterminismInvestigation(worker, sessions, http=http))
    if metrics is not None and http is not None:
        built.append(DataQualityInvestigation(metrics, http))
    if metrics is not None and worker is not None:
        built.append(MetricsInvestigation(metrics, worker))
    if metrics is not None:
        built.append(CanaryInvestigation(metrics))
    return {investigation.kind: investigation for investigation in built}
