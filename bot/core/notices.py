"""Notices for the audiences the seeds name: status updates and the resolution notice, sent to
the incident channel, `#incidents`, the managers' thread and the configured audiences (an
executive summary channel, for one).

Queued, not posted: every destination is one outbox row (kind ``NOTICE``), written in the same
transaction as the change it reports, and rendered when it is delivered from what the database
holds then. The resolution notice is queued as one row that fans out when delivered, because
where it goes depends on the configuration, which the resolve path does not carry; the fan-out
leaves an audit row, so a retried fan-out never queues the notice twice.

A confidential incident's notices reach public places (everything but its own channel) as a
neutral line only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.config.communication import BuiltinAudience, NamedAudience, NoticeTemplate
from bot.core import incidents
from bot.core.actions.kinds import ActionKind, ActionState
from bot.core.audit import Outcome, record_entry
from bot.core.confidential import is_confidential
from bot.core.errors import InvalidInput
from bot.core.lifecycle import Status
from bot.core.notice_queue import AUDIENCE_PREFIX, DRAFT_PREFIX, NoticeKind, queue_notice
from bot.core.notice_texts import impact_phrase, neutral_line, section_of, status_word
from bot.core.status_templates import (
    StatusContext,
    render_resolution,
    render_template,
    unfilled_prompts,
    update_context,
)
from bot.core.text import clean_text, truncate
from bot.core.timeline import EventKind, get_event, latest_event
from storage.models import AuditEntry, Incident, ResponseAction, TimelineEvent

__all__ = [
    "AUDIENCE_PREFIX",
    "DRAFT_PREFIX",
    "FANNED_OUT",
    "NoticeFacts",
    "NoticeKind",
    "compose",
    "customer_draft",
    "fan_out_resolution",
    "post_update",
    "recorded_model_versions",
    "send_update",
]

FANNED_OUT = "notice.resolution"  # the audit action that marks a resolution notice as queued
_MODEL_KINDS = (ActionKind.ROLLBACK_MODEL.value, ActionKind.LOAD_MODEL.value)
_DONE = (ActionState.SUCCEEDED.value, ActionState.NO_CHANGE.value)
LATEST_MAX = 300
# What a posted resolution notice says where the seeds' template asks a person for a fact the
# bot has no record of: posting the question itself would read as news.
TO_FOLLOW = "to follow in the postmortem"


@dataclass(frozen=True)
class NoticeFacts:
    """What a summary may say besides the status context: read from the latest update and the
    actions taken, never invented."""

    impact: str | None
    eta: str | None
    latest: str | None
    models: tuple[str, ...]
    status_word: str
    impact_phrase: str


# --- what the record says ------------------------------------------------------------------


async def recorded_model_versions(session: AsyncSession, *, incident_id: int) -> dict[str, str]:
    """The model versions this incident's rollbacks and loads put in service, by model: offline,
    from the actions' own verified records."""
    rows = (await session.scalars(
        select(ResponseAction).where(ResponseAction.incident_id == incident_id,
                                     ResponseAction.kind.in_(_MODEL_KINDS), ResponseAction.state.in_(_DONE))
        .order_by(ResponseAction.finished_at, ResponseAction.id)
    )).all()
    versions: dict[str, str] = {}
    for row in rows:
        model, version = str(row.after.get("model") or ""), str(row.after.get("version") or "")
        if not model or not version:
            continue
        before = str(row.before.get("version") or "")
        how = "rolled back from" if row.kind == ActionKind.ROLLBACK_MODEL.value else "loaded, replacing"
        versions[model] = f"{model} {version}" + (f" ({how} {before})" if before and before != version else "")
    return versions


def model_lines(recorded: Mapping[str, str], live: Mapping[str, str], models: Sequence[str]) -> tuple[str, ...]:
    """A line per model of the service: its recorded version, else what the worker serves now."""
    lines = dict(recorded)
    for model in models:
        if model not in lines and live.get(model):
            lines[model] = f"{model} {live[model]}"
    return tuple(lines.values())


async def facts_for(session: AsyncSession, *, incident: Incident, config: IncidentBotConfig,
                    live_models: Mapping[str, str], update: TimelineEvent | None = None) -> NoticeFacts:
    latest = update or await latest_event(session, incident_id=incident.id, kind=EventKind.STATUS_UPDATE)
    text = latest.text if latest is not None else ""
    service = config.service(incident.service) if incident.service else None
    recorded = await recorded_model_versions(session, incident_id=incident.id)
    first_line = next((clean_text(line) for line in text.splitlines() if line.strip()), "")
    templated = section_of(text, "Summary") is not None or section_of(text, "Impact") is not None
    return NoticeFacts(
        impact=section_of(text, "Impact"),
        eta=section_of(text, "Expected Resolution"),
        latest=(section_of(text, "Summary") if templated else truncate(first_line, LATEST_MAX)) or None,
        models=model_lines(recorded, live_models, service.models if service else ()),
        status_word=status_word(incident.status),
        impact_phrase=impact_phrase(incident.severity),
    )


# --- composing -----------------------------------------------------------------------------


def settle_prompts(text: str) -> str:
    """The resolution draft as posted: each prompt the bot cannot fill says where it will be."""
    for prompt in unfilled_prompts(text):
        text = text.replace(prompt, TO_FOLLOW[0].upper() + TO_FOLLOW[1:] + ".")
    return text


async def compose(session: AsyncSession, *, incident_id: int, notice: NoticeKind, template: NoticeTemplate,
                  public: bool, config: IncidentBotConfig, now: datetime, event_id: int | None = None,
                  live_models: Mapping[str, str] | None = None) -> str | None:
    """The text of one notice for one destination; None when there is nothing to post (the
    update is gone, or the incident was reopened before its resolution notice went out)."""
    incident = await incidents.get_incident(session, incident_id=incident_id)
    event = await get_event(session, event_id=event_id) if event_id is not None else None
    if notice == NoticeKind.UPDATE and event is None:
        return None
    if notice == NoticeKind.RESOLUTION and incident.resolved_at is None:
        return None
    if notice == NoticeKind.UPDATE and template == NoticeTemplate.EXECUTIVE and incident.resolved_at is not None:
        return None  # a summary is of the incident as it is now: the resolution's own summary follows
    if public and is_confidential(incident, config):
        return neutral_line(number=incident.number, status=incident.status,
                            resolved=notice == NoticeKind.RESOLUTION)
    context = await update_context(session, incident_id=incident_id, config=config, now=now)
    facts = await facts_for(session, incident=incident, config=config, live_models=live_models or {},
                            update=event if notice == NoticeKind.UPDATE else None)
    if template == NoticeTemplate.EXECUTIVE:
        return render_template("executive.md.j2", context, facts=facts)
    if notice == NoticeKind.UPDATE:
        assert event is not None
        return event.text
    return settle_prompts(render_resolution(_resolved_summary(context, incident), models=facts.models))


def _resolved_summary(context: StatusContext, incident: Incident) -> StatusContext:
    """The resolve's own summary, when one was given, is the freshest word on the incident."""
    if not incident.summary:
        return context
    return replace(context, summary=clean_text(incident.summary, limit=1200))


async def customer_draft(session: AsyncSession, *, incident_id: int, config: IncidentBotConfig,
                         now: datetime) -> str:
    """The status page draft for the incident as it stands (the customer template), prompts and all."""
    incident = await incidents.get_incident(session, incident_id=incident_id)
    context = await update_context(session, incident_id=incident_id, config=config, now=now)
    facts = await facts_for(session, incident=incident, config=config, live_models={})
    return render_template("customer.md.j2", context, facts=facts)


# --- status updates ------------------------------------------------------------------------


def check_audiences(config: IncidentBotConfig, names: Sequence[str]) -> tuple[str, ...]:
    """The named audiences asked for, each one that may get an update directly; refuses others."""
    direct = config.communication.direct()
    chosen = tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    unknown = [name for name in chosen if name not in direct]
    if unknown:
        approval = [name for name in unknown if name in config.communication.audiences]
        if approval:
            raise InvalidInput(f"{', '.join(approval)} needs a second person's approval: use "
                               f"`/incident notify {approval[0]}` instead.")
        known = ", ".join(sorted(direct)) or "none are configured under communication.audiences"
        raise InvalidInput(f"Unknown audience {unknown[0][:40]!r} (audiences: {known}).")
    return chosen


async def send_update(session: AsyncSession, *, incident_id: int, audiences: Sequence[str],
                      config: IncidentBotConfig, now: datetime) -> tuple[str, ...]:
    """Send the incident's latest status update to ``audiences`` as well, and note on the update
    where it went, so the resolution notice goes there too."""
    chosen = check_audiences(config, audiences)
    event = await latest_event(session, incident_id=incident_id, kind=EventKind.STATUS_UPDATE)
    if event is None or not chosen:
        return ()
    event.data = {**event.data, "audiences": list(chosen)}
    await session.flush()
    for name in chosen:
        await queue_notice(session, incident_id=incident_id, notice=NoticeKind.UPDATE,
                           destination=AUDIENCE_PREFIX + name, now=now, event_id=event.id)
    return chosen


async def post_update(session: AsyncSession, *, incident_id: int, text: str, actor: str, now: datetime,
                      config: IncidentBotConfig, audiences: Sequence[str] | None = None) -> Incident:
    """A status update to the built-in audiences and to ``audiences`` (None: the configured
    defaults for the incident's severity)."""
    incident = await incidents.post_status_update(session, incident_id=incident_id, text=text, actor=actor, now=now)
    chosen = config.communication.defaults_for(incident.severity) if audiences is None else audiences
    await send_update(session, incident_id=incident_id, audiences=chosen, config=config, now=now)
    return incident


# --- the resolution notice -----------------------------------------------------------------


async def fan_out_resolution(session: AsyncSession, *, incident_id: int, resolved_at: str,
                             config: IncidentBotConfig, now: datetime) -> list[str]:
    """Queue the resolution notice for each destination; [] if it was queued already for this
    resolution, or the incident is no longer resolved, or notices are off."""
    incident = await incidents.get_incident(session, incident_id=incident_id)
    if not config.communication.resolution_notice or Status(incident.status) != Status.RESOLVED:
        return []
    if await _fanned_out(session, incident_id=incident_id, resolved_at=resolved_at):
        return []
    destinations = [BuiltinAudience.CHANNEL.value, BuiltinAudience.ANNOUNCE.value]
    if incident.escalated_at is not None:
        destinations.append(BuiltinAudience.MANAGERS.value)
    destinations += [AUDIENCE_PREFIX + name for name in await resolution_audiences(session, incident=incident,
                                                                                    config=config)]
    if not is_confidential(incident, config):
        # The approval audiences (the customer notice) get a draft in the incident channel, for
        # someone to edit and a second person to approve; a confidential incident gets none.
        destinations += [DRAFT_PREFIX + name for name in config.communication.approval_audiences()]
    for destination in destinations:
        await queue_notice(session, incident_id=incident_id, notice=NoticeKind.RESOLUTION, destination=destination,
                           now=now)
    record_entry(session, actor="system", action=FANNED_OUT, outcome=Outcome.OK, now=now, incident_id=incident_id,
                 detail={"resolved_at": resolved_at, "destinations": destinations})
    return destinations


async def resolution_audiences(session: AsyncSession, *, incident: Incident,
                               config: IncidentBotConfig) -> list[str]:
    """Where the updates went, and the audiences that want every resolution or this severity's."""
    direct = config.communication.direct()
    updates = (await session.scalars(
        select(TimelineEvent.data).where(TimelineEvent.incident_id == incident.id,
                                         TimelineEvent.kind == EventKind.STATUS_UPDATE.value)
    )).all()
    went = {str(name) for data in updates for name in (data or {}).get("audiences", [])}
    return [name for name, audience in direct.items()
            if name in went or audience.on_resolve or audience.default_for(incident.severity)]


async def _fanned_out(session: AsyncSession, *, incident_id: int, resolved_at: str) -> bool:
    marks = (await session.scalars(
        select(AuditEntry.detail).where(AuditEntry.incident_id == incident_id, AuditEntry.action == FANNED_OUT)
    )).all()
    return any((detail or {}).get("resolved_at") == resolved_at for detail in marks)


def audience_of(config: IncidentBotConfig, destination: str) -> NamedAudience | None:
    if not destination.startswith(AUDIENCE_PREFIX):
        return None
    return config.communication.audiences.get(destination[len(AUDIENCE_PREFIX):])
