"""The investigation contract: its kinds, what it is asked about (``Scope``), what it finds
(``Finding``), and how one is run under its time limit.

Investigations only read. Each is one module (``logs``, ``tasks``, ``targets``); the table in
``runbooks.investigations.table`` maps a kind to the one that runs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.config.models import ServiceConfig
from bot.core.ports.errors import ProviderError, ProviderRejected
from runbooks.diagnostics.results import Verdict


class InvestigationKind(StrEnum):
    LOGS = "logs"
    TASKS = "tasks"
    TARGETS = "targets"
    METRICS = "metrics"
    DATA_QUALITY = "data_quality"
    CANARY = "canary"
    DETERMINISM = "determinism"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    InvestigationKind.LOGS: "Logs: errors by code",
    InvestigationKind.TASKS: "Tasks: stopped and pending",
    InvestigationKind.TARGETS: "Targets: load balancer health",
    InvestigationKind.METRICS: "Metrics against the SLOs",
    InvestigationKind.DATA_QUALITY: "Data quality",
    InvestigationKind.CANARY: "Canary against stable",
    InvestigationKind.DETERMINISM: "Determinism replay",
}


@dataclass(frozen=True)
class Scope:
    """What an investigation looks at: one incident's service over the incident's window."""

    incident_number: int
    service_name: str
    service: ServiceConfig
    start: datetime
    end: datetime
    alarm_name: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Finding:
    kind: InvestigationKind
    verdict: Verdict
    headline: str  # one short line
    lines: tuple[str, ...] = ()  # the evidence, a few lines of mrkdwn-safe text
    data: dict[str, Any] = field(default_factory=dict)  # kept on the timeline, for the postmortem
    attachment: Attachment | None = None  # the long output, uploaded as a file
    seconds: float | None = None


class Investigation(Protocol):
    kind: InvestigationKind
    timeout_s: float

    async def run(self, scope: Scope) -> Finding: ...


# What a service's config must name for each investigation built so far.
REQUIRES: dict[InvestigationKind, Callable[[ServiceConfig], bool]] = {
    InvestigationKind.LOGS: lambda service: service.logs is not None,
    InvestigationKind.TASKS: lambda service: service.ecs is not None,
    InvestigationKind.TARGETS: lambda service: service.load_balancer is not None,
    InvestigationKind.METRICS: lambda service: service.health_metrics is not None,
    InvestigationKind.CANARY: lambda service: service.canary is not None,
    InvestigationKind.DATA_QUALITY: lambda service: service.data_quality is not None,
    InvestigationKind.DETERMINISM: lambda service: service.determinism is not None,
}


def configured_kinds(service: ServiceConfig | None) -> tuple[InvestigationKind, ...]:
    """The investigations a service's config allows, in menu order."""
    if service is None:
        return ()
    return tuple(kind for kind, needs in REQUIRES.items() if needs(service))


def unavailable(kind: InvestigationKind, headline: str, *lines: str) -> Finding:
    return Finding(kind=kind, verdict=Verdict.UNAVAILABLE, headline=headline, lines=tuple(lines))


async def investigate(investigation: Investigation, scope: Scope, *, timeout_factor: float = 1.0) -> Finding:
    """Run one investigation under its time limit; a provider error or a time-out is a finding
    that says so (verdict unavailable), never an exception, so one failure degrades one button."""
    kind = investigation.kind
    limit = investigation.timeout_s * timeout_factor
    started = time.monotonic()
    try:
        finding = await asyncio.wait_for(investigation.run(scope), timeout=limit)
    except TimeoutError:
        finding = unavailable(kind, f"{kind.value}: no answer within {limit:g} s",
                              "The provider did not answer in time; try again in a minute.")
    except ProviderRejected as exc:
        finding = unavailable(kind, f"{kind.value}: refused ({exc.status})", _short(exc.message),
                              "Check the service's configuration and the bot's AWS permissions.")
    except ProviderError as exc:
        finding = unavailable(kind, f"{kind.value}: could not be read", _short(exc.message),
                              "The provider is unavailable; try again in a minute.")
    return replace(finding, seconds=round(time.monotonic() - started, 3))


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
