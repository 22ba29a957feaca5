"""Scripted scenarios offered in the page's scenario menu, and the record of their runs.

The host process registers :class:`Scenario` objects; a person starts one from the page, and it
runs on a thread of its own while the page shows its :class:`ScenarioRun`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.web_bodies import WebError

logger = logging.getLogger(__name__)

MAX_SCENARIO_RUNS = 20
_SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Scenario:
    """A scripted sequence offered in the page's scenario menu.

    ``run`` is started on a thread of its own with its own event loop, so a scenario that blocks
    (a sync HTTP client, a sleep) cannot stall the sandbox that the bot is talking to.
    Exceptions are shown to the person who started it, and so is a string that ``run`` returns
    (what came of it, such as which incident the alert went to).
    """

    name: str  # url-safe id
    title: str  # shown in the menu
    description: str
    run: Callable[[], Awaitable[str | None]]

    def __post_init__(self) -> None:
        if not _SCENARIO_NAME.fullmatch(self.name):
            raise ValueError(f"scenario name {self.name!r} must be 1-64 letters, digits, '-' or '_'")


@dataclass
class ScenarioRun:
    id: str
    name: str
    started: float
    state: str = "running"  # running | done | failed
    error: str | None = None
    finished: float | None = None
    note: str | None = None  # what came of the run, in the scenario's words

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


async def _scenario_main(scenario: Scenario) -> str | None:
    outcome = scenario.run()
    if not inspect.isawaitable(outcome):
        raise TypeError(f"scenario {scenario.name}: run() must return an awaitable")
    note = await outcome
    return note if isinstance(note, str) else None


class ScenarioRunner:
    """The registered scenarios by name, and the latest runs (at most ``MAX_SCENARIO_RUNS``)."""

    def __init__(self, scenarios: Sequence[Scenario] = ()) -> None:
        self._lock = threading.Lock()
        self._scenarios: dict[str, Scenario] = {}
        self._runs: list[ScenarioRun] = []
        self.add(scenarios)

    def add(self, scenarios: Sequence[Scenario]) -> None:
        with self._lock:
            for scenario in scenarios:
                if scenario.name in self._scenarios:
                    raise ValueError(f"a scenario named {scenario.name!r} is already registered")
                self._scenarios[scenario.name] = scenario

    def scenarios(self) -> list[Scenario]:
        with self._lock:
            return list(self._scenarios.values())

    def runs(self) -> list[ScenarioRun]:
        with self._lock:
            return [dataclasses.replace(r) for r in self._runs]

    def start(self, name: str) -> dict[str, Any]:
        with self._lock:
            scenario = self._scenarios.get(name)
            if scenario is None:
                raise WebError(404, f"there is no scenario {name!r}")
            if any(r.name == name and r.state == "running" for r in self._runs):
                raise WebError(409, f"{scenario.title} is already running")
            run = ScenarioRun(uuid.uuid4().hex[:12], name, time.time())
            self._runs = [*self._runs, run][-MAX_SCENARIO_RUNS:]
        threading.Thread(target=self._run, args=(scenario, run), name=f"scenario-{name}",
                         daemon=True).start()
        return {"ok": True, "started": True, "run": run.to_json()}

    def _run(self, scenario: Scenario, run: ScenarioRun) -> None:
        note = None
        error: str | None = None
        try:
            note = asyncio.run(_scenario_main(scenario))
        except Exception as exc:  # whatever went wrong is shown to the person
            logger.warning("scenario %s failed", scenario.name, exc_info=True)
            outcome, error = "failed", f"{type(exc).__name__}: {exc}"
        else:
            outcome = "done"
        with self._lock:
            run.state, run.error, run.finished, run.note = outcome, error, time.time(), note
