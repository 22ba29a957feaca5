"""Postmortems as records: drafts kept by number, reviews by reviewer, and the review state.

draft -> in_review -> approved. A draft is composed and kept first; posting it to Slack is a
separate, retried step (the outbox), so resolving an incident never waits on Slack and a
failed post loses nothing. Regenerating adds a new draft; reviews name the draft they judged,
so an approval of an older draft never approves a newer one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import timers
from bot.core.errors import ConcurrentChange, InvalidInput, InvalidTransition
from bot.core.lifecycle import OPEN_STATUSES
from bot.core.outbox import OutboxKind, enqueue
from bot.core.timeline import EventKind, record_event
from bot.core.timers import TimerKind
from storage.models import Incident, Postmortem, PostmortemDraft, PostmortemReview

COMMENT_MAX = 3000
REMINDERS_MAX = 5
BOT_ACTOR = "incident-bot"


class PostmortemState(StrEnum):
    DRAFT = "draft"  # composed, not yet in front of reviewers
    IN_REVIEW = "in_review"
    APPROVED = "approved"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Decision(StrEnum):
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


async def for_incident(session: AsyncSession, *, incident_id: int) -> Postmortem | None:
    return await session.scalar(
        select(Postmortem).where(Postmortem.incident_id == incident_id).execution_options(populate_existing=True)
    )


async def get(session: AsyncSession, *, postmortem_id: int) -> Postmortem:
    postmortem = await session.get(Postmortem, postmortem_id, populate_existing=True)
    if postmortem is None:
        raise InvalidInput(f"There is no postmortem #{postmortem_id}.")
    return postmortem


async def _ensure(session: AsyncSession, *, incident_id: int, now: datetime) -> Postmortem:
    existing = await for_incident(session, incident_id=incident_id)
    if existing is not None:
        return existing
    try:
        async with session.begin_nested():
            created = Postmortem(incident_id=incident_id, state=PostmortemState.DRAFT.value, current_draft=0,
                                 created_at=now, updated_at=now, version=1)
            session.add(created)
            await session.flush()
        return created
    except IntegrityError:
        found = await for_incident(session, incident_id=incident_id)
        if found is None:
            raise
        return found


async def request_draft(session: AsyncSession, *, incident_id: int, reason: str, actor: str, now: datetime) -> str:
    """Queue a new draft (composed and posted by the outbox). Returns the request's id.

    Only an insert in the caller's transaction: this is what resolving does, and it must not
    be able to fail for reasons of its own.
    """
    request_id = uuid.uuid4().hex
    await enqueue(session, kind=OutboxKind.POSTMORTEM_DRAFT, incident_id=incident_id,
                  ordering_key=postmortem_ordering_key(incident_id), now=now,
                  payload={"incident_id": incident_id, "request_id": request_id, "reason": reason, "actor": actor})
    return request_id


def postmortem_ordering_key(incident_id: int) -> str:
    # Its own lane: a slow draft never holds back the incident channel's other messages.
    return f"postmortem:{incident_id}"


async def draft_for_request(session: AsyncSession, *, request_id: str) -> PostmortemDraft | None:
    return await session.scalar(select(PostmortemDraft).where(PostmortemDraft.request_id == request_id))


async def store_draft(
    session: AsyncSession, *, incident_id: int, request_id: str, reason: str, actor: str, markdown: str,
    facts: dict[str, Any], now: datetime,
) -> PostmortemDraft:
    """Keep a composed draft as the next number. A retried request finds the draft it made."""
    made = await draft_for_request(session, request_id=request_id)
    if made is not None:
        return made
    postmortem = await _ensure(session, incident_id=incident_id, now=now)
    for _ in range(8):
        fresh = await get(session, postmortem_id=postmortem.id)
        number = fresh.current_draft + 1
        # Back to draft: what reviewers see is the new text, and their old verdicts were on the old one.
        moved = cast(CursorResult[Any], await session.execute(
            update(Postmortem).where(Postmortem.id == fresh.id, Postmortem.version == fresh.version)
            .values(current_draft=number, state=PostmortemState.DRAFT.value, approved_at=None,
                    updated_at=now, version=fresh.version + 1)
            .execution_options(synchronize_session=False)
        ))
        if moved.rowcount == 1:
            break
    else:
        raise ConcurrentChange("The postmortem kept changing while a draft was being saved; try again.")
    draft = PostmortemDraft(postmortem_id=postmortem.id, number=number, request_id=request_id, reason=reason[:200],
                            requested_by=actor, created_at=now, markdown=markdown, facts=facts)
    session.add(draft)
    await session.flush()
    await record_event(session, incident_id=incident_id, kind=EventKind.POSTMORTEM, actor=actor, now=now,
                       text=f"Postmortem draft v{number} written ({reason}).", announce=False,
                       data={"change": "drafted", "draft": number, "reason": reason})
    return draft


async def drafts(session: AsyncSession, *, postmortem_id: int) -> Sequence[PostmortemDraft]:
    return (await session.scalars(
        select(PostmortemDraft).where(PostmortemDraft.postmortem_id == postmortem_id).order_by(PostmortemDraft.number)
    )).all()


async def reviews(session: AsyncSession, *, postmortem_id: int) -> Sequence[PostmortemReview]:
    return (await session.scalars(
        select(PostmortemReview).where(PostmortemReview.postmortem_id == postmortem_id)
        .order_by(PostmortemReview.decided_at, PostmortemReview.id)
    )).all()


async def record_posted(
    session: AsyncSession, *, draft: PostmortemDraft, channel_id: str, message_ts: str, file_id: str,
    review_within: timedelta, now: datetime,
) -> Postmortem:
    """The draft is in the channel: reviewers can act, and the review clock starts (once)."""
    postmortem = await get(session, postmortem_id=draft.postmortem_id)
    values: dict[str, Any] = {"channel_id": channel_id, "message_ts": message_ts, "posted_draft": draft.number,
                              "post_error": None, "updated_at": now, "version": Postmortem.version + 1}
    if postmortem.state == PostmortemState.DRAFT and draft.number == postmortem.current_draft:
        values["state"] = PostmortemState.IN_REVIEW.value
    await session.execute(update(Postmortem).where(Postmortem.id == postmortem.id).values(**values)
                          .execution_options(synchronize_session=False))
    waiting = await timers.pending(session, incident_id=postmortem.incident_id, kind=TimerKind.POSTMORTEM_REVIEW)
    if not waiting:
        await timers.schedule(session, incident_id=postmortem.incident_id, kind=TimerKind.POSTMORTEM_REVIEW,
                              due_at=now + review_within, now=now, payload={"reminders": 0})
    await record_event(session, incident_id=postmortem.incident_id, kind=EventKind.POSTMORTEM, actor=BOT_ACTOR,
                       now=now, text=f"Postmortem draft v{draft.number} posted for review.", announce=False,
                       data={"change": "posted", "draft": draft.number, "file_id": file_id})
    return await get(session, postmortem_id=postmortem.id)


async def record_post_failure(session: AsyncSession, *, incident_id: int, draft_number: int | None, error: str,
                              now: datetime) -> None:
    """Slack refused the draft. Said in the channel (through the outbox) and kept for a retry."""
    postmortem = await _ensure(session, incident_id=incident_id, now=now)
    await session.execute(update(Postmortem).where(Postmortem.id == postmortem.id)
                          .values(post_error=error[:2000], updated_at=now).execution_options(synchronize_session=False))
    shown = f" v{draft_number}" if draft_number else ""
    await record_event(session, incident_id=incident_id, kind=EventKind.POSTMORTEM, actor=BOT_ACTOR, now=now,
                       text=f"The postmortem draft{shown} could not be posted: {error[:300]}. "
                            "It is saved; `/incident postmortem` tries again.",
                       data={"change": "post_failed", "draft": draft_number, "error": error[:300]})


async def review(
    session: AsyncSession, *, postmortem_id: int, draft_number: int, reviewer: str, decision: Decision,
    comment: str, approvals_required: int, now: datetime,
) -> Postmortem:
    """Record one reviewer's decision on one draft; enough approvals of the current draft approve it."""
    comment = comment.replace("\x00", "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(f"The comment is {len(comment)} characters long; the limit is {COMMENT_MAX}.")
    if decision == Decision.CHANGES_REQUESTED and not comment:
        raise InvalidInput("Say what should change, so the next draft can answer it.")
    postmortem = await get(session, postmortem_id=postmortem_id)
    number = await session.scalar(select(Incident.number).where(Incident.id == postmortem.incident_id))
    if draft_number != postmortem.current_draft:
        raise InvalidTransition(f"That is draft v{draft_number}; the postmortem of incident #{number} "
                                f"is at v{postmortem.current_draft} now. Review the newest draft.")
    if postmortem.state == PostmortemState.APPROVED:
        raise InvalidTransition(f"The postmortem of incident #{number} is already approved "
                                f"(draft v{postmortem.current_draft}). Regenerate it to review a new draft.")
    said_before = await session.scalar(
        select(PostmortemReview).where(PostmortemReview.postmortem_id == postmortem_id,
                                       PostmortemReview.draft_number == draft_number,
                                       PostmortemReview.reviewer == reviewer)
        .order_by(PostmortemReview.id.desc()).limit(1))
    if said_before is not None and (said_before.decision, said_before.comment) == (decision.value, comment):
        return postmortem  # a double click, or Slack's retry: the decision is recorded already
    session.add(PostmortemReview(postmortem_id=postmortem_id, draft_number=draft_number, reviewer=reviewer,
                                 decision=decision.value, comment=comment, decided_at=now))
    await session.flush()
    approvers = await _approvers_of(session, postmortem_id=postmortem_id, draft_number=draft_number)
    approved = decision == Decision.APPROVED and len(approvers) >= approvals_required
    values: dict[str, Any] = {"updated_at": now, "version": Postmortem.version + 1}
    if approved:
        values.update(state=PostmortemState.APPROVED.value, approved_at=now)
        await timers.cancel(session, incident_id=postmortem.incident_id, kinds=[TimerKind.POSTMORTEM_REVIEW])
    elif postmortem.state == PostmortemState.DRAFT:
        values["state"] = PostmortemState.IN_REVIEW.value
    await session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(**values)
                          .execution_options(synchronize_session=False))
    said = {Decision.APPROVED: "approved", Decision.CHANGES_REQUESTED: "requested changes to"}[decision]
    text = f"{said.capitalize()} postmortem draft v{draft_number}" + (f": {comment}" if comment else ".")
    if approved:
        text += " The postmortem is approved."
    await record_event(session, incident_id=postmortem.incident_id, kind=EventKind.POSTMORTEM, actor=reviewer,
                       now=now, text=text, data={"change": decision.value, "draft": draft_number,
                                                 "approved": approved})
    await enqueue(session, kind=OutboxKind.POSTMORTEM_MESSAGE, incident_id=postmortem.incident_id,
                  ordering_key=postmortem_ordering_key(postmortem.incident_id), now=now,
                  payload={"postmortem_id": postmortem_id}, coalesce_key=f"postmortem-message:{postmortem_id}")
    return await get(session, postmortem_id=postmortem_id)


async def _approvers_of(session: AsyncSession, *, postmortem_id: int, draft_number: int) -> set[str]:
    rows = await session.scalars(select(PostmortemReview.reviewer).where(
        PostmortemReview.postmortem_id == postmortem_id, PostmortemReview.draft_number == draft_number,
        PostmortemReview.decision == Decision.APPROVED.value))
    return set(rows)


async def remind_review(session: AsyncSession, *, incident_id: int, reminders: int, review_within: timedelta,
                        now: datetime) -> None:
    """The review deadline passed: say so in the channel, and look again one period later."""
    postmortem = await for_incident(session, incident_id=incident_id)
    if postmortem is None or postmortem.state == PostmortemState.APPROVED:
        return
    status = await session.scalar(select(Incident.status).where(Incident.id == incident_id))
    if status in {s.value for s in OPEN_STATUSES}:
        return  # reopened: its next resolve writes a new draft, which starts the clock again
    count = await session.scalar(select(func.count()).select_from(PostmortemReview).where(
        PostmortemReview.postmortem_id == postmortem.id, PostmortemReview.draft_number == postmortem.current_draft))
    age = now - postmortem.created_at
    await record_event(
        session, incident_id=incident_id, kind=EventKind.POSTMORTEM, actor=BOT_ACTOR, now=now,
        text=f"Postmortem draft v{postmortem.current_draft} is still not approved, {_hours(age)} after the "
             f"first draft ({count or 0} review{'s' if count != 1 else ''} of this draft so far).",
        data={"change": "reminder", "draft": postmortem.current_draft, "reminders": reminders + 1},
    )
    if reminders + 1 < REMINDERS_MAX:
        await timers.schedule(session, incident_id=incident_id, kind=TimerKind.POSTMORTEM_REVIEW,
                              due_at=now + review_within, now=now, payload={"reminders": reminders + 1})


def _hours(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{max(1, round(age.total_seconds() / 60))} min"


async def draft_number(session: AsyncSession, *, postmortem_id: int, number: int) -> PostmortemDraft | None:
    return await session.scalar(select(PostmortemDraft).where(PostmortemDraft.postmortem_id == postmortem_id,
                                                              PostmortemDraft.number == number))


async def save_file(session: AsyncSession, *, draft_id: int, file_id: str) -> None:
    """The upload is done: a retry must not upload the same draft again."""
    await session.execute(update(PostmortemDraft).where(PostmortemDraft.id == draft_id).values(file_id=file_id)
                          .execution_options(synchronize_session=False))


async def note_post_error(session: AsyncSession, *, incident_id: int, error: str, now: datetime) -> None:
    """Slack is down or busy: kept for `/incident postmortem` to show; the outbox keeps trying."""
    await session.execute(update(Postmortem).where(Postmortem.incident_id == incident_id)
                          .values(post_error=error[:2000], updated_at=now).execution_options(synchronize_session=False))
