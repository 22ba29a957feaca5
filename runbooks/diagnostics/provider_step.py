"""Diagnose's provider check (seed 003's "Provider Health Check"): every configured provider of
the incident's service, read at once through its health URL and/or metric.

The primary down with a healthy backup is critical and suggests the guarded failover; the
primary slow, or its health unreadable, is a warning; all of them healthy is ok. Services without
``providers`` in the config skip the step (see `suite.chosen_steps`).
"""

from __future__ import annotations

from bot.core.failover.health import HealthReader, ProviderState
from runbooks.diagnostics.results import StepResult, Suggestion, Verdict
from runbooks.diagnostics.steps import Findings, Subject, Tools

STEP = "providers"


async def provider_health(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    providers = subject.providers
    if providers is None:
        return StepResult(STEP, Verdict.UNAVAILABLE, "providers: this service has no `providers` in the config")
    reader = HealthReader(probe=tools.probe, metrics=tools.metrics, clock=lambda: subject.now)
    readings = await reader.read_all(providers)
    primary = readings[providers.primary.name]
    usable = [b.name for b in providers.backups if readings[b.name].state.usable]
    lines = tuple(reading.line for reading in readings.values())
    data = {"primary": primary.name, "states": {name: r.state.value for name, r in readings.items()},
            "usable_backups": usable}
    if primary.state == ProviderState.DOWN:
        if not usable:
            return StepResult(STEP, Verdict.CRITICAL, f"providers: {primary.name} is down and no backup is healthy",
                              lines, data)
        return StepResult(STEP, Verdict.CRITICAL, f"providers: {primary.name} is down; {usable[0]} is healthy",
                          lines, data, (Suggestion(f"{primary.name} is down: fail over to {usable[0]}", "failover"),))
    if primary.state != ProviderState.HEALTHY:
        return StepResult(STEP, Verdict.WARNING, f"providers: {primary.name} is {primary.state.value}", lines, data)
    down = [name for name, r in readings.items() if not r.state.usable]
    if down:
        return StepResult(STEP, Verdict.WARNING, f"providers: {primary.name} healthy; backup {', '.join(down)} not",
                          lines, data)
    return StepResult(STEP, Verdict.OK, f"providers: all {len(readings)} healthy", lines, data)
