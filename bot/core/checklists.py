"""An incident's runbook and its checklist: which runbook, chosen how, and each step's state.

The choice is kept with how it was made (a routing rule, the runbook's own match rules, the
incident-text model with its confidence, or a person) so the checklist can say why it is
there. Steps are ticked by a person (manual steps), by the action a step's button started
when it succeeds, or by the Diagnose run a step started when it ends. Every change is on the
timeline and queues one edit of the pinned checklist; edits coalesce like headline edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import record_facts, timers
from bot.core.checklist_refresh import request_checklist
from bot.core.errors import InvalidInput
from bot.core.record_facts import Proof, RecordFact
from bot.core.timeline import EventKind, list_events, record_event
from bot.core.unit_of_work import Core
from storage.models import Incident, IncidentRunbook, RunbookStep


class ChosenBy(StrEnum):
    ROUTING = "routing"  # a routing rule of the configuration
    MATCH = "match"  # the runbook's own alarm, metric or PagerDuty-service rules
    MODEL = "model"  # the incident-text model, sure enough
    PERSON = "person"  # `/incident runbook NAME` or the picker
    NONE = "none"  # nothing decided; the checklist message asks a person to pick


class StepState(StrEnum):
    OPEN = "open"
    ACTING = "acting"  # an action started from the step is under way
    DONE = "done"


@dataclass(frozen=True)
class StepRef:
    """A step of a runbook, as a button or a form carries it."""

    runbook: str
    step_id: str
    title: str

    def as_metadata(self) -> dict[str, str]:
        return {"runbook": self.runbook, "step": self.step_id, "title": self.title}

    @classmethod
    def from_metadata(cls, data: Any) -> StepRef | None:
        """The step a form's metadata names, or None when it names none (or is not ours)."""
        if not isinstance(data, dict):
            return None
        runbook, step_id, title = data.get("runbook"), data.get("step"), data.get("title")
        if not (isinstance(runbook, str) and isinstance(step_id, str) and isinstance(title, str)):
            return None
        if not all(0 < len(part) <= 150 for part in (runbook, step_id, title)):
            return None
        return cls(runbook=runbook, step_id=step_id, title=title)


async def current(session: AsyncSession, *, incident_id: int) -> IncidentRunbook | None:
    return await session.get(IncidentRunbook, incident_id, populate_existing=True)


async def choose_first(
    session: AsyncSession, *, incident_id: int, runbook: str | None, chosen_by: ChosenBy, reason: str,
    now: datetime, confidence: float | None = None, suggestion: dict[str, Any] | None = None,
) -> IncidentRunbook:
    """The bot's own choice, made once; a choice already there (a person's) is kept and returned."""
    existing = await current(session, incident_id=incident_id)
    if existing is not None:
        return existing
    row = IncidentRunbook(incident_id=incident_id, runbook=runbook, chosen_by=chosen_by.value, reason=reason,
                          confidence=confidence, suggestion=suggestion or {}, actor="incident-bot", chosen_at=now,
                          version=1)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Another choice was stored first: that one stands. With none there, the insert failed
        # for another reason, and that error is the answer.
        chosen = await current(session, incident_id=incident_id)
        if chosen is None:
            raise
        return chosen
    if runbook is not None:
        await _follow(session, incident_id=incident_id, runbook=runbook, actor="incident-bot", now=now,
                      text=_chosen_text(runbook, chosen_by, reason, confidence), announce=False)
    return row


async def choose_by_person(session: AsyncSession, *, incident_id: int, runbook: str, actor: str,
                           now: datetime) -> IncidentRunbook:
    """A person's explicit choice, which replaces whatever was chosen before."""
    row = await current(session, incident_id=incident_id)
    if row is not None and row.runbook == runbook:
        raise InvalidInput(f"This incident already follows the {runbook} runbook.")
    previous = row.runbook if row is not None else None
    if row is None:
        row = IncidentRunbook(incident_id=incident_id, version=0, suggestion={}, chosen_at=now)
        session.add(row)
    row.runbook, row.chosen_by, row.reason = runbook, ChosenBy.PERSON.value, f"chosen by <@{actor}>"
    row.confidence = None
    row.actor, row.chosen_at, row.version = actor, now, (row.version or 0) + 1
    await session.flush()
    text = f"switched the runbook from {previous} to {runbook}" if previous else f"chose the {runbook} runbook"
    await _follow(session, incident_id=incident_id, runbook=runbook, actor=actor, now=now, text=text, announce=True,
                  data={"previous": previous})
    return row


async def _follow(session: AsyncSession, *, incident_id: int, runbook: str, actor: str, now: datetime, text: str,
                  announce: bool, data: dict[str, Any] | None = None) -> None:
    """The incident takes the runbook's class (escalation by runbook reads it) and replans."""
    await session.execute(update(Incident).where(Incident.id == incident_id).values(runbook_class=runbook)
                          .execution_options(synchronize_session=False))
    await record_event(session, incident_id=incident_id, kind=EventKind.RUNBOOK, actor=actor, now=now, text=text,
                       data={"runbook": runbook, **(data or {})}, announce=announce)
    await timers.request_plan(session, incident_id=incident_id, now=now, reason="runbook")
    await request_checklist(session, incident_id=incident_id, now=now)


def _chosen_text(runbook: str, chosen_by: ChosenBy, reason: str, confidence: float | None) -> str:
    if chosen_by == ChosenBy.MODEL and confidence is not None:
        return f"runbook {runbook} chosen by the incident-text model ({confidence:.0%} sure)"
    return f"runbook {runbook} chosen: {reason}"


async def record_message(session: AsyncSession, *, incident_id: int, channel_id: str, message_ts: str) -> None:
    await session.execute(update(IncidentRunbook).where(IncidentRunbook.incident_id == incident_id)
                          .values(channel_id=channel_id, message_ts=message_ts)
                          .execution_options(synchronize_session=False))


# --- steps ---------------------------------------------------------------------------------


async def steps(session: AsyncSession, *, incident_id: int, runbook: str) -> dict[str, RunbookStep]:
    rows = await session.scalars(select(RunbookStep).where(RunbookStep.incident_id == incident_id,
                                                           RunbookStep.runbook == runbook))
    return {row.step_id: row for row in rows}


async def _step_row(session: AsyncSession, *, incident_id: int, runbook: str, step_id: str, title: str,
                    actor: str, now: datetime) -> RunbookStep:
    query = select(RunbookStep).where(RunbookStep.incident_id == incident_id, RunbookStep.runbook == runbook,
                                      RunbookStep.step_id == step_id).with_for_update()
    for _ in range(3):
        row = await session.scalar(query)
        if row is not None:
            return row
        row = RunbookStep(incident_id=incident_id, runbook=runbook, step_id=step_id, title=title[:150],
                          state=StepState.OPEN.value, updated_by=actor, updated_at=now)
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            continue  # someone else's first touch of the same step: use their row
        return row
    raise InvalidInput("That step is being changed by someone else; try again.")


async def mark_step(core: Core, *, incident_id: int, step: StepRef, actor: str, done: bool = True,
                    via: str = "checkbox") -> RunbookStep:
    """Tick (or reopen) one step in its own audited transaction: a person's checkbox, or a job's
    run (``via`` says which) that read what the step asks for."""
    return await core.change(
        actor=actor, action="runbook.step", incident_id=incident_id,
        detail={"runbook": step.runbook, "step": step.step_id, "done": done, "via": via},
        apply=lambda session, now: set_done(session, incident_id=incident_id, runbook=step.runbook,
                                            step_id=step.step_id, title=step.title, done=done, actor=actor,
                                            now=now, via=via))


async def set_done(session: AsyncSession, *, incident_id: int, runbook: str, step_id: str, title: str, done: bool,
                   actor: str, now: datetime, via: str = "checkbox", because: str = "",
                   refresh: bool = True) -> RunbookStep:
    """Tick or untick a step; a repeat of the same state changes nothing and records nothing.

    ``refresh=False`` is for the checklist's own writer, which shows the change right after.
    """
    row = await _step_row(session, incident_id=incident_id, runbook=runbook, step_id=step_id, title=title,
                          actor=actor, now=now)
    wanted = StepState.DONE if done else StepState.OPEN
    if row.state == wanted.value:
        return row
    row.state, row.updated_by, row.updated_at = wanted.value, actor, now
    row.done_by, row.done_at = (actor, now) if done else (None, None)
    await session.flush()
    verb = "done" if done else "reopened"
    await record_event(session, incident_id=incident_id, kind=EventKind.RUNBOOK, actor=actor, now=now,
                       text=f"step {verb}: {row.title}" + (f" ({because})" if because else ""),
                       data={"runbook": runbook, "step": step_id, "done": done, "via": via,
                             "action_id": row.action_id}, announce=False)
    if refresh:
        await request_checklist(session, incident_id=incident_id, now=now)
    return row


async def link_action(session: AsyncSession, *, incident_id: int, step: StepRef, action_id: int, actor: str,
                      now: datetime) -> None:
    """An action proposed from a step's button: the step ticks itself when the action succeeds."""
    row = await _step_row(session, incident_id=incident_id, runbook=step.runbook, step_id=step.step_id,
                          title=step.title, actor=actor, now=now)
    row.action_id, row.updated_by, row.updated_at = action_id, actor, now
    if row.state != StepState.DONE.value:
        row.state = StepState.ACTING.value
    await session.flush()
    await request_checklist(session, incident_id=incident_id, now=now)


async def settle_action(session: AsyncSession, *, action_id: int, succeeded: bool, actor: str,
                        now: datetime) -> Sequence[RunbookStep]:
    """An action ended: the steps waiting on it are done if it succeeded, open again if not."""
    rows = list((await session.scalars(select(RunbookStep).where(RunbookStep.action_id == action_id)
                                       .with_for_update())).all())
    for row in rows:
        if row.state != StepState.ACTING.value:
            continue
        if succeeded:
            await set_done(session, incident_id=row.incident_id, runbook=row.runbook, step_id=row.step_id,
                           title=row.title, done=True, actor=actor, now=now, via=f"action #{action_id}")
        else:
            row.state, row.updated_at = StepState.OPEN.value, now
            await session.flush()
            await request_checklist(session, incident_id=row.incident_id, now=now)
    return rows


# --- steps the record proves -----------------------------------------------------------------

# Who ticks a step that the record proves done; the checklist shows the proof in its place.
RECORD_TICKER = "incident-bot"


@dataclass(frozen=True)
class ProvableStep:
    """A runbook step that names the facts of the record that show it done."""

    step_id: str
    title: str
    facts: tuple[RecordFact, ...]


async def tick_proven(session: AsyncSession, *, incident_id: int, runbook: str, provable: Sequence[ProvableStep],
                      now: datetime) -> dict[str, tuple[Proof, ...]]:
    """Tick the steps the record proves done; return the proofs of every proven step.

    A person's word stands: a step someone reopened after its facts came true stays open, and
    the record never unticks anything. A step whose action is under way waits for that action.
    """
    if not provable:
        return {}
    found = record_facts.proofs(await list_events(session, incident_id=incident_id))
    rows = await steps(session, incident_id=incident_id, runbook=runbook)
    proven: dict[str, tuple[Proof, ...]] = {}
    for step in provable:
        shown = record_facts.proof_of(step.facts, found)
        if shown is None:
            continue
        proven[step.step_id] = shown
        row = rows.get(step.step_id)
        if row is not None and (row.state != StepState.OPEN.value or _aware(row.updated_at) >= max(
                _aware(p.at) for p in shown)):
            continue
        because = "ticked by the record: " + ", ".join(p.fact.told(_who(p.actor)) for p in shown)
        await set_done(session, incident_id=incident_id, runbook=runbook, step_id=step.step_id, title=step.title,
                       done=True, actor=RECORD_TICKER, now=now, via="record", because=because, refresh=False)
    return proven


def _who(actor: str) -> str:
    return f"<@{actor}>" if actor[:1] in "UW" and actor[1:].isalnum() and actor.isupper() else actor


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back naive; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
