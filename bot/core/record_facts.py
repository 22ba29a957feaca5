"""Facts the incident's record can prove, for runbook steps that tick themselves.

A runbook step names the facts that show it done (``done_when: [acknowledged, joined]``);
each fact is proven by the first timeline event that shows it, with who and when. The record
is append-only, so a proven fact stays proven.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.timeline import EventKind
from storage.models import TimelineEvent


class RecordFact(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    JOINED = "joined"  # a person joined the incident channel
    COMMANDER_ASSIGNED = "commander_assigned"
    STATUS_UPDATE_POSTED = "status_update_posted"
    DIAGNOSED = "diagnosed"  # a Diagnose run reported
    SCALED = "scaled"
    MODEL_ROLLED_BACK = "model_rolled_back"
    DEPLOY_ROLLED_BACK = "deploy_rolled_back"
    CONFIG_ROLLED_BACK = "config_rolled_back"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"

    def told(self, who: str) -> str:
        """The fact in words, about ``who`` (already formatted for where it is shown)."""
        return _TOLD[self].format(who=who)


_TOLD = {
    RecordFact.ACKNOWLEDGED: "acknowledged by {who}", RecordFact.JOINED: "joined by {who}",
    RecordFact.COMMANDER_ASSIGNED: "{who} became commander", RecordFact.STATUS_UPDATE_POSTED: "status update by {who}",
    RecordFact.DIAGNOSED: "Diagnose run by {who}", RecordFact.SCALED: "scaled by {who}",
    RecordFact.MODEL_ROLLED_BACK: "model rolled back by {who}",
    RecordFact.DEPLOY_ROLLED_BACK: "deploy rolled back by {who}",
    RecordFact.CONFIG_ROLLED_BACK: "config rolled back by {who}", RecordFact.MITIGATED: "mitigated by {who}",
    RecordFact.RESOLVED: "resolved by {who}",
}


@dataclass(frozen=True)
class Proof:
    fact: RecordFact
    actor: str
    at: datetime


def _status_to(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: data.get("to") == status


def _took_effect(*kinds: str) -> Callable[[dict[str, Any]], bool]:
    # no_change counts: the service is already as the step wants it (the same rule as a step's button).
    return lambda data: data.get("kind") in kinds and data.get("state") in ("succeeded", "no_change")


def _always(data: dict[str, Any]) -> bool:
    return True


# fact -> (the event kind that shows it, what that event's data must say)
EVIDENCE: Mapping[RecordFact, tuple[EventKind, Callable[[dict[str, Any]], bool]]] = {
    RecordFact.ACKNOWLEDGED: (EventKind.STATUS_CHANGED, _status_to("acknowledged")),
    RecordFact.MITIGATED: (EventKind.STATUS_CHANGED, _status_to("mitigated")),
    RecordFact.RESOLVED: (EventKind.STATUS_CHANGED, _status_to("resolved")),
    RecordFact.JOINED: (EventKind.JOINED, _always),
    RecordFact.COMMANDER_ASSIGNED: (EventKind.ROLE_ASSIGNED, lambda data: data.get("role") == "commander"),
    RecordFact.STATUS_UPDATE_POSTED: (EventKind.STATUS_UPDATE, _always),
    RecordFact.DIAGNOSED: (EventKind.DIAGNOSTIC, _always),
    RecordFact.SCALED: (EventKind.ACTION, _took_effect("scale")),
    RecordFact.MODEL_ROLLED_BACK: (EventKind.ACTION, _took_effect("rollback_model", "load_model")),
    RecordFact.DEPLOY_ROLLED_BACK: (EventKind.ACTION, _took_effect("rollback_deploy")),
    RecordFact.CONFIG_ROLLED_BACK: (EventKind.ACTION, _took_effect("rollback_config")),
}

# Who a fact is about, where that is not the event's actor: the person who became commander.
_SUBJECT = {RecordFact.COMMANDER_ASSIGNED: "user"}


def proofs(events: Iterable[TimelineEvent]) -> dict[RecordFact, Proof]:
    """Every fact the events prove, each by its earliest event."""
    found: dict[RecordFact, Proof] = {}
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id or 0)):
        data = event.data or {}
        for fact, (kind, shows) in EVIDENCE.items():
            if fact in found or event.kind != kind.value or not shows(data):
                continue
            who = data.get(_SUBJECT[fact]) if fact in _SUBJECT else None
            found[fact] = Proof(fact, str(who or event.actor), event.occurred_at)
    return found


def proof_of(facts: Sequence[RecordFact], found: Mapping[RecordFact, Proof]) -> tuple[Proof, ...] | None:
    """The proofs of a step that names ``facts``, when every one of them is proven."""
    if not facts or any(fact not in found for fact in facts):
        return None
    return tuple(found[fact] for fact in facts)
