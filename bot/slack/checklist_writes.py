"""What the checklist outbox row does: post or edit the pinned checklist in the incident channel.

The runbook is chosen (``runbooks.engine.choosing``) the first time the checklist is shown,
on the checklist's own lane, so a slow model worker delays neither slash commands nor the
headline. The message ts is saved as soon as Slack returns it, so a retried row edits the
message it posted instead of posting a second one.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import IncidentBotConfig
from bot.core import checklists
from bot.core.alerts import alerts_of
from bot.core.clock import Clock
from bot.core.delivery import NotReady
from bot.core.incidents import get_incident
from bot.slack import checklist_blocks
from bot.slack.errors import SlackRejected
from bot.slack.gateway import SlackGateway
from runbooks.engine.choosing import RunbookChooser
from runbooks.engine.commands import CommandFacts
from runbooks.engine.loader import Library
from runbooks.engine.progress import progress
from storage.models import Incident, IncidentRunbook

log = logging.getLogger(__name__)

# Edits to a message that is gone (deleted by someone) post a fresh checklist instead.
_GONE = {"message_not_found", "cant_update_message", "channel_not_found"}


class ChecklistWrites:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], gateway: SlackGateway, clock: Clock,
                 library: Library, chooser: RunbookChooser, config: IncidentBotConfig | None = None,
                 region: str | None = None) -> None:
        self._sessions = sessions
        self._config = config
        self._region = region  # the bot's own AWS region, when the alarm names none
        self._gateway = gateway
        self._clock = clock
        self._library = library
        self._chooser = chooser

    async def perform(self, kind: str, payload: dict[str, Any]) -> None:
        incident_id = int(payload["incident_id"])
        async with self._sessions() as session:
            incident = await get_incident(session, incident_id=incident_id)
            choice = await checklists.current(session, incident_id=incident_id)
        if not incident.channel_id:
            raise NotReady(f"incident {incident_id} has no channel yet")
        if choice is None:
            choice = await self._chooser.choose(incident_id=incident_id)
        await self._show(incident, choice)

    async def _show(self, incident: Incident, choice: IncidentRunbook) -> None:
        runbook = self._library.get(choice.runbook) if choice.runbook else None
        if runbook is None:
            names = [(name, self._library.runbooks[name].title) for name in self._library.names()]
            if choice.runbook:  # the team's folder no longer has it
                choice.reason = f"The runbook {choice.runbook} is not in the library any more."
            text, blocks = checklist_blocks.no_runbook(incident=incident, choice=choice, names=names)
        else:
            async with self._sessions() as session, session.begin():
                state = await progress(session, incident_id=incident.id, runbook=runbook, now=self._clock())
                facts = await self._command_facts(session, incident)
            text, blocks = checklist_blocks.checklist(incident=incident, runbook=runbook, choice=choice,
                                                      rows=state.rows, proofs=state.proofs, facts=facts)
        channel_id = incident.channel_id or ""
        if choice.message_ts and choice.channel_id:
            try:
                await self._gateway.update(choice.channel_id, choice.message_ts, text=text, blocks=blocks)
                return
            except SlackRejected as exc:
                if exc.code not in _GONE:
                    raise
                log.info("the checklist of incident %s is gone (%s); posting it again", incident.id, exc.code)
        posted = await self._gateway.post(channel_id, text=text, blocks=blocks)
        async with self._sessions() as session, session.begin():
            await checklists.record_message(session, incident_id=incident.id, channel_id=posted.channel_id,
                                            message_ts=posted.ts)
        try:
            await self._gateway.pin(posted.channel_id, posted.ts)
        except SlackRejected as exc:  # a checklist that cannot be pinned is still in the channel
            log.warning("could not pin the checklist of incident %s: %s", incident.id, exc)

    async def _command_facts(self, session: AsyncSession, incident: Incident) -> CommandFacts:
        """What fills in the steps' commands: the service's config, and the first alarm's name and region."""
        name = incident.service
        if self._config is not None and name:
            name = self._config.service_name(name) or name
        service = self._config.services.get(name or "") if self._config is not None else None
        alarm = region = None
        for alert in await alerts_of(session, incident_id=incident.id):
            details = alert.details or {}
            alarm = alarm or (details.get("alarm_name") if isinstance(details.get("alarm_name"), str) else None)
            region = region or (details.get("region") if isinstance(details.get("region"), str) else None)
        return CommandFacts.of(service_name=name, service=service, region=region or self._region, alarm=alarm)
