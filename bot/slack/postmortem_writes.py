"""What the postmortem outbox rows do: compose and keep a draft, post it, keep its message current.

Each step is saved as soon as it is done (the draft, the uploaded file's id, the message's ts),
so a retried row picks up where the last try stopped. A refusal from Slack is told in the
channel and kept on the postmortem; `/incident postmortem` tries again. Resolving never waits
on any of this: the resolve only queued the row.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import IncidentBotConfig
from bot.core import postmortems
from bot.core.clock import Clock
from bot.core.delivery import GiveUp, NotReady
from bot.core.incidents import get_incident
from bot.core.outbox import OutboxKind
from bot.core.postmortem.compose import compose
from bot.core.postmortem.prompts import unfilled_prompts
from bot.core.postmortem.related import TextEmbedder
from bot.core.postmortems import PostmortemState
from bot.slack import postmortem_blocks
from bot.slack.errors import SlackRejected, SlackUnavailable
from bot.slack.gateway import SlackGateway
from storage.models import PostmortemDraft

log = logging.getLogger(__name__)

class PostmortemWrites:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], gateway: SlackGateway, clock: Clock,
                 config: IncidentBotConfig, embedder: TextEmbedder | None) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._clock = clock
        self._config = config
        self._embedder = embedder

    async def perform(self, kind: str, payload: dict[str, Any]) -> None:
        match OutboxKind(kind):
            case OutboxKind.POSTMORTEM_DRAFT:
                await self.draft_and_post(payload)
            case OutboxKind.POSTMORTEM_MESSAGE:
                await self.refresh_message(int(payload["postmortem_id"]))

    async def draft_and_post(self, payload: dict[str, Any]) -> None:
        incident_id = int(payload["incident_id"])
        draft = await self._draft(incident_id, payload)
        try:
            await self._post(incident_id, draft)
        except SlackUnavailable as exc:
            await self._note_error(incident_id, str(exc))
            raise
        except SlackRejected as exc:
            await self._report(incident_id, draft.number, str(exc))
            raise GiveUp(str(exc)) from exc

    async def _draft(self, incident_id: int, payload: dict[str, Any]) -> PostmortemDraft:
        request_id = str(payload["request_id"])
        async with self._sessions() as session:
            made = await postmortems.draft_for_request(session, request_id=request_id)
        if made is not None:
            return made
        now = self._clock()
        try:
            markdown, facts = await compose(self._sessions, incident_id=incident_id, config=self._config,
                                            embedder=self._embedder, now=now, people=self._gateway)
        except Exception as exc:  # a draft that cannot be written is told, never fatal
            log.exception("could not compose the postmortem of incident %s", incident_id)
            await self._report(incident_id, None, f"the draft could not be written ({exc.__class__.__name__}: {exc})")
            raise GiveUp(f"postmortem draft: {exc}") from exc
        async with self._sessions() as session, session.begin():
            return await postmortems.store_draft(
                session, incident_id=incident_id, request_id=request_id, reason=str(payload.get("reason") or ""),
                actor=str(payload.get("actor") or postmortems.BOT_ACTOR), markdown=markdown,
                facts=facts.summary_numbers(), now=now)

    async def _post(self, incident_id: int, draft: PostmortemDraft) -> None:
        async with self._sessions() as session:
            incident = await get_incident(session, incident_id=incident_id)
            postmortem = await postmortems.get(session, postmortem_id=draft.postmortem_id)
        if not incident.channel_id:
            raise NotReady(f"incident {incident_id} has no channel yet")
        if postmortem.current_draft != draft.number:
            return  # a newer draft was asked for meanwhile; its own row posts it
        file_id = draft.file_id
        if not file_id:
            file_id = await self._gateway.upload_file(
                incident.channel_id, filename=f"postmortem-incident-{incident.number}-v{draft.number}.md",
                content=draft.markdown.encode("utf-8"), title=f"Postmortem draft v{draft.number}: #{incident.number}",
                comment=f"📝 Postmortem draft v{draft.number} for incident #{incident.number}")
            async with self._sessions() as session, session.begin():
                await postmortems.save_file(session, draft_id=draft.id, file_id=file_id)
        now = self._clock()
        async with self._sessions() as session:
            reviews = await postmortems.reviews(session, postmortem_id=postmortem.id)
        # The message goes in after the file, so the buttons sit under the draft they judge.
        shown = PostmortemState.IN_REVIEW if postmortem.state == PostmortemState.DRAFT else None
        text, blocks = postmortem_blocks.draft_message(
            incident=incident, postmortem=postmortem, draft=draft, reviews=reviews,
            approvals_required=self._config.postmortems.approvals_required, state=shown,
            prompts=unfilled_prompts(draft.markdown), unfilled=self._config.postmortems.unfilled_prompts)
        if postmortem.message_ts and postmortem.channel_id:
            await self._gateway.update(postmortem.channel_id, postmortem.message_ts, text=text, blocks=blocks)
            channel_id, ts = postmortem.channel_id, postmortem.message_ts
        else:
            posted = await self._gateway.post(incident.channel_id, text=text, blocks=blocks)
            channel_id, ts = posted.channel_id, posted.ts
        async with self._sessions() as session, session.begin():
            await postmortems.record_posted(session, draft=draft, channel_id=channel_id, message_ts=ts,
                                            file_id=file_id, now=now,
                                            review_within=self._config.scaled(self._config.postmortems.review_within))

    async def refresh_message(self, postmortem_id: int) -> None:
        async with self._sessions() as session:
            postmortem = await postmortems.get(session, postmortem_id=postmortem_id)
            if not postmortem.message_ts or not postmortem.channel_id or postmortem.posted_draft is None:
                return
            draft = await postmortems.draft_number(session, postmortem_id=postmortem_id,
                                                   number=postmortem.posted_draft)
            incident = await get_incident(session, incident_id=postmortem.incident_id)
            reviews = await postmortems.reviews(session, postmortem_id=postmortem_id)
        if draft is None:
            return
        text, blocks = postmortem_blocks.draft_message(
            incident=incident, postmortem=postmortem, draft=draft, reviews=reviews,
            approvals_required=self._config.postmortems.approvals_required,
            prompts=unfilled_prompts(draft.markdown), unfilled=self._config.postmortems.unfilled_prompts)
        await self._gateway.update(postmortem.channel_id, postmortem.message_ts, text=text, blocks=blocks)

    async def _note_error(self, incident_id: int, error: str) -> None:
        async with self._sessions() as session, session.begin():
            await postmortems.note_post_error(session, incident_id=incident_id, error=error, now=self._clock())

    async def _report(self, incident_id: int, draft_number: int | None, error: str) -> None:
        async with self._sessions() as session, session.begin():
            await postmortems.record_post_failure(session, incident_id=incident_id, draft_number=draft_number,
                                                  error=error, now=self._clock())
