"""`incident-bot postmortem export`: a stored draft as Markdown, or as an HTML page."""

from __future__ import annotations

from sqlalchemy import select

from bot.config import IncidentBotConfig
from bot.core import postmortems
from bot.core.postmortem import render
from storage.db import create_engine_for, session_factory
from storage.models import Incident, PostmortemReview

FORMATS = ("md", "html")


class ExportError(Exception):
    """Nothing to export as asked; the message says what there is."""


async def export(*, database_url: str, number: int, fmt: str, config: IncidentBotConfig,
                 draft: int | None = None) -> str:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use md or html")
    engine = create_engine_for(database_url)
    try:
        async with session_factory(engine)() as session:
            incident = await session.scalar(select(Incident).where(Incident.number == number))
            if incident is None:
                raise ExportError(f"there is no incident #{number}")
            postmortem = await postmortems.for_incident(session, incident_id=incident.id)
            chosen = None
            if postmortem is not None:
                wanted = draft or postmortem.current_draft
                chosen = await postmortems.draft_number(session, postmortem_id=postmortem.id, number=wanted)
            record = await postmortems.reviews(session, postmortem_id=postmortem.id) if postmortem else ()
            state = postmortem.state if postmortem else ""
            if postmortem is not None and chosen is not None and chosen.number != postmortem.current_draft:
                state = f"superseded by v{postmortem.current_draft}"
            if chosen is None:
                count = postmortem.current_draft if postmortem else 0
                having = f" (it has v1 to v{count})" if count else ""
                what = f"draft v{draft}" if draft else "a postmortem draft"
                raise ExportError(f"incident #{number} has no {what}{having}; resolve it, or run "
                                  "`/incident postmortem` in its channel")
    finally:
        await engine.dispose()
    text = chosen.markdown + review_record(chosen.number, state, [r for r in record if r.draft_number == chosen.number])
    if fmt == "md":
        return text
    env = render.environment(config.postmortems.template_dir)
    title = f"Postmortem: incident #{number} (draft v{chosen.number})"
    return render.render_html(text, title=title, env=env)


def review_record(number: int, state: str, reviews: list[PostmortemReview]) -> str:
    """The draft was written before anyone reviewed it; the export adds how the review went."""
    lines = [f"\n## Review Record (at export)\n\nDraft v{number}: {state.replace('_', ' ') or 'draft'}.\n"]
    if not reviews:
        lines.append("No reviews of this draft yet.\n")
    for review in reviews:
        said = "approved" if review.decision == "approved" else "requested changes"
        comment = f": {render.md(review.comment)}" if review.comment else ""
        lines.append(f"- {render.person(review.reviewer)} {said} on {render.when(review.decided_at)}{comment}\n")
    return "".join(lines)
