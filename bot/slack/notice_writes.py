"""What the NOTICE outbox rows do: fan the resolution notice out, post a notice to one place,
post an approval audience's draft in the incident channel, and deliver an approved notice to
its channel and status page.

Each row renders its notice when it is delivered, from what the database holds then
(`bot.core.notices`). A confidential incident's notice reaches public places as a neutral line.
A status page that is down or busy is retried by the outbox (`RetryLater`); one that refuses the
notice is given up on (`GiveUp`), and the outbox keeps the row's error for the operators.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import IncidentBotConfig
from bot.config.communication import BuiltinAudience, NamedAudience, NoticeTemplate
from bot.core import incidents as core
from bot.core import notices
from bot.core.clock import Clock
from bot.core.delivery import GiveUp, NotReady, RetryLater
from bot.core.notice_queue import AUDIENCE_PREFIX, DRAFT_PREFIX, NoticeKind, Outlet
from bot.core.ports.errors import ProviderError, ProviderRejected
from bot.core.ports.models import ModelControl
from bot.core.ports.notices import StatusPage, StatusPageTarget
from bot.slack import notice_blocks
from bot.slack.channels import NamedChannel
from bot.slack.gateway import SlackGateway
from storage.models import Incident

log = logging.getLogger(__name__)

# How long a notice waits for the worker to say which model versions serve: a notice never
# waits on the worker for long, and leaves the line out instead.
MODEL_READ_SECONDS = 3.0


class NoticeWrites:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], gateway: SlackGateway, clock: Clock,
                 config: IncidentBotConfig, models: ModelControl | None = None,
                 status_page: StatusPage | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._clock = clock
        self._config = config
        self._models = models
        self._status_page = status_page
        self._channels = {name: NamedChannel(gateway, audience.channel)
                          for name, audience in config.communication.audiences.items()}
        # Tokens are read once, at start-up, like every other setting.
        env = environ or {}
        self._tokens = {name: env.get(audience.status_page.token_env) or None
                        for name, audience in config.communication.audiences.items()
                        if audience.status_page is not None and audience.status_page.token_env}

    async def perform(self, _kind: str, payload: dict[str, Any]) -> None:
        if payload.get("fan_out"):
            await self._fan_out(payload)
        elif payload.get("publish"):
            await self._publish(payload)
        else:
            await self._deliver(payload)

    # --- the resolution's fan-out -------------------------------------------------------------

    async def _fan_out(self, payload: dict[str, Any]) -> None:
        async with self._sessions() as session, session.begin():
            await notices.fan_out_resolution(session, incident_id=int(payload["incident_id"]),
                                             resolved_at=str(payload.get("resolved_at") or ""),
                                             config=self._config, now=self._clock())

    # --- one notice to one place --------------------------------------------------------------

    async def _deliver(self, payload: dict[str, Any]) -> None:
        incident_id = int(payload["incident_id"])
        destination = str(payload["destination"])
        notice = NoticeKind(str(payload["notice"]))
        event_id = int(payload["event_id"]) if payload.get("event_id") is not None else None
        async with self._sessions() as session:
            incident = await core.get_incident(session, incident_id=incident_id)
        if destination.startswith(DRAFT_PREFIX):
            await self._post_draft(incident, destination[len(DRAFT_PREFIX):])
            return
        audience = notices.audience_of(self._config, destination)
        if destination.startswith(AUDIENCE_PREFIX) and audience is None:
            raise GiveUp(f"audience {destination!r} is no longer configured")
        template = audience.template if audience is not None else NoticeTemplate.FULL
        live = await self._live_models(incident)
        async with self._sessions() as session:
            text = await notices.compose(session, incident_id=incident_id, notice=notice, template=template,
                                         public=destination != BuiltinAudience.CHANNEL.value, config=self._config,
                                         now=self._clock(), event_id=event_id, live_models=live)
        if text is None:
            return
        heading = "Resolution notice" if notice == NoticeKind.RESOLUTION else "Status update"
        message, blocks = notice_blocks.notice_message(text, heading=heading)
        if destination == BuiltinAudience.CHANNEL.value:
            if not incident.channel_id:
                raise NotReady(f"incident {incident.id} has no channel yet")
            await self._gateway.post(incident.channel_id, text=message, blocks=blocks)
        elif destination == BuiltinAudience.ANNOUNCE.value:
            if not incident.announcement_channel_id or not incident.announcement_ts:
                raise NotReady(f"incident {incident.id} has not been announced yet")
            await self._gateway.post(incident.announcement_channel_id, text=message, blocks=blocks,
                                     thread_ts=incident.announcement_ts)
        elif destination == BuiltinAudience.MANAGERS.value:
            if not incident.escalation_channel_id or not incident.escalation_ts:
                return  # no managers' thread was started: nobody there to tell
            await self._gateway.post(incident.escalation_channel_id, text=message, blocks=blocks,
                                     thread_ts=incident.escalation_ts)
        else:
            await self._channels[destination[len(AUDIENCE_PREFIX):]].post(text=message, blocks=blocks)

    async def _post_draft(self, incident: Incident, name: str) -> None:
        audience = self._config.communication.approval_audiences().get(name)
        if audience is None:
            raise GiveUp(f"approval audience {name!r} is no longer configured")
        if not incident.channel_id:
            raise NotReady(f"incident {incident.id} has no channel yet")
        async with self._sessions() as session:
            draft = await notices.customer_draft(session, incident_id=incident.id, config=self._config,
                                                 now=self._clock())
        text, blocks = notice_blocks.draft_message(incident_id=incident.id, number=incident.number, audience=name,
                                                   draft=draft, status_page=audience.status_page is not None)
        await self._gateway.post(incident.channel_id, text=text, blocks=blocks)

    async def _live_models(self, incident: Incident) -> dict[str, str]:
        """What the worker serves now for the incident's service's models; {} when it cannot say."""
        service = self._config.services.get(incident.service or "")
        if self._models is None or service is None or not service.models:
            return {}
        live: dict[str, str] = {}
        for model in service.models:
            try:
                state = await asyncio.wait_for(self._models.state(model), MODEL_READ_SECONDS)
            except (ProviderError, TimeoutError) as exc:
                log.info("notice: could not read the version of %s: %s", model, exc)
                continue
            if state.serving:
                live[model] = state.serving
        return live

    # --- an approved notice -------------------------------------------------------------------

    async def _publish(self, payload: dict[str, Any]) -> None:
        name = str(payload["audience"])
        audience = self._config.communication.approval_audiences().get(name)
        if audience is None:
            raise GiveUp(f"approval audience {name!r} is no longer configured")
        text = str(payload["text"])
        if Outlet(str(payload["outlet"])) == Outlet.CHANNEL:
            message, blocks = notice_blocks.notice_message(text, heading="Published notice")
            await self._channels[name].post(text=message, blocks=blocks)
            return
        await self._send_to_status_page(name, audience, payload)

    async def _send_to_status_page(self, name: str, audience: NamedAudience, payload: dict[str, Any]) -> None:
        page = audience.status_page
        if page is None or self._status_page is None:
            raise GiveUp(f"audience {name!r} has no status page")
        target = StatusPageTarget(url=str(page.url), token=self._tokens.get(name),
                                  timeout_seconds=page.timeout.total_seconds())
        notice_id = str(payload["publish"])
        body = {"id": notice_id, "status": str(payload.get("status") or "investigating"), "body": str(payload["text"])}
        try:
            await self._status_page.send(target, body=body, idempotency_key=notice_id)
        except ProviderRejected as exc:
            raise GiveUp(exc.message) from exc
        except ProviderError as exc:
            raise RetryLater(exc.message, retry_after=getattr(exc, "retry_after", None)) from exc
