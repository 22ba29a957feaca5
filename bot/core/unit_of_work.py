"""Running one audited change: a transaction, its audit entry, and a nudge to the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.audit import Outcome, record_entry, record_refusal
from bot.core.clock import Clock, utc_now
from bot.core.errors import CoreError

T = TypeVar("T")


def _no_op() -> None:
    return None


@dataclass(frozen=True)
class Core:
    """What the core needs from the application: a database, a clock, and an outbox nudge."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = utc_now
    # Called after a commit that queued Slack writes, so they go out now rather than at the
    # next poll.
    outbox_ready: Callable[[], None] = field(default=_no_op)

    async def change(
        self,
        *,
        actor: str,
        action: str,
        incident_id: int | None,
        apply: Callable[[AsyncSession, datetime], Awaitable[T]],
        detail: dict[str, Any] | None = None,
    ) -> T:
        """Run ``apply`` in one transaction and audit it, refused or done."""
        now = self.clock()
        try:
            async with self.sessions() as session, session.begin():
                result = await apply(session, now)
                audited_id = incident_id if incident_id is not None else getattr(result, "id", None)
                record_entry(session, actor=actor, action=action, outcome=Outcome.OK, now=now,
                             incident_id=audited_id, detail=detail)
        except CoreError as exc:
            await record_refusal(
                self.sessions, actor=actor, action=action, now=now, incident_id=incident_id,
                reason=str(exc), detail=detail,
            )
            raise
        self.outbox_ready()
        return result

    async def read(self, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.sessions() as session:
            return await query(session)
