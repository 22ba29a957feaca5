"""Past incidents like this one: nearest by incident-text embeddings of their titles and timelines.

The worker embeds this incident and the most recent past ones in one call; the nearest by
cosine similarity are listed with their resolution summaries. If the worker cannot answer,
the draft says so rather than listing anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.postmortem.facts import Related, RelatedIncident
from storage.models import Incident, TimelineEvent

CANDIDATES_MAX = 200
TEXT_MAX = 1000
# The words people wrote are what make incidents alike; alert storms would drown them.
_TELLING_KINDS = ("declared", "note", "status_update", "captured", "status_changed")
_EVENTS_PER_INCIDENT = 8


class TextEmbedder(Protocol):
    async def embed(self, texts: list[str], *, model: str = ...) -> tuple[str, list[list[float]]]: ...


class EmbeddingUnavailable(Exception):
    """The embedder could not answer; the message says why, for the draft."""


async def incident_texts(session: AsyncSession, *, incidents: Sequence[Incident]) -> list[str]:
    """What each incident is about: its title, runbook class, resolution, and the first words
    people wrote on its timeline. One query for all of them."""
    telling: dict[int, list[str]] = {incident.id: [] for incident in incidents}
    rows = await session.execute(
        select(TimelineEvent.incident_id, TimelineEvent.text)
        .where(TimelineEvent.incident_id.in_(list(telling)), TimelineEvent.kind.in_(_TELLING_KINDS),
               TimelineEvent.text != "")
        .order_by(TimelineEvent.incident_id, TimelineEvent.occurred_at, TimelineEvent.id))
    for incident_id, text in rows:
        if len(telling[incident_id]) < _EVENTS_PER_INCIDENT:
            telling[incident_id].append(text)
    out = []
    for incident in incidents:
        parts = [incident.title, incident.runbook_class or "", incident.summary or "", *telling[incident.id]]
        joined = "\n".join(dict.fromkeys(" ".join(p.split()) for p in parts if p and p.strip()))
        out.append(joined[:TEXT_MAX])
    return out


async def candidates(session: AsyncSession, *, incident: Incident) -> Sequence[Incident]:
    return (await session.scalars(
        select(Incident).where(Incident.id != incident.id, Incident.declared_at <= incident.declared_at)
        .order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(CANDIDATES_MAX))).all()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@dataclass(frozen=True)
class Candidates:
    """What the lookup needs from the database, read before the worker is asked anything."""

    incident: Incident
    past: tuple[Incident, ...]
    texts: tuple[str, ...]  # this incident's first, then each past one's


async def read_candidates(session: AsyncSession, *, incident: Incident) -> Candidates:
    past = tuple(await candidates(session, incident=incident))
    texts = tuple(await incident_texts(session, incidents=[incident, *past])) if past else ()
    return Candidates(incident=incident, past=past, texts=texts)


async def find_related(
    found: Candidates, *, embedder: TextEmbedder, model: str, limit: int, min_score: float,
) -> Related:
    """Ranks the candidates by the worker's embeddings. Holds no database connection: the
    worker may take seconds, and SQLite's one connection serves every request meanwhile."""
    if limit <= 0:
        return Related()
    if not found.past:
        return Related(model=model)
    texts, past = list(found.texts), found.past
    try:
        version, vectors = await embedder.embed(texts, model=model)
    except EmbeddingUnavailable as exc:
        return Related(unavailable=str(exc), model=model)
    if len(vectors) != len(texts):
        return Related(unavailable=f"{model} answered {len(vectors)} embeddings for {len(texts)} texts", model=model)
    mine, theirs = vectors[0], vectors[1:]
    scored = sorted(((cosine(mine, vector), other) for vector, other in zip(theirs, past, strict=True)),
                    key=lambda pair: (-pair[0], -pair[1].number))
    chosen = [
        RelatedIncident(number=other.number, title=other.title, score=round(score, 3), root_cause=other.summary,
                        channel=other.channel_name, channel_id=other.channel_id,
                        declared_at=other.declared_at)
        for score, other in scored[:limit] if score >= min_score
    ]
    return Related(incidents=tuple(chosen), model=f"{model} {version}")
