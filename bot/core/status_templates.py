"""Drafts of status updates, written from what the database knows about an incident.

The wording follows the seeds' notification templates. A draft never invents a fact: where
nothing is recorded (the impact, a summary, the expected resolution) it writes a bracketed
prompt for the person to replace. Templates live in `bot/templates` as jinja2 files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import jinja2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.config.durations import format_duration
from bot.core.actions.kinds import ActionState
from bot.core.incidents import get_incident
from bot.core.lifecycle import Status
from bot.core.text import clean_text, truncate
from bot.core.timeline import EventKind
from storage.models import ResponseAction, TimelineEvent

__all__ = [
    "UPDATE_TEXT_MAX",
    "ActionTaken",
    "StatusContext",
    "render_resolution",
    "render_status_update",
    "render_template",
    "unfilled_prompts",
    "update_context",
]

# Slack's plain_text_input holds at most 3,000 characters; the draft must fit in it.
UPDATE_TEXT_MAX = 3000
TITLE_MAX = 300
SUMMARY_MAX = 1200
ACTION_SUMMARY_MAX = 300
ACTIONS_READ_MAX = 100

# Actions that ran (or were at least attempted). Cancelled, denied and expired ones never
# touched anything, so they are not "actions taken".
TAKEN_STATES = frozenset(
    s for s in ActionState if s.finished and s not in {ActionState.CANCELLED, ActionState.DENIED, ActionState.EXPIRED}
)

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

# The labels of the templates' [bracketed] prompts. A draft posted with one still in it would
# publish a question as if it were news.
PROMPT_LABELS = ("Model/Service", "Summary", "Impact", "Actions taken", "Now", "Expected resolution",
                 "Root cause", "Resolution", "Preventive measures", "Not resolved yet", "Customer impact")
_PROMPT = re.compile(r"\[(?:" + "|".join(re.escape(label) for label in PROMPT_LABELS) + r"): [^\]\n]*\]")


@dataclass(frozen=True)
class ActionTaken:
    summary: str
    state: str
    finished_at: datetime | None


@dataclass(frozen=True)
class StatusContext:
    """What a draft may say about an incident; ``None`` means nothing is recorded."""

    incident_id: int
    number: int
    title: str
    service: str | None
    severity: str
    severity_name: str
    status: str
    commander: str | None
    declared_at: datetime
    age: timedelta
    resolved_after: timedelta | None
    summary: str | None
    actions: tuple[ActionTaken, ...] | None
    # Actions taken but not listed: older than the ones shown, left out to fit.
    earlier_actions: int
    update_every: timedelta
    next_update_at: datetime


async def update_context(
    session: AsyncSession, *, incident_id: int, config: IncidentBotConfig, now: datetime
) -> StatusContext:
    incident = await get_incident(session, incident_id=incident_id)
    policy = config.severity_policy(incident.severity)
    update_every = config.scaled(policy.update_every)
    actions, total = await _actions_taken(session, incident_id=incident_id)
    latest_update = await session.scalar(
        select(TimelineEvent.text)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == EventKind.STATUS_UPDATE.value)
        .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
        .limit(1)
    )
    summary = _summary_of(latest_update) if latest_update else None
    if not summary and incident.summary:
        summary = _keep_lines(incident.summary, limit=SUMMARY_MAX)
    return StatusContext(
        incident_id=incident.id,
        number=incident.number,
        title=clean_text(incident.title, limit=TITLE_MAX) or "Untitled incident",
        service=incident.service,
        severity=incident.severity,
        severity_name=policy.name,
        status=Status(incident.status).label,
        commander=incident.commander,
        declared_at=incident.declared_at,
        age=max(now - incident.declared_at, timedelta(0)),
        resolved_after=(incident.resolved_at - incident.declared_at) if incident.resolved_at else None,
        summary=summary or None,
        actions=actions or None,
        earlier_actions=total - len(actions),
        update_every=update_every,
        next_update_at=now + update_every,
    )


async def _actions_taken(session: AsyncSession, *, incident_id: int) -> tuple[tuple[ActionTaken, ...], int]:
    """The newest actions taken, oldest first, and how many there are in all."""
    taken = (ResponseAction.incident_id == incident_id,
             ResponseAction.state.in_([s.value for s in TAKEN_STATES]))
    total = await session.scalar(select(func.count()).select_from(ResponseAction).where(*taken)) or 0
    rows = (await session.scalars(
        select(ResponseAction).where(*taken)
        .order_by(ResponseAction.requested_at.desc(), ResponseAction.id.desc())
        .limit(ACTIONS_READ_MAX)
    )).all()
    actions = tuple(
        ActionTaken(summary=clean_text(row.summary, limit=ACTION_SUMMARY_MAX) or row.kind, state=row.state,
                    finished_at=row.finished_at)
        for row in reversed(rows)
    )
    return actions, int(total)


_SUMMARY_HEADING = "summary:"


def _summary_of(update: str) -> str | None:
    """The summary part of an earlier update written from this template, else all of it.

    Without this, every draft would quote the whole previous update, headings and all.
    """
    lines = update.splitlines()
    for index, line in enumerate(lines):
        if line.strip().strip("*").lower() == _SUMMARY_HEADING:
            section: list[str] = []
            for following in lines[index + 1:]:
                if not following.strip():
                    break
                section.append(following)
            text = _keep_lines("\n".join(section), limit=SUMMARY_MAX)
            if text and not _is_prompt(text):
                return text
            return None
    return _keep_lines(update, limit=SUMMARY_MAX) or None


def _is_prompt(text: str) -> bool:
    return _PROMPT.fullmatch(text) is not None


def unfilled_prompts(text: str) -> list[str]:
    """The template's prompts still in ``text``, as written there."""
    return _PROMPT.findall(text)


def _keep_lines(text: str, *, limit: int) -> str:
    lines = (clean_text(line) for line in text.splitlines())
    return truncate("\n".join(line for line in lines if line), limit)


# --- rendering ---------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


_UNIT_WORDS = {"d": "day", "h": "hour", "m": "minute", "s": "second"}


def _words(duration: timedelta) -> str:
    """``1h 30m`` as ``1 hour 30 minutes``, the way the seeds' notices say it."""
    parts = []
    for part in format_duration(duration).lstrip("-").split():
        amount, unit = int(part[:-1]), _UNIT_WORDS[part[-1]]
        parts.append(f"{amount} {unit}{'' if amount == 1 else 's'}")
    return " ".join(parts)


def _state(state: str) -> str:
    return state.replace("_", " ")


def _environment() -> jinja2.Environment:
    # Plain text for a text box, not HTML: nothing to escape. StrictUndefined turns a misspelt
    # name in a template into an error rather than a silently empty line.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=False, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    environment.filters.update(words=_words, when=_when, state=_state)
    return environment


_ENVIRONMENT = _environment()


def render_status_update(context: StatusContext, *, limit: int = UPDATE_TEXT_MAX) -> str:
    """The draft of a status update, within ``limit`` characters."""
    return _render_within("status_update.md.j2", context, limit=limit)


def render_resolution(context: StatusContext, *, limit: int = UPDATE_TEXT_MAX,
                      models: tuple[str, ...] = ()) -> str:
    """The draft of the resolution notice, within ``limit`` characters; ``models``: the model
    versions serving at the resolution ("incident-text v1 (rolled back from v2)")."""
    return _render_within("resolution.md.j2", context, limit=limit, models=models)


def render_template(name: str, context: StatusContext, *, limit: int = UPDATE_TEXT_MAX, **values: object) -> str:
    """Another notice from `bot/templates` (the executive summary, the customer draft), with the
    same filters and the same fitting of the actions list within ``limit``."""
    return _render_within(name, context, limit=limit, **values)


def _render_within(name: str, context: StatusContext, *, limit: int, **values: object) -> str:
    template = _ENVIRONMENT.get_template(name)

    def render(shown: int) -> str:
        return template.render(context=_keep_newest(context, shown), **values).strip()

    listed = len(context.actions or ())
    text = render(listed)
    if len(text) > limit and listed:
        text = render(_most_that_fit(render, listed, limit))
    # Titles and summaries are capped, so this only cuts if the limits above change.
    return truncate(text, limit)


def _keep_newest(context: StatusContext, shown: int) -> StatusContext:
    actions = context.actions or ()
    if shown >= len(actions):
        return context
    kept = actions[len(actions) - shown:] if shown else ()
    return replace(context, actions=kept or None, earlier_actions=context.earlier_actions + len(actions) - shown)


def _most_that_fit(render: Callable[[int], str], listed: int, limit: int) -> int:
    """The most actions whose draft fits: a binary search, since a draft grows with its list."""
    low, high = 0, listed
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return low
