"""Slack messages people put on the timeline: by a 📌 reaction, the shortcut, and edits to them.

One entry per message (the unique ``source_ts``). It remembers who pinned it and whether the
shortcut added it, so taking back one 📌 leaves the entry while another person's 📌, or the
shortcut, still holds it. Files are referenced by id and permalink, never copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.timeline import EventKind, record_event
from storage.models import TimelineEvent

# What the timeline keeps of a captured message; Slack's own limit is 40,000 characters.
CAPTURED_TEXT_MAX = 4000
FILES_MAX = 20
SHORTCUT = "shortcut"


@dataclass(frozen=True)
class CapturedFile:
    id: str
    name: str
    mimetype: str = ""
    permalink: str = ""

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "mimetype": self.mimetype, "permalink": self.permalink}


@dataclass(frozen=True)
class CapturedMessage:
    """The message as Slack described it: who wrote it, when, what it says, what it carries."""

    ts: str
    author: str
    text: str
    files: Sequence[CapturedFile] = field(default_factory=tuple)
    permalink: str = ""

    @property
    def written_at(self) -> datetime | None:
        try:
            return datetime.fromtimestamp(float(self.ts), tz=UTC)
        except (ValueError, OverflowError, OSError):
            return None


def _files_json(files: Sequence[CapturedFile]) -> list[dict[str, str]]:
    return [f.to_json() for f in list(files)[:FILES_MAX]]


def _text(text: str) -> str:
    return text.replace("\x00", "")[:CAPTURED_TEXT_MAX]


async def find_capture(session: AsyncSession, *, incident_id: int, message_ts: str) -> TimelineEvent | None:
    return await session.scalar(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.source_ts == message_ts)
        .execution_options(populate_existing=True)
    )


async def capture(
    session: AsyncSession, *, incident_id: int, message: CapturedMessage, by: str, how: str, now: datetime,
) -> tuple[TimelineEvent, bool]:
    """Put ``message`` on the timeline; ``how`` is "reaction" or "shortcut". Returns (entry, new).

    The entry's time is when the message was written, not when it was pinned: a message
    pinned an hour later still sits where it happened.
    """
    existing = await find_capture(session, incident_id=incident_id, message_ts=message.ts)
    if existing is None:
        data: dict[str, Any] = {
            "author": message.author, "files": _files_json(message.files), "permalink": message.permalink,
            "reactors": [by] if how != SHORTCUT else [], "shortcut_by": by if how == SHORTCUT else None,
            "captured_by": by,
        }
        try:
            async with session.begin_nested():
                event = await record_event(
                    session, incident_id=incident_id, kind=EventKind.CAPTURED, actor=message.author or by,
                    now=message.written_at or now, text=_text(message.text), data=data, announce=False,
                )
                event.source_ts = message.ts
                await session.flush()
            return event, True
        except IntegrityError:
            # Two pins of one message at once: the other made the entry; join it.
            existing = await find_capture(session, incident_id=incident_id, message_ts=message.ts)
            if existing is None:
                raise
    data = dict(existing.data)
    if how == SHORTCUT:
        data["shortcut_by"] = data.get("shortcut_by") or by
    else:
        data["reactors"] = list(dict.fromkeys([*data.get("reactors", []), by]))
    existing.data = data
    await session.flush()
    return existing, False


async def release(session: AsyncSession, *, incident_id: int, message_ts: str, by: str) -> bool:
    """``by`` took back their 📌. Returns True when that removed the entry."""
    existing = await find_capture(session, incident_id=incident_id, message_ts=message_ts)
    if existing is None:
        return False
    reactors = [r for r in existing.data.get("reactors", []) if r != by]
    if reactors or existing.data.get("shortcut_by"):
        existing.data = {**existing.data, "reactors": reactors}
        await session.flush()
        return False
    await session.execute(
        delete(TimelineEvent).where(TimelineEvent.id == existing.id).execution_options(synchronize_session=False)
    )
    session.expunge(existing)
    return True


async def edit(
    session: AsyncSession, *, incident_id: int, message: CapturedMessage, now: datetime,
) -> TimelineEvent | None:
    """A captured message was edited in Slack: the entry follows it. None if it isn't captured."""
    existing = await find_capture(session, incident_id=incident_id, message_ts=message.ts)
    if existing is None:
        return None
    existing.text = _text(message.text)
    existing.data = {**existing.data, "files": _files_json(message.files), "edited_at": now.isoformat()}
    await session.flush()
    return existing
