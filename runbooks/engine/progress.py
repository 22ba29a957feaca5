"""An incident's checklist as it stands: the steps its record proves are ticked first, then read.

The runbook says which facts of the record show a step done (``done_when``); the checklist core
keeps the ticks and the people's word. Rendering the checklist anywhere starts from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import checklists
from bot.core.record_facts import Proof
from runbooks.engine.schema import Runbook
from storage.models import RunbookStep


@dataclass(frozen=True)
class Progress:
    rows: dict[str, RunbookStep]  # by step id; a step with no row is open
    proofs: dict[str, tuple[Proof, ...]]  # the record's evidence for each step it proves


async def progress(session: AsyncSession, *, incident_id: int, runbook: Runbook, now: datetime) -> Progress:
    """Tick what the record proves, then return every step's state with the proofs."""
    provable = [checklists.ProvableStep(step.id, step.title, step.done_when)
                for _, step in runbook.steps() if step.done_when]
    proofs = await checklists.tick_proven(session, incident_id=incident_id, runbook=runbook.name,
                                          provable=provable, now=now)
    rows = await checklists.steps(session, incident_id=incident_id, runbook=runbook.name)
    return Progress(rows=rows, proofs=proofs)
