"""Replay references: what a model version answered for a pinned set of inputs, recorded once.

The Determinism investigation replays a service's pinned inputs; the first replay of a
(model, version, inputs) that agrees with itself is kept here, and every later replay of that
version is compared against it. The first one stored wins, whichever replica or run it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ReplayReference


async def find_reference(session: AsyncSession, *, model: str, version: str,
                         inputs_hash: str) -> ReplayReference | None:
    return await session.scalar(select(ReplayReference).where(
        ReplayReference.model == model, ReplayReference.version == version,
        ReplayReference.inputs_hash == inputs_hash))


async def record_first_reference(session: AsyncSession, *, model: str, version: str, inputs_hash: str,
                                 weights_digest: str, outputs: Sequence[dict[str, Any]], service: str,
                                 incident_number: int | None, now: datetime) -> tuple[ReplayReference, bool]:
    """Store ``outputs`` as the reference unless one is there already; (the reference, whether
    this call recorded it). The caller commits."""
    existing = await find_reference(session, model=model, version=version, inputs_hash=inputs_hash)
    if existing is not None:
        return existing, False
    row = ReplayReference(model=model, version=version, inputs_hash=inputs_hash, weights_digest=weights_digest,
                          input_count=len(outputs), outputs=list(outputs), service=service,
                          incident_number=incident_number, recorded_at=now)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Another run stored its reference first: that one stands. With none there, the insert
        # failed for another reason, and that error is the answer.
        first = await find_reference(session, model=model, version=version, inputs_hash=inputs_hash)
        if first is None:
            raise
        return first, False
    return row, True
