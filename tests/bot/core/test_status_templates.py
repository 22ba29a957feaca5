"""Status update drafts, written from a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import IncidentBotConfig
from bot.config.severity import Severity
from bot.core import incidents
from bot.core.actions.kinds import ActionState
from bot.core.status_templates import (
    UPDATE_TEXT_MAX,
    StatusContext,
    render_resolution,
    render_status_update,
    unfilled_prompts,
    update_context,
)
from storage.models import Incident, ResponseAction

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEFAULTS = IncidentBotConfig.from_mapping({})


async def declare(sessions: async_sessionmaker[AsyncSession], *, title: str = "Latency above SLO",
                  severity: Severity = Severity.P1, service: str | None = "multimodal-api", at: datetime = T0) -> int:
    async with sessions() as session, session.begin():
        incident = await incidents.declare(session, title=title, severity=severity, declared_by="U0ALICE", now=at,
                                           service=service)
        return incident.id


async def post_update(sessions: async_sessionmaker[AsyncSession], incident_id: int, text: str, at: datetime) -> None:
    async with sessions() as session, session.begin():
        await incidents.post_status_update(session, incident_id=incident_id, text=text, actor="U0ALICE", now=at)


async def add_action(sessions: async_sessionmaker[AsyncSession], incident_id: int, summary: str, state: ActionState,
                     at: datetime) -> None:
    async with sessions() as session, session.begin():
        session.add(ResponseAction(
            incident_id=incident_id, kind="scale", service="multimodal-api", target="ecs:multimodal-api",
            summary=summary, state=state.value, requested_by="U0ALICE", requested_at=at,
            finished_at=at + timedelta(minutes=1) if state.finished else None,
        ))


async def context_of(sessions: async_sessionmaker[AsyncSession], incident_id: int, *,
                     config: IncidentBotConfig = DEFAULTS, now: datetime) -> StatusContext:
    async with sessions() as session:
        return await update_context(session, incident_id=incident_id, config=config, now=now)


async def test_a_new_incident_gets_its_facts_and_prompts_for_the_rest(sessions) -> None:
    incident_id = await declare(sessions, title="Inference latency above SLO")
    now = T0 + timedelta(minutes=65)
    context = await context_of(sessions, incident_id, now=now)
    assert (context.number, context.severity, context.severity_name, context.status) == (1, "P1", "High", "Triggered")
    assert (context.summary, context.actions, context.commander) == (None, None, None)
    assert context.age == timedelta(minutes=65)

    draft = render_status_update(context)
    assert draft.startswith("*[INCIDENT]* #1 Inference latency above SLO - P1 (High)")
    for line in ("Incident ID: #1", "Model/Service: multimodal-api", "Severity: P1 (High)", "Status: Triggered",
                 "Commander: not assigned", "Open for: 1 hour 5 minutes"):
        assert line in draft.splitlines(), line
    # Nothing recorded about these, so the draft asks instead of guessing.
    assert unfilled_prompts(draft) == [
        "[Summary: what is happening and what is known so far]",
        "[Impact: who is affected, how many, since when]",
        "[Actions taken: what has been tried so far, and what it changed]",
        "[Now: what is being done at the moment]",
        '[Expected resolution: an estimate, or "not known yet"]',
    ]


async def test_no_service_is_a_prompt_too(sessions) -> None:
    incident_id = await declare(sessions, service=None)
    draft = render_status_update(await context_of(sessions, incident_id, now=T0))
    assert "[Model/Service: which model or service is affected]" in unfilled_prompts(draft)


async def test_the_summary_is_the_latest_update_else_the_incident_summary(sessions) -> None:
    incident_id = await declare(sessions)
    async with sessions() as session, session.begin():
        (await session.get(Incident, incident_id)).summary = "Rolled back model v5 to v4"
    assert (await context_of(sessions, incident_id, now=T0)).summary == "Rolled back model v5 to v4"

    await post_update(sessions, incident_id, "p95 at 2.1s, scaling out", T0 + timedelta(minutes=5))
    await post_update(sessions, incident_id, "p95 back to 400ms\nwatching for an hour", T0 + timedelta(minutes=20))
    context = await context_of(sessions, incident_id, now=T0 + timedelta(minutes=30))
    assert context.summary == "p95 back to 400ms\nwatching for an hour"
    draft = render_status_update(context)
    assert "Summary:\np95 back to 400ms\nwatching for an hour\n" in draft
    assert "scaling out" not in draft and "[Summary:" not in draft


async def test_an_update_posted_from_a_draft_gives_only_its_summary_to_the_next_draft(sessions) -> None:
    incident_id = await declare(sessions)
    first = render_status_update(await context_of(sessions, incident_id, now=T0))
    filled = (first.replace("[Summary: what is happening and what is known so far]", "GPU nodes are out of memory")
                   .replace("[Impact: who is affected, how many, since when]", "All chat users since 09:00"))
    await post_update(sessions, incident_id, filled, T0 + timedelta(minutes=10))
    context = await context_of(sessions, incident_id, now=T0 + timedelta(minutes=30))
    assert context.summary == "GPU nodes are out of memory"
    second = render_status_update(context)
    assert second.count("*[INCIDENT]*") == 1 and "All chat users" not in second


async def test_actions_taken_are_the_finished_ones_that_ran_with_their_outcome(sessions) -> None:
    incident_id = await declare(sessions)
    other = await declare(sessions, title="Another incident")
    states = [ActionState.SUCCEEDED, ActionState.PROPOSED, ActionState.FAILED, ActionState.RUNNING,
              ActionState.CANCELLED, ActionState.NO_CHANGE, ActionState.DENIED, ActionState.AWAITING_APPROVAL]
    for minute, state in enumerate(states):
        await add_action(sessions, incident_id, f"Action {state.value}", state, T0 + timedelta(minutes=minute))
    await add_action(sessions, other, "Scale someone else's service", ActionState.SUCCEEDED, T0)

    context = await context_of(sessions, incident_id, now=T0 + timedelta(hours=1))
    assert [(a.summary, a.state) for a in context.actions or ()] == [
        ("Action succeeded", "succeeded"), ("Action failed", "failed"), ("Action no_change", "no_change"),
    ]
    draft = render_status_update(context)
    assert ("Actions Taken:\n- Action succeeded (succeeded)\n- Action failed (failed)\n"
            "- Action no_change (no change)\n- [Now: what is being done at the moment]") in draft
    assert "[Actions taken:" not in draft and "someone else" not in draft


@pytest.mark.parametrize(("severity", "time_scale", "every", "words"), [
    (Severity.P1, 1, timedelta(minutes=30), "30 minutes"),
    (Severity.P2, 1, timedelta(hours=2), "2 hours"),
    (Severity.P2, 60, timedelta(minutes=2), "2 minutes"),
    (Severity.P0, 60, timedelta(seconds=30), "30 seconds"),
])
async def test_the_next_update_follows_the_severity_cadence_and_time_scale(
    sessions, severity: Severity, time_scale: float, every: timedelta, words: str,
) -> None:
    config = IncidentBotConfig.from_mapping({"time_scale": time_scale})
    incident_id = await declare(sessions, severity=severity)
    now = T0 + timedelta(minutes=7)
    context = await context_of(sessions, incident_id, config=config, now=now)
    assert (context.update_every, context.next_update_at) == (every, now + every)
    draft = render_status_update(context)
    assert draft.endswith(f"Updates will be provided every {words}; the next one by "
                          f"{now + every:%Y-%m-%d %H:%M} UTC.")


async def test_a_configured_cadence_and_severity_name_are_used(sessions) -> None:
    config = IncidentBotConfig.from_mapping({"severities": {"P3": {"name": "Minor", "update_every": "6h"}}})
    incident_id = await declare(sessions, severity=Severity.P3)
    context = await context_of(sessions, incident_id, config=config, now=T0)
    assert (context.severity_name, context.next_update_at) == ("Minor", T0 + timedelta(hours=6))
    assert "- P3 (Minor)" in render_status_update(context)


async def test_very_many_actions_are_cut_to_fit_slacks_text_box_keeping_the_newest(sessions) -> None:
    incident_id = await declare(sessions, title="T" * 2000)
    async with sessions() as session, session.begin():
        incident = await session.get(Incident, incident_id)
        incident.summary = "S" * 3000
        for n in range(300):
            session.add(ResponseAction(
                incident_id=incident_id, kind="scale", service="multimodal-api", target="ecs:multimodal-api",
                summary=f"Scale step {n:03d} " + "x" * 400, state=ActionState.SUCCEEDED.value,
                requested_by="U0ALICE", requested_at=T0 + timedelta(seconds=n)))
    draft = render_status_update(await context_of(sessions, incident_id, now=T0 + timedelta(hours=1)))
    assert len(draft) <= UPDATE_TEXT_MAX
    assert "Scale step 299" in draft and "Scale step 000" not in draft
    listed = draft.count("- Scale step ")
    assert 0 < listed < 300
    assert f"({300 - listed} earlier actions not listed: see `/incident timeline`)" in draft
    # Everything after the list still made it.
    assert draft.endswith("UTC.") and "[Impact: who is affected, how many, since when]" in draft


async def test_the_resolution_notice_has_the_resolution_time_and_asks_for_the_root_cause(sessions) -> None:
    incident_id = await declare(sessions)
    await add_action(sessions, incident_id, "Roll back model incident-text v5 → v4", ActionState.SUCCEEDED, T0)
    async with sessions() as session, session.begin():
        await incidents.resolve(session, incident_id=incident_id, actor="U0ALICE",
                                now=T0 + timedelta(hours=3, minutes=15))
    notice = render_resolution(await context_of(sessions, incident_id, now=T0 + timedelta(hours=4)))
    assert notice.startswith("*[RESOLVED]* #1 Latency above SLO - P1 (High)")
    assert "Resolution Time: 3 hours 15 minutes" in notice
    assert "Resolution:\n- Roll back model incident-text v5 → v4 (succeeded)\n" in notice
    assert "[Root cause: what caused it]" in unfilled_prompts(notice)
    assert notice.endswith("Incident resolved.")


_NUMBERS = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(min_size=1, max_size=2000).filter(lambda t: t.replace("\x00", "").strip()),
       update=st.text(min_size=1, max_size=3000).filter(lambda t: t.replace("\x00", "").strip()))
async def test_any_title_and_update_text_render_within_the_limit(sessions, title: str, update: str) -> None:
    at = T0 + timedelta(minutes=next(_NUMBERS))
    incident_id = await declare(sessions, title=title, at=at)
    await post_update(sessions, incident_id, update, at)
    context = await context_of(sessions, incident_id, now=at + timedelta(minutes=1))
    for draft in (render_status_update(context), render_resolution(context)):
        assert 0 < len(draft) <= UPDATE_TEXT_MAX
        # People's words are data, never template code or extra prompts.
        assert "*[INCIDENT]*" in draft or "*[RESOLVED]*" in draft
