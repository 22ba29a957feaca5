"""Running the steps in order, each within its own time limit, reporting after each one.

A step that times out or whose provider fails becomes an "unavailable" result that says why,
and the next step runs: with the worker down, the chart still comes from CloudWatch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.core.ports.errors import ProviderError
from bot.core.ports.worker import WorkerError, WorkerRejected
from runbooks.diagnostics.provider_step import provider_health
from runbooks.diagnostics.results import StepResult, Verdict
from runbooks.diagnostics.steps import STEPS, Findings, Subject, Tools

log = logging.getLogger(__name__)

# Seconds each step may take; together well under the 20 s the suite aims for with full models.
STEP_TIMEOUTS = {"worker": 3.0, "golden": 15.0, "drift": 5.0, "latency": 8.0, "low_confidence": 3.0,
                 "chart": 8.0, "triage": 6.0, "providers": 8.0}
# The providers' health (seed 003) runs first: with a provider out, it is the news.
ALL_STEPS = (("providers", provider_health), *STEPS)

Progress = Callable[[int, int, StepResult], Awaitable[None]]
Step = Callable[[Subject, Findings, Tools], Awaitable[StepResult]]


def chosen_steps(only: tuple[str, ...] = (), *, skip: tuple[str, ...] = ()) -> list[tuple[str, Step]]:
    """The suite's steps in their order; ``only`` (a runbook step's list) keeps just those, and
    ``skip`` drops those that do not apply (the providers step for a service without providers)."""
    return [(name, step) for name, step in ALL_STEPS if (not only or name in only) and name not in skip]


async def run_suite(subject: Subject, tools: Tools, progress: Progress, *,
                    timeouts: dict[str, float] | None = None, only: tuple[str, ...] = (),
                    skip: tuple[str, ...] = ()) -> list[StepResult]:
    limits = {**STEP_TIMEOUTS, **(timeouts or {})}
    findings = Findings()
    results: list[StepResult] = []
    steps = chosen_steps(only, skip=skip)
    for index, (name, step) in enumerate(steps, start=1):
        started = time.perf_counter()
        result = await _run_step(name, step, subject, findings, tools, limits[name])
        result = replace(result, seconds=round(time.perf_counter() - started, 3))
        results.append(result)
        await progress(index, len(steps), result)
    return results


async def _run_step(name: str, step: Step, subject: Subject, findings: Findings, tools: Tools,
                    limit: float) -> StepResult:
    try:
        return await asyncio.wait_for(step(subject, findings, tools), timeout=limit)
    except TimeoutError:
        return StepResult(name, Verdict.UNAVAILABLE, f"{name}: no answer within {limit:.0f} s")
    except WorkerRejected as exc:  # e.g. NO_GOLDEN_SET, NO_BASELINE: the worker's own words say what is missing
        return StepResult(name, Verdict.UNAVAILABLE, f"{name}: {exc}")
    except WorkerError as exc:
        return StepResult(name, Verdict.UNAVAILABLE, f"{name}: the model worker could not answer ({exc})")
    except ProviderError as exc:
        return StepResult(name, Verdict.UNAVAILABLE, f"{name}: {exc.message}")
    except Exception as exc:  # one broken step must not stop the others
        log.exception("diagnostic step %s failed", name)
        return StepResult(name, Verdict.UNAVAILABLE, f"{name}: failed unexpectedly ({exc.__class__.__name__})")
