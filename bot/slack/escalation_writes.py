"""What the escalation outbox rows do in Slack: page, brief, thread, remind, announce.

Like every outbox write, each is safe to repeat. Invites count "already in channel" as done;
the manager thread's parent ts is saved as soon as Slack returns it, so a retried row replies
under the same parent instead of starting a second thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config.durations import format_duration
from bot.config.security import SecurityConfig
from bot.core import incidents as core
from bot.core.clock import Clock
from bot.core.confidential import is_confidential
from bot.core.delivery import NotReady
from bot.core.manager_thread import record_thread_parent
from bot.core.outbox import OutboxKind
from bot.core.ports.pagerduty import OncallDirectory
from bot.core.timeline import EventKind, get_event, latest_event
from bot.slack import confidential_blocks, escalation_blocks
from bot.slack.channels import NamedChannel
from bot.slack.errors import SlackRejected
from bot.slack.gateway import SlackGateway
from bot.slack.oncall_schedules import resolve_schedules
from storage.models import Incident, TimelineEvent

log = logging.getLogger(__name__)

class EscalationWrites:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], gateway: SlackGateway, clock: Clock,
                 escalations_channel: str, severity_names: Mapping[str, str],
                 update_cadence: Mapping[str, timedelta], security: SecurityConfig | None = None,
                 oncall: OncallDirectory | None = None) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._clock = clock
        self._escalations = NamedChannel(gateway, escalations_channel)
        self._severity_names = severity_names
        self._update_cadence = update_cadence
        self._security = security or SecurityConfig()
        self._oncall = oncall  # PagerDuty's on-call, for levels that page schedules

    async def perform(self, kind: str, payload: dict[str, Any]) -> None:
        loaded = await self._load(int(payload["event_id"]))
        if loaded is None:
            return
        event, incident, last_update = loaded
        match OutboxKind(kind):
            case OutboxKind.ESCALATION_PAGE:
                await self.page(event, incident, last_update)
            case OutboxKind.MANAGER_THREAD:
                await self.reply_in_thread(event, incident, last_update)
            case OutboxKind.UPDATE_REMINDER:
                await self.remind(event, incident)
            case OutboxKind.ANNOUNCE_UPDATE:
                await self.announce_update(event, incident)

    async def _load(self, event_id: int) -> tuple[TimelineEvent, Incident, TimelineEvent | None] | None:
        async with self._sessions() as session:
            event = await get_event(session, event_id=event_id)
            if event is None:
                return None
            incident = await core.get_incident(session, incident_id=event.incident_id)
            last_update = await latest_event(session, incident_id=incident.id, kind=EventKind.STATUS_UPDATE)
        return event, incident, last_update

    async def page(self, event: TimelineEvent, incident: Incident, last_update: TimelineEvent | None) -> None:
        """Invite the people paged to the channel, then brief them there with a mention."""
        if not incident.channel_id:
            raise NotReady(f"incident {incident.id} has no channel yet")
        users = list(event.data.get("users", []))
        # Asked now, not when the level was planned: whoever is on call when the page goes out.
        scheduled = await resolve_schedules(event.data.get("schedules", []), directory=self._oncall,
                                            gateway=self._gateway)
        users.extend(scheduled.users)
        for group in event.data.get("usergroups", []):
            try:
                users.extend(await self._gateway.usergroup_members(group))
            except SlackRejected as exc:
                log.warning("could not expand user group %s: %s", group, exc)
        for user in dict.fromkeys(users):
            try:
                await self._gateway.invite(incident.channel_id, user)
            except SlackRejected as exc:  # a deactivated user must not stop the brief
                log.warning("could not invite %s: %s", user, exc)
        text, body = escalation_blocks.brief(incident, event, now=self._clock(), severity_names=self._severity_names,
                                             last_update=last_update, oncall=scheduled.users,
                                             oncall_problems=scheduled.problems)
        await self._gateway.post(incident.channel_id, text=text, blocks=body)

    async def reply_in_thread(self, event: TimelineEvent, incident: Incident,
                              last_update: TimelineEvent | None) -> None:
        parent_ts = incident.escalation_ts or await self._start_thread(incident, last_update)
        if is_confidential(incident, self._security):
            text, body = confidential_blocks.thread_reply(incident, event.kind)
        else:
            text, body = escalation_blocks.thread_reply(event)
        channel = incident.escalation_channel_id or ""
        await self._gateway.post(channel, text=text, blocks=body, thread_ts=parent_ts)
        incident = await self._reload(incident.id)
        await self.refresh_parent(incident, last_update)

    async def _start_thread(self, incident: Incident, last_update: TimelineEvent | None) -> str:
        text, body = self._thread_parent(incident, last_update)
        posted = await self._escalations.post(text=text, blocks=body)
        async with self._sessions() as session, session.begin():
            await record_thread_parent(session, incident_id=incident.id, channel_id=posted.channel_id, ts=posted.ts)
        incident.escalation_channel_id, incident.escalation_ts = posted.channel_id, posted.ts
        return posted.ts

    async def refresh_parent(self, incident: Incident, last_update: TimelineEvent | None) -> None:
        """Edit the thread's parent to the current state; a failure here waits for the next edit."""
        if not incident.escalation_channel_id or not incident.escalation_ts:
            return
        text, body = self._thread_parent(incident, last_update)
        try:
            await self._gateway.update(incident.escalation_channel_id, incident.escalation_ts, text=text, blocks=body)
        except SlackRejected as exc:
            log.warning("could not edit the escalation thread of incident %s: %s", incident.id, exc)

    def _thread_parent(self, incident: Incident, last_update: TimelineEvent | None) -> tuple[str, list[Any]]:
        if is_confidential(incident, self._security):  # managers read it; the channel may not
            return confidential_blocks.thread_parent(incident)
        return escalation_blocks.thread_parent(incident, now=self._clock(), severity_names=self._severity_names,
                                               last_update=last_update)

    async def remind(self, event: TimelineEvent, incident: Incident) -> None:
        if not incident.channel_id:
            raise NotReady(f"incident {incident.id} has no channel yet")
        cadence = self._update_cadence.get(incident.severity)
        text, body = escalation_blocks.update_reminder(
            incident, event, cadence=format_duration(cadence) if cadence else "cadence")
        await self._gateway.post(incident.channel_id, text=text, blocks=body)

    async def announce_update(self, event: TimelineEvent, incident: Incident) -> None:
        if not incident.announcement_channel_id or not incident.announcement_ts:
            raise NotReady(f"incident {incident.id} has not been announced yet")
        if is_confidential(incident, self._security):
            return  # an update's text is for the responders; the announcement stays the neutral line
        text, body = escalation_blocks.announced_update(incident, event)
        await self._gateway.post(incident.announcement_channel_id, text=text, blocks=body,
                                 thread_ts=incident.announcement_ts)

    async def _reload(self, incident_id: int) -> Incident:
        async with self._sessions() as session:
            return await core.get_incident(session, incident_id=incident_id)
