"""Diagnose an incident: run the suite, keep one channel message current, keep every result.

Started by the headline's Diagnose button or `/incident diagnose` after the ack. One run per
incident at a time in this process; a second click is told the run is under way.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.config import IncidentBotConfig
from bot.core import checklists
from bot.core.alerts import alerts_of
from bot.core.background import BackgroundTasks
from bot.core.checklists import StepRef
from bot.core.ports.cloudwatch import MetricRef, MetricSource
from bot.core.ports.http_probe import HttpProbe
from bot.core.ports.worker import WorkerClient, WorkerError
from bot.core.timeline import EventKind, record_event
from bot.core.unit_of_work import Core
from bot.slack.diagnostic_blocks import diagnostics_message
from bot.slack.errors import SlackError
from bot.slack.gateway import SlackGateway
from runbooks.diagnostics.model_names import ModelNames
from runbooks.diagnostics.results import StepResult, Verdict
from runbooks.diagnostics.steps import MetricPublisher, Subject, Tools
from runbooks.diagnostics.suite import STEP_TIMEOUTS, chosen_steps, run_suite
from storage.models import Alert, Incident

log = logging.getLogger(__name__)


class CloudWatchMetrics(MetricSource, MetricPublisher, Protocol):
    """The checks read the alarm's metric and publish the drift score to the same CloudWatch."""


@dataclass
class Diagnoser:
    core: Core
    config: IncidentBotConfig
    gateway: SlackGateway
    worker: WorkerClient
    cloudwatch: CloudWatchMetrics | None
    timeouts: dict[str, float] = field(default_factory=dict)
    probe: HttpProbe | None = None  # the AI providers' health URLs (seed 003)
    _runs: BackgroundTasks = field(default_factory=BackgroundTasks)

    def start(self, incident: Incident, *, actor: str, only: tuple[str, ...] = (),
              runbook_step: StepRef | None = None, thread_ts: str | None = None) -> bool:
        """Start a run in the background; False if one is already running for this incident.

        ``only`` runs just those checks (a runbook step's); ``runbook_step`` is ticked when the run
        ends; ``thread_ts`` posts the results in that thread (the checklist's, for a step's run).
        """
        name = f"diagnose-{incident.id}"
        if self._runs.running(name):
            return False
        self._runs.spawn(self._run(incident, actor=actor, only=only, runbook_step=runbook_step,
                                   thread_ts=thread_ts), name=name)
        return True

    async def aclose(self) -> None:
        await self._runs.aclose()

    async def _run(self, incident: Incident, *, actor: str, only: tuple[str, ...],
                   runbook_step: StepRef | None, thread_ts: str | None) -> None:
        try:
            subject = await self._subject(incident)
            tools = Tools(worker=self.worker, metrics=self.cloudwatch, files=self.gateway, publisher=self.cloudwatch,
                          probe=self.probe)
            # The providers step applies to services with providers, or where a runbook step asks for it.
            skip = () if subject.providers is not None or "providers" in only else ("providers",)
            names = [name for name, _ in chosen_steps(only, skip=skip)]
            text, blocks = diagnostics_message(number=incident.number, results=[], total=len(names), pending=names)
            posted = await self.gateway.post(subject.channel_id, text=text, blocks=blocks, thread_ts=thread_ts)
            results: list[StepResult] = []
            run_id = uuid.uuid4().hex  # the postmortem shows each run as one row

            async def progress(index: int, total: int, result: StepResult) -> None:
                results.append(result)
                await self._record(incident.id, actor=actor, result=result, run_id=run_id)
                body_text, body = diagnostics_message(number=incident.number, results=results, total=total,
                                                      pending=names[index:])
                try:
                    await self.gateway.update(posted.channel_id, posted.ts, text=body_text, blocks=body)
                except SlackError as exc:
                    log.warning("could not update the diagnostics message: %s", exc)

            ran = await run_suite(subject, tools, progress, timeouts=self.timeouts, only=only, skip=skip)
            # A check that could not run (worker down, no metric) leaves its step open to try again.
            if runbook_step is not None and any(r.verdict != Verdict.UNAVAILABLE for r in ran):
                # The check ran, whatever it found: its findings are on the timeline for people to read.
                await checklists.mark_step(self.core, incident_id=incident.id, step=runbook_step, actor=actor,
                                           via="diagnose")
        except Exception:  # a background run logs what it cannot report
            log.exception("diagnostics for incident %s failed", incident.id)

    async def _record(self, incident_id: int, *, actor: str, result: StepResult, run_id: str) -> None:
        async with self.core.sessions() as session, session.begin():
            await record_event(session, incident_id=incident_id, kind=EventKind.DIAGNOSTIC, actor=actor,
                               now=self.core.clock(), text=result.headline, announce=False,
                               data={"run": run_id, "step": result.step, "verdict": result.verdict.value,
                                     "lines": list(result.lines),
                                     "data": _jsonable(result.data), "file_id": result.file_id,
                                     "seconds": result.seconds})

    async def _subject(self, incident: Incident) -> Subject:
        service_name = incident.service or (next(iter(self.config.services)) if len(self.config.services) == 1
                                            else None)
        service = self.config.services.get(service_name) if service_name else None
        async with self.core.sessions() as session:
            alerts = await alerts_of(session, incident_id=incident.id)
        alarm = _alarm_facts(alerts)
        metric, alarm_at = alarm.metric, alarm.alarm_at
        if metric is None and service is not None and service.metric is not None:
            metric = MetricRef(service.metric.namespace, service.metric.name, dict(service.metric.dimensions))
            alarm_at = incident.declared_at
        kinds = await self._model_kinds(service.models if service else ())
        return Subject(
            number=incident.number, title=incident.title, alert_titles=tuple(a.title for a in alerts),
            channel_id=incident.channel_id or "", text_model=kinds.get("text"), chart_model=kinds.get("image"),
            fusion_model=kinds.get("fusion"), metric=metric, threshold=alarm.threshold, alarm_at=alarm_at,
            now=self.core.clock(), comparison=alarm.comparison,
            providers=service.providers if service is not None else None,
        )

    def model_names(self) -> ModelNames:
        """The models the shortcut uses: the first configured service's, else the worker's own names."""
        return self.guess_model_names(self.config)

    @staticmethod
    def guess_model_names(config: IncidentBotConfig) -> ModelNames:
        names = [m for service in config.services.values() for m in service.models]
        guess = {_kind_from_name(name): name for name in reversed(names)}
        defaults = ModelNames()
        return ModelNames(text=guess.get("text", defaults.text), chart=guess.get("image", defaults.chart),
                          fusion=guess.get("fusion", defaults.fusion))

    async def _model_kinds(self, names: tuple[str, ...]) -> dict[str, str]:
        """Which configured model is the text, image and fusion one: the worker says; if it
        cannot, the names do, so the steps can still say the worker is down.

        Asked together and within the worker step's own limit: a hung worker must not hold the
        whole run (and its first message) for the client's timeout once per model.
        """
        limit = self.timeouts.get("worker", STEP_TIMEOUTS["worker"])

        async def kind_of(name: str) -> str:
            try:
                return str((await asyncio.wait_for(self.worker.model(name), timeout=limit)).get("kind") or "")
            except (WorkerError, TimeoutError):
                return _kind_from_name(name)

        kinds: dict[str, str] = {}
        for name, kind in zip(names, await asyncio.gather(*(kind_of(name) for name in names)), strict=True):
            kinds.setdefault(kind, name)
        return kinds


def _kind_from_name(name: str) -> str:
    return "fusion" if "fusion" in name else "image" if ("vit" in name or "chart" in name) else "text"


@dataclass(frozen=True)
class _AlarmFacts:
    """What the first alarm with a metric said: the chart's series, threshold and alarm time."""

    metric: MetricRef | None = None
    threshold: float | None = None
    comparison: str | None = None
    alarm_at: datetime | None = None


def _alarm_facts(alerts: list[Alert]) -> _AlarmFacts:
    for alert in alerts:
        details = alert.details or {}
        metric = details.get("metric") or {}
        if metric.get("namespace") and metric.get("name"):
            ref = MetricRef(str(metric["namespace"]), str(metric["name"]), dict(metric.get("dimensions") or {}),
                            stat=str(metric.get("statistic") or "Average"), period=int(metric.get("period") or 60))
            threshold = metric.get("threshold")
            comparison = metric.get("comparison")
            # When the alarm changed state (StateChangeTime), not when its delivery reached us.
            return _AlarmFacts(ref, float(threshold) if isinstance(threshold, int | float) else None,
                               comparison if isinstance(comparison, str) else None,
                               _utc(details.get("occurred_at")) or _utc(alert.first_seen_at))
    return _AlarmFacts()


def _utc(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)
