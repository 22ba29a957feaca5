"""The append-only audit log: every attempt to change something, allowed or refused.

Every audit row is written here, so each has the same shape whoever writes it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import AuditEntry


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"
    # The steps of a guarded response action, each its own row.
    INVALID = "invalid"  # refused as asked: unknown target, out of bounds
    REQUESTED = "requested"
    APPROVED = "approved"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    CONFLICT = "conflict"  # someone else's action on the same target came first
    SUPERSEDED = "superseded"  # an emergency stop took the target over while this one verified
    DRY_RUN = "dry_run"


def record_entry(
    session: AsyncSession, *, actor: str, action: str, outcome: Outcome, now: datetime,
    incident_id: int | None = None, detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row to the session's transaction: it commits, or rolls back, with the change."""
    entry = AuditEntry(
        occurred_at=now, actor=actor, action=action, incident_id=incident_id, outcome=outcome.value,
        detail=detail or {},
    )
    session.add(entry)
    return entry


async def record_refusal(
    sessions: async_sessionmaker[AsyncSession], *, actor: str, action: str, now: datetime,
    incident_id: int | None, reason: str, detail: dict[str, Any] | None = None,
) -> None:
    """Refusals roll the change back, so they are written in a transaction of their own."""
    async with sessions() as session, session.begin():
        record_entry(session, actor=actor, action=action, outcome=Outcome.DENIED, now=now, incident_id=incident_id,
                     detail={"reason": reason, **(detail or {})})
