"""Composing a draft: gather the facts, look up related incidents and people's names, render Markdown."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import IncidentBotConfig
from bot.core import postmortems
from bot.core.incidents import get_incident
from bot.core.postmortem import render
from bot.core.postmortem.facts import PostmortemFacts, gather
from bot.core.postmortem.people import PeopleDirectory, people_in
from bot.core.postmortem.related import TextEmbedder, find_related, read_candidates

TEXT_MODEL = "incident-text"


async def compose(
    sessions: async_sessionmaker[AsyncSession], *, incident_id: int, config: IncidentBotConfig,
    embedder: TextEmbedder | None, now: datetime, text_model: str = TEXT_MODEL,
    people: PeopleDirectory | None = None,
) -> tuple[str, PostmortemFacts]:
    """The next draft's Markdown and the facts it was written from. Reads only; stores nothing.

    ``people`` names the Slack ids in the facts; without it (or for ids it cannot name) the
    draft shows ``@U…``. The facts, like the record, keep the ids."""
    async with sessions() as session:
        existing = await postmortems.for_incident(session, incident_id=incident_id)
        number = (existing.current_draft if existing else 0) + 1
        facts = await gather(session, incident_id=incident_id, config=config, now=now, draft_number=number)
        found = None
        if embedder is not None:
            found = await read_candidates(session, incident=await get_incident(session, incident_id=incident_id))
    # The session is closed before the worker is asked: a slow worker must not hold the database.
    if embedder is not None and found is not None:
        related = await find_related(found, embedder=embedder, model=text_model,
                                     limit=config.postmortems.related_max,
                                     min_score=config.postmortems.related_min_score)
        facts = replace(facts, related=related)
    names = await people.display_names(people_in(facts)) if people is not None else {}
    env = render.environment(config.postmortems.template_dir)
    return render.render_markdown(facts, env=env, names=names), facts
