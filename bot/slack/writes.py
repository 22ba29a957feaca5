"""What each kind of outbox row does in Slack.

Every write is safe to repeat: a step that already happened is recognised (the channel id,
headline ts and announcement ts are saved as soon as Slack returns them; "already in channel"
and "already pinned" count as done), so a row retried after a failure or a crash finishes the
job without doubling it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config.security import SecurityConfig
from bot.core import incident_budgets
from bot.core import incidents as core
from bot.core.actions import store as actions
from bot.core.actions.kinds import ActionState
from bot.core.clock import Clock
from bot.core.confidential import is_confidential
from bot.core.delivery import NotReady
from bot.core.ingest import (
    alert_stats,
    alerts_active_since,
    mark_summarized,
    unsummarized_alert_events,
)
from bot.core.outbox import OutboxKind, enqueue_headline_refresh
from bot.core.text import TOPIC_MAX, display_title, incident_channel_name, truncate
from bot.core.timeline import get_event
from bot.slack import action_blocks, blocks, confidential_blocks
from bot.slack.channels import NamedChannel
from bot.slack.errors import ChannelNameTaken, SlackRejected
from bot.slack.gateway import CreatedChannel, SlackGateway
from storage.models import Incident

log = logging.getLogger(__name__)

_NAME_ATTEMPTS = 20
# A storm is over once no alert has come for this long.
STORM_QUIET = timedelta(seconds=2)


@dataclass(frozen=True)
class SlackWorkspaceConfig:
    """The parts of the configuration that Slack writes need."""

    announce_channel: str
    oncall_users: tuple[str, ...]
    oncall_usergroups: tuple[str, ...]
    severity_names: Mapping[str, str]
    summary_every: timedelta = timedelta(seconds=5)
    # Which action buttons each service's incidents get on their headline.
    service_actions: Mapping[str, blocks.ActionButtons] = field(default_factory=dict)
    # Which incidents are confidential, and who responds to them (private channel, neutral announcement).
    security: SecurityConfig = field(default_factory=SecurityConfig)


class SlackWrites:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], gateway: SlackGateway,
        workspace: SlackWorkspaceConfig, clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._workspace = workspace
        self._clock = clock
        self._announce_channel = NamedChannel(gateway, workspace.announce_channel)

    async def perform(self, kind: str, payload: dict[str, Any]) -> None:
        match OutboxKind(kind):
            case OutboxKind.ALERT_SUMMARY:
                await self.post_alert_summary(int(payload["incident_id"]))
            case OutboxKind.PROVISION_CHANNEL:
                await self.provision_channel(int(payload["incident_id"]))
            case OutboxKind.REFRESH_HEADLINE:
                await self.refresh_headline(int(payload["incident_id"]))
            case OutboxKind.POST_TIMELINE_EVENT:
                await self.post_timeline_event(int(payload["event_id"]))
            case OutboxKind.ACTION_MESSAGE:
                await self.post_action_message(int(payload["action_id"]))

    async def _load(self, incident_id: int) -> Incident:
        async with self._sessions() as session:
            return await core.get_incident(session, incident_id=incident_id)

    async def provision_channel(self, incident_id: int) -> None:
        incident = await self._load(incident_id)
        if not incident.channel_id:
            created = await self._create_channel(incident, private=self._confidential(incident))
            async with self._sessions() as session, session.begin():
                await core.record_slack_channel(
                    session, incident_id=incident_id, channel_id=created.id, channel_name=created.name
                )
            incident = await self._load(incident_id)
        channel_id = incident.channel_id
        assert channel_id is not None
        await self._invite_responders(channel_id, incident)
        await self._best_effort(self._gateway.set_topic(channel_id, self._topic(incident)), "set the topic")
        if not incident.headline_ts:
            posted = await self._gateway.post(channel_id, text=blocks.incident_fallback_text(incident),
                                              blocks=await self._headline_blocks(incident))
            async with self._sessions() as session, session.begin():
                await core.record_headline(session, incident_id=incident_id, headline_ts=posted.ts)
            incident = await self._load(incident_id)
        assert incident.headline_ts is not None
        await self._best_effort(self._gateway.pin(channel_id, incident.headline_ts), "pin the headline")
        if not incident.announcement_ts:
            await self._announce(incident)

    def _confidential(self, incident: Incident) -> bool:
        return is_confidential(incident, self._workspace.security)

    async def _create_channel(self, incident: Incident, *, private: bool = False) -> CreatedChannel:
        # A private channel's name still shows in its members' sidebars and in links: no title in it.
        title = confidential_blocks.channel_title() if private else incident.title
        for attempt in range(_NAME_ATTEMPTS):
            name = incident_channel_name(
                declared_at=incident.declared_at, number=incident.number, title=title, attempt=attempt
            )
            # Claimed before Slack is asked: a try cut off between Slack's answer and the record
            # of it (the bot killed) left this name behind, and the next try adopts the channel
            # it made instead of opening a second one under the next name.
            claimed_before = incident.channel_name == name
            if not claimed_before:
                async with self._sessions() as session, session.begin():
                    await core.claim_channel_name(session, incident_id=incident.id, channel_name=name)
            try:
                return await self._gateway.create_channel(name, is_private=private)
            except ChannelNameTaken:
                if claimed_before and (found := await self._gateway.find_channel(name, private=private)) is not None:
                    log.info("incident %s: adopting channel %s, made by a try that was cut off", incident.id, name)
                    return CreatedChannel(id=found, name=name)
                continue
        raise SlackRejected("conversations.create", f"name_taken after {_NAME_ATTEMPTS} tries")

    def _topic(self, incident: Incident) -> str:
        if self._confidential(incident):
            return confidential_blocks.channel_topic(incident)
        text = f"Incident #{incident.number} · {incident.severity} · {display_title(incident.title)}"
        return truncate(text + " · status in the pinned headline", TOPIC_MAX)

    async def _invite_responders(self, channel_id: str, incident: Incident) -> None:
        users = [incident.declared_by, *self._workspace.oncall_users]
        groups = self._workspace.oncall_usergroups
        if self._confidential(incident):
            # Only the security responders and the people named on the incident: not the general on-call.
            responders = self._workspace.security.responders
            users = [incident.declared_by, *(incident.commander or "",), *responders.users]
            groups = responders.usergroups
        for group in groups:
            try:
                users.extend(await self._gateway.usergroup_members(group))
            except SlackRejected as exc:
                log.warning("could not expand on-call user group %s: %s", group, exc)
        for user in dict.fromkeys(u for u in users if u and u[0] in "UW"):
            await self._best_effort(self._gateway.invite(channel_id, user), f"invite {user}")

    async def _best_effort(self, call: Any, what: str) -> None:
        """Refusals of side steps (a deactivated on-call user) must not block the headline."""
        try:
            await call
        except SlackRejected as exc:
            log.warning("could not %s: %s", what, exc)

    async def _announce(self, incident: Incident) -> None:
        text, body = self._announcement(incident)
        posted = await self._announce_channel.post(text=text, blocks=body)
        async with self._sessions() as session, session.begin():
            await core.record_announcement(session, incident_id=incident.id, channel_id=posted.channel_id, ts=posted.ts)

    def _announcement(self, incident: Incident) -> tuple[str, list[dict[str, Any]]]:
        """The line in the announce channel: neutral for a confidential incident (no title, no service)."""
        if self._confidential(incident):
            return confidential_blocks.announcement_text(incident), confidential_blocks.announcement(incident)
        return (blocks.announcement_text(incident),
                blocks.announcement(incident, severity_names=self._workspace.severity_names))

    async def _headline_blocks(self, incident: Incident) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            roles = await core.current_roles(session, incident_id=incident.id)
            counts = blocks.AlertCounts(*await alert_stats(session, incident_id=incident.id))
            budget = await incident_budgets.for_incident(session, incident_id=incident.id)
        return blocks.headline(incident, now=self._clock(), severity_names=self._workspace.severity_names,
                               roles=roles, alerts=counts, actions=self._action_buttons(incident),
                               budget=incident_budgets.describe(budget) if budget is not None else None)

    def _action_buttons(self, incident: Incident) -> blocks.ActionButtons:
        by_service = self._workspace.service_actions
        if incident.service and incident.service in by_service:
            return by_service[incident.service]
        # Without a service of its own, an incident offers what the only configured service can do.
        return next(iter(by_service.values())) if len(by_service) == 1 else blocks.ActionButtons()

    async def post_action_message(self, action_id: int) -> None:
        """Post the action's message the first time, and edit that same message afterwards."""
        async with self._sessions() as session:
            action = await actions.find_action(session, action_id=action_id)
        if action is None:
            return
        if action.message_ts is None and action.state in (ActionState.PROPOSED, ActionState.CANCELLED):
            return  # a proposal is private to its requester until confirmed
        incident = await self._load(action.incident_id)
        if not incident.channel_id:
            raise NotReady(f"incident {incident.id} has no channel yet")
        text, body = action_blocks.action_message(action)
        if action.message_ts:
            await self._gateway.update(incident.channel_id, action.message_ts, text=text, blocks=body)
            return
        posted = await self._gateway.post(incident.channel_id, text=text, blocks=body)
        async with self._sessions() as session, session.begin():
            await actions.record_message(session, action_id=action_id, channel_id=posted.channel_id,
                                         message_ts=posted.ts)

    async def post_alert_summary(self, incident_id: int) -> None:
        incident = await self._load(incident_id)
        if not incident.channel_id:
            raise NotReady(f"incident {incident_id} has no channel yet")
        async with self._sessions() as session:
            events = list(await unsummarized_alert_events(session, incident_id=incident_id))
        if not events:
            return
        seconds = (self._clock() - events[0].occurred_at).total_seconds()
        top = Counter(event.text for event in events).most_common(3)
        text, body = blocks.alert_summary(count=len(events), seconds=seconds, top=top)
        await self._gateway.post(incident.channel_id, text=text, blocks=body)
        async with self._sessions() as session, session.begin():
            await mark_summarized(session, incident_id=incident_id, event_ids=[e.id for e in events],
                                  now=self._clock(), follow_up=self._workspace.summary_every)

    async def refresh_headline(self, incident_id: int) -> None:
        incident = await self._load(incident_id)
        if not incident.channel_id or not incident.headline_ts:
            raise NotReady(f"incident {incident_id} has no headline yet")
        await self._gateway.update(
            incident.channel_id, incident.headline_ts, text=blocks.incident_fallback_text(incident),
            blocks=await self._headline_blocks(incident),
        )
        if incident.announcement_channel_id and incident.announcement_ts:
            text, body = self._announcement(incident)
            await self._gateway.update(incident.announcement_channel_id, incident.announcement_ts,
                                       text=text, blocks=body)
        await self._follow_storm(incident_id)

    async def _follow_storm(self, incident_id: int) -> None:
        """While alerts keep arriving, look again shortly: some were still committing just now."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            if await alerts_active_since(session, incident_id=incident_id, since=now - STORM_QUIET):
                await enqueue_headline_refresh(session, incident_id=incident_id, now=now,
                                               not_before=now + STORM_QUIET / 2)

    async def post_timeline_event(self, event_id: int) -> None:
        async with self._sessions() as session:
            event = await get_event(session, event_id=event_id)
            if event is None:
                return
            incident = await core.get_incident(session, incident_id=event.incident_id)
        if not incident.channel_id:
            raise NotReady(f"incident {incident.id} has no channel yet")
        text, body = blocks.timeline_event_message(event, incident)
        await self._gateway.post(incident.channel_id, text=text, blocks=body)
