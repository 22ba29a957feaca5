"""The postmortem's record: drafts numbered once per request, decisions on the current draft only,
approvals counted by reviewer, and review reminders that wait while an incident is reopened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core import incidents, postmortems, timers
from bot.core.errors import InvalidInput, InvalidTransition
from bot.core.lifecycle import Status
from bot.core.postmortems import Decision, PostmortemState
from bot.core.timers import TimerKind
from bot.core.unit_of_work import Core
from storage.models import PostmortemReview, TimelineEvent
from tests.bot.core.postmortem.world import ManualClock, Record


@pytest.fixture
def record(sessions) -> Record:
    clock = ManualClock()
    return Record(core=Core(sessions=sessions, clock=clock), clock=clock)


async def draft(record: Record, incident_id: int, request_id: str) -> int:
    async def apply(session, now):  # type: ignore[no-untyped-def]
        stored = await postmortems.store_draft(session, incident_id=incident_id, request_id=request_id,
                                               reason="test", actor="U0BOB", markdown=f"# {request_id}", facts={},
                                               now=now)
        return stored.number

    return await record.core.change(actor="U0BOB", action="test.draft", incident_id=incident_id, apply=apply)


async def decide(record: Record, postmortem_id: int, reviewer: str, draft_number: int, decision: Decision,
                 *, comment: str = "", required: int = 1):  # type: ignore[no-untyped-def]
    return await record.core.change(
        actor=reviewer, action="test.review", incident_id=None,
        apply=lambda s, now: postmortems.review(s, postmortem_id=postmortem_id, draft_number=draft_number,
                                                reviewer=reviewer, decision=decision, comment=comment,
                                                approvals_required=required, now=now))


async def resolved(record: Record) -> int:
    incident_id = await record.declare("p95 latency")
    await record.change(incident_id, incidents.resolve, minutes=10)
    return incident_id


async def test_a_retried_request_finds_its_draft_and_new_requests_number_on(record: Record) -> None:
    incident_id = await resolved(record)
    assert await draft(record, incident_id, "req-a") == 1
    assert await draft(record, incident_id, "req-a") == 1
    assert await draft(record, incident_id, "req-b") == 2
    pm = await record.core.read(lambda s: postmortems.for_incident(s, incident_id=incident_id))
    assert pm.current_draft == 2 and pm.state == PostmortemState.DRAFT


async def test_decisions_name_the_current_draft_and_approvals_count_reviewers(record: Record) -> None:
    incident_id = await resolved(record)
    await draft(record, incident_id, "one")
    await draft(record, incident_id, "two")
    pm = await record.core.read(lambda s: postmortems.for_incident(s, incident_id=incident_id))
    with pytest.raises(InvalidTransition, match="is at v2 now"):
        await decide(record, pm.id, "U0BOB", 1, Decision.APPROVED, required=2)
    with pytest.raises(InvalidInput, match="Say what should change"):
        await decide(record, pm.id, "U0BOB", 2, Decision.CHANGES_REQUESTED)
    after_first = await decide(record, pm.id, "U0BOB", 2, Decision.APPROVED, required=2)
    assert after_first.state == PostmortemState.IN_REVIEW
    again = await decide(record, pm.id, "U0BOB", 2, Decision.APPROVED, required=2)  # a double click
    assert again.state == PostmortemState.IN_REVIEW
    approved = await decide(record, pm.id, "U0CAROL", 2, Decision.APPROVED, required=2)
    assert approved.state == PostmortemState.APPROVED and approved.approved_at is not None
    with pytest.raises(InvalidTransition, match="already approved"):
        await decide(record, pm.id, "U0DAVE", 2, Decision.APPROVED, required=2)

    async def rows(session):  # type: ignore[no-untyped-def]
        return [(r.reviewer, r.decision, r.draft_number) for r in
                (await session.scalars(select(PostmortemReview).order_by(PostmortemReview.id))).all()]

    assert await record.core.read(rows) == [("U0BOB", "approved", 2), ("U0CAROL", "approved", 2)]


async def test_a_new_draft_after_approval_goes_back_to_review(record: Record) -> None:
    incident_id = await resolved(record)
    await draft(record, incident_id, "one")
    pm = await record.core.read(lambda s: postmortems.for_incident(s, incident_id=incident_id))
    await decide(record, pm.id, "U0BOB", 1, Decision.APPROVED)
    await draft(record, incident_id, "two")
    pm = await record.core.read(lambda s: postmortems.for_incident(s, incident_id=incident_id))
    assert pm.state == PostmortemState.DRAFT and pm.approved_at is None and pm.current_draft == 2


async def test_review_reminders_repeat_wait_while_reopened_and_stop_after_five(record: Record) -> None:
    incident_id = await resolved(record)

    async def remind(reminders: int) -> None:
        await record.core.change(actor="system", action="test.remind", incident_id=incident_id,
                                 apply=lambda s, now: postmortems.remind_review(
                                     s, incident_id=incident_id, reminders=reminders,
                                     review_within=timedelta(hours=48), now=now))

    async def reminder_events(session):  # type: ignore[no-untyped-def]
        return list((await session.scalars(select(TimelineEvent.text).where(
            TimelineEvent.kind == "postmortem", TimelineEvent.text.like("%still not approved%")))).all())

    await draft(record, incident_id, "one")
    await remind(0)
    assert len(await record.core.read(reminder_events)) == 1
    pending = await record.core.read(lambda s: timers.pending(s, incident_id=incident_id,
                                                              kind=TimerKind.POSTMORTEM_REVIEW))
    assert [t.payload["reminders"] for t in pending] == [1]
    await record.change(incident_id, incidents.transition, minutes=20, target=Status.TRIGGERED)
    await remind(1)
    assert len(await record.core.read(reminder_events)) == 1  # reopened: no reminder
    await record.change(incident_id, incidents.resolve, minutes=30)
    await remind(4)
    assert len(await record.core.read(reminder_events)) == 2
    pending = await record.core.read(lambda s: timers.pending(s, incident_id=incident_id,
                                                              kind=TimerKind.POSTMORTEM_REVIEW))
    assert [t.payload["reminders"] for t in pending] == [1]  # the fifth reminder scheduled no sixth
