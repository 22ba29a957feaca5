"""Choosing an incident's runbook against a real database: rules first, then a sure enough model, once."""

from __future__ import annotations

import asyncio

import pytest

from bot.config.models import RunbooksConfig
from bot.core import checklists
from bot.core.checklists import ChosenBy
from bot.core.ports.worker import WorkerPrediction, WorkerUnavailable
from bot.core.unit_of_work import Core
from runbooks.engine.choosing import RunbookChooser
from runbooks.engine.loader import load_library
from storage.models import Alert
from tests.bot.core.test_incidents import Ticking, declare

LIBRARY = load_library()
POLICY = RunbooksConfig(min_confidence=0.5, predict_timeout=0.2)


class FakeWorker:
    """The model worker's text classifier, answering what the test says (or failing as told)."""

    def __init__(self, label: str = "high_latency", confidence: float = 0.9,
                 error: Exception | None = None, delay: float = 0.0) -> None:
        self.label, self.confidence, self.error, self.delay = label, confidence, error, delay
        self.asked: list[tuple[str, str]] = []

    async def classify_text(self, text: str, *, model: str = "incident-text") -> WorkerPrediction:
        self.asked.append((text, model))
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return WorkerPrediction(label=self.label, confidence=self.confidence, scores={}, model_version="v3")


@pytest.fixture
def core(sessions) -> Core:
    return Core(sessions=sessions, clock=Ticking())


def chooser(core: Core, worker: FakeWorker) -> RunbookChooser:
    return RunbookChooser(sessions=core.sessions, clock=core.clock, library=LIBRARY, classifier=worker,
                          policy=POLICY, text_model="incident-text")


async def add_alarm(core: Core, incident_id: int, alarm_name: str) -> None:
    async def add(session, now):  # type: ignore[no-untyped-def]
        session.add(Alert(incident_id=incident_id, source="cloudwatch", dedup_key=alarm_name, title=alarm_name,
                          state="open", first_seen_at=now, last_seen_at=now, details={"alarm_name": alarm_name}))

    await core.change(actor="test", action="test", incident_id=incident_id, apply=add)


async def test_a_matching_alarm_decides_and_the_model_is_not_asked(core: Core) -> None:
    incident = await declare(core)
    await add_alarm(core, incident.id, "multimodal-api-p95-latency-high")
    worker = FakeWorker(label="security")
    choice = await chooser(core, worker).choose(incident_id=incident.id)
    assert (choice.runbook, choice.chosen_by) == ("high_latency", ChosenBy.MATCH)
    assert "multimodal-api-p95-latency-high" in choice.reason
    assert worker.asked == []


async def test_a_sure_model_decides_from_the_titles(core: Core) -> None:
    incident = await declare(core, "Inference latency is climbing")
    worker = FakeWorker(label="high_latency", confidence=0.8)
    choice = await chooser(core, worker).choose(incident_id=incident.id)
    assert (choice.runbook, choice.chosen_by, choice.confidence) == ("high_latency", ChosenBy.MODEL, 0.8)
    assert choice.suggestion == {"runbook": "high_latency", "label": "high_latency", "confidence": 0.8,
                                 "model": "incident-text", "version": "v3"}
    assert worker.asked == [("Inference latency is climbing", "incident-text")]


async def test_an_unsure_model_only_suggests(core: Core) -> None:
    incident = await declare(core)
    choice = await chooser(core, FakeWorker(label="model_drift", confidence=0.3)).choose(incident_id=incident.id)
    assert (choice.runbook, choice.chosen_by) == (None, ChosenBy.NONE)
    assert choice.suggestion["runbook"] == "model_drift" and "under 50% sure" in choice.reason


@pytest.mark.parametrize(("worker", "why"), [
    (FakeWorker(error=WorkerUnavailable("connection refused", delivered=False)), "connection refused"),
    (FakeWorker(delay=5.0), "no answer in time"),
])
async def test_a_worker_down_or_slow_leaves_the_pick_to_a_person(core: Core, worker: FakeWorker, why: str) -> None:
    incident = await declare(core)
    choice = await chooser(core, worker).choose(incident_id=incident.id)
    assert (choice.runbook, choice.chosen_by) == (None, ChosenBy.NONE)
    assert why in choice.reason


async def test_the_choice_is_made_once_and_a_persons_choice_stands(core: Core) -> None:
    incident = await declare(core)
    first = await chooser(core, FakeWorker(label="high_latency")).choose(incident_id=incident.id)
    worker = FakeWorker(label="security")
    again = await chooser(core, worker).choose(incident_id=incident.id)
    assert first.runbook == again.runbook == "high_latency" and worker.asked == []

    other = await declare(core, "Someone is in the admin console")
    await core.change(actor="U0BOB", action="runbook.choose", incident_id=other.id,
                      apply=lambda s, now: checklists.choose_by_person(s, incident_id=other.id, runbook="security",
                                                                       actor="U0BOB", now=now))
    kept = await chooser(core, FakeWorker(label="high_latency")).choose(incident_id=other.id)
    assert (kept.runbook, kept.chosen_by) == ("security", ChosenBy.PERSON)
