"""The checklist core against a real database: choices, ticks, and steps that wait on actions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core import checklists
from bot.core.checklists import ChosenBy, StepRef, StepState
from bot.core.errors import InvalidInput
from bot.core.outbox import OutboxKind
from bot.core.timeline import list_events
from bot.core.unit_of_work import Core
from storage.models import Incident, OutboxMessage, ResponseAction, Timer
from tests.bot.core.test_incidents import Ticking, declare

SCALE = StepRef(runbook="high_latency", step_id="scale-up", title="Scale up the service")


@pytest.fixture
def core(sessions) -> Core:
    return Core(sessions=sessions, clock=Ticking())


async def run(core: Core, apply):  # type: ignore[no-untyped-def]
    return await core.change(actor="U0ALICE", action="test", incident_id=None, apply=apply)


async def runbook_events(core: Core, incident_id: int) -> list:
    events = await core.read(lambda s: list_events(s, incident_id=incident_id))
    return [e for e in events if e.kind == "runbook"]


async def add_action(core: Core, incident_id: int) -> int:
    async def add(session, now):  # type: ignore[no-untyped-def]
        action = ResponseAction(incident_id=incident_id, kind="scale", service="multimodal-api", target="ecs:x",
                                summary="scale to 10", before={}, after={}, state="proposed", requested_by="U0ALICE",
                                requested_at=now, result={}, version=1)
        session.add(action)
        await session.flush()
        return action.id

    return await run(core, add)


async def test_the_bots_choice_is_made_once_and_a_persons_choice_replaces_it(core: Core) -> None:
    incident = await declare(core)
    first = await run(core, lambda s, now: checklists.choose_first(
        s, incident_id=incident.id, runbook="high_latency", chosen_by=ChosenBy.MATCH, reason="alarm", now=now))
    again = await run(core, lambda s, now: checklists.choose_first(
        s, incident_id=incident.id, runbook="security", chosen_by=ChosenBy.MODEL, reason="model", now=now,
        confidence=0.9))
    assert first.runbook == again.runbook == "high_latency"
    person = await run(core, lambda s, now: checklists.choose_by_person(
        s, incident_id=incident.id, runbook="security", actor="U0BOB", now=now))
    assert (person.runbook, person.chosen_by, person.actor, person.version) == ("security", "person", "U0BOB", 2)
    with pytest.raises(InvalidInput, match="already follows the security runbook"):
        await run(core, lambda s, now: checklists.choose_by_person(
            s, incident_id=incident.id, runbook="security", actor="U0BOB", now=now))
    stored = await core.read(lambda s: s.get(Incident, incident.id, populate_existing=True))
    assert stored.runbook_class == "security"  # escalation by runbook reads it
    texts = [e.text for e in await runbook_events(core, incident.id)]
    assert texts == ["runbook high_latency chosen: alarm", "switched the runbook from high_latency to security"]
    plans = await core.read(lambda s: s.scalars(select(Timer.payload).where(Timer.kind == "plan")))
    assert {"reason": "runbook"} in list(plans)


async def test_a_choice_of_none_keeps_the_incident_without_a_runbook(core: Core) -> None:
    incident = await declare(core)
    row = await run(core, lambda s, now: checklists.choose_first(
        s, incident_id=incident.id, runbook=None, chosen_by=ChosenBy.NONE, reason="worker down", now=now,
        suggestion={"runbook": "model_drift", "confidence": 0.3}))
    assert row.runbook is None and row.suggestion["runbook"] == "model_drift"
    assert await runbook_events(core, incident.id) == []


async def test_ticking_is_idempotent_and_every_change_is_recorded_once(core: Core) -> None:
    incident = await declare(core)

    def tick(done: bool):  # type: ignore[no-untyped-def]
        return run(core, lambda s, now: checklists.set_done(
            s, incident_id=incident.id, runbook="high_latency", step_id="check-traffic-spike",
            title="Check for a traffic spike", done=done, actor="U0ALICE", now=now))

    first = await tick(True)
    assert first.state == StepState.DONE and first.done_by == "U0ALICE" and first.done_at is not None
    await tick(True)  # a double click
    reopened = await tick(False)
    assert reopened.state == StepState.OPEN and reopened.done_by is None
    events = await runbook_events(core, incident.id)
    assert [(e.data["step"], e.data["done"]) for e in events] == [("check-traffic-spike", True),
                                                                   ("check-traffic-spike", False)]
    queued = await core.read(lambda s: s.scalars(select(OutboxMessage.kind).where(
        OutboxMessage.incident_id == incident.id, OutboxMessage.kind == OutboxKind.RUNBOOK_CHECKLIST)))
    assert len(list(queued)) == 1, "checklist edits coalesce while one waits"


@pytest.mark.parametrize(("succeeded", "state"), [(True, StepState.DONE), (False, StepState.OPEN)])
async def test_a_step_waits_on_its_action_and_settles_with_it(core: Core, succeeded: bool, state: StepState) -> None:
    incident = await declare(core)
    action_id = await add_action(core, incident.id)
    await run(core, lambda s, now: checklists.link_action(s, incident_id=incident.id, step=SCALE, action_id=action_id,
                                                          actor="U0ALICE", now=now))
    rows = await core.read(lambda s: checklists.steps(s, incident_id=incident.id, runbook="high_latency"))
    assert rows["scale-up"].state == StepState.ACTING and rows["scale-up"].action_id == action_id
    await run(core, lambda s, now: checklists.settle_action(s, action_id=action_id, succeeded=succeeded,
                                                            actor="U0ALICE", now=now))
    rows = await core.read(lambda s: checklists.steps(s, incident_id=incident.id, runbook="high_latency"))
    assert rows["scale-up"].state == state
    events = await runbook_events(core, incident.id)
    assert [e.data.get("via") for e in events] == ([f"action #{action_id}"] if succeeded else [])
    # A late repeat of the settlement (a retried finish) changes nothing more.
    await run(core, lambda s, now: checklists.settle_action(s, action_id=action_id, succeeded=True, actor="U0ALICE",
                                                            now=now))
    assert len(await runbook_events(core, incident.id)) == len(events)


async def test_a_step_ticked_by_hand_stays_done_when_its_action_fails(core: Core) -> None:
    incident = await declare(core)
    action_id = await add_action(core, incident.id)
    await run(core, lambda s, now: checklists.link_action(s, incident_id=incident.id, step=SCALE, action_id=action_id,
                                                          actor="U0ALICE", now=now))
    await run(core, lambda s, now: checklists.set_done(s, incident_id=incident.id, runbook="high_latency",
                                                       step_id="scale-up", title=SCALE.title, done=True,
                                                       actor="U0BOB", now=now))
    await run(core, lambda s, now: checklists.settle_action(s, action_id=action_id, succeeded=False, actor="U0ALICE",
                                                            now=now))
    rows = await core.read(lambda s: checklists.steps(s, incident_id=incident.id, runbook="high_latency"))
    assert rows["scale-up"].state == StepState.DONE and rows["scale-up"].done_by == "U0BOB"


def test_step_refs_from_form_metadata_refuse_what_is_not_one() -> None:
    assert StepRef.from_metadata(SCALE.as_metadata()) == SCALE
    for bad in (None, "x", [], {"runbook": "a"}, {"runbook": 1, "step": "s", "title": "t"},
                {"runbook": "a", "step": "", "title": "t"}, {"runbook": "a", "step": "s", "title": "t" * 151}):
        assert StepRef.from_metadata(bad) is None
