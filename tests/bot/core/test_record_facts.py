"""What the incident's record proves: the facts a runbook step's ``done_when`` names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.record_facts import Proof, RecordFact, proof_of, proofs
from bot.core.timeline import EVIDENCE_KINDS
from storage.models import TimelineEvent

T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def event(event_kind: str, minute: int, /, actor: str = "U0ALICE", **data: object) -> TimelineEvent:
    return TimelineEvent(incident_id=1, occurred_at=T0 + timedelta(minutes=minute), kind=event_kind, actor=actor,
                         text="", data=dict(data))


def test_acknowledged_and_joined_prove_the_first_step_with_who_and_when() -> None:
    record = [event("declared", 0, actor="U0BOB"),
              event("status_changed", 2, **{"from": "triggered", "to": "acknowledged"}),
              event("joined", 3, actor="U0CAROL")]
    shown = proof_of((RecordFact.ACKNOWLEDGED, RecordFact.JOINED), proofs(record))
    assert shown == (Proof(RecordFact.ACKNOWLEDGED, "U0ALICE", T0 + timedelta(minutes=2)),
                     Proof(RecordFact.JOINED, "U0CAROL", T0 + timedelta(minutes=3)))


def test_a_step_needs_every_fact_it_names() -> None:
    record = [event("status_changed", 2, to="acknowledged")]
    assert proof_of((RecordFact.ACKNOWLEDGED, RecordFact.JOINED), proofs(record)) is None
    assert proof_of((), proofs(record)) is None, "a step that names no fact is never ticked by the record"


def test_the_first_event_that_proves_a_fact_is_its_proof() -> None:
    record = [event("joined", 5, actor="U0BOB"), event("joined", 1, actor="U0ALICE")]
    assert proofs(record)[RecordFact.JOINED] == Proof(RecordFact.JOINED, "U0ALICE", T0 + timedelta(minutes=1))


@pytest.mark.parametrize(("state", "proven"), [("succeeded", True), ("no_change", True), ("failed", False),
                                               ("awaiting_approval", False), ("refused", False)])
def test_an_action_proves_its_kind_only_once_it_has_taken_effect(state: str, proven: bool) -> None:
    found = proofs([event("action", 4, kind="scale", state=state)])
    assert (RecordFact.SCALED in found) is proven


@pytest.mark.parametrize(("recorded", "fact"), [
    (event("status_changed", 1, to="mitigated"), RecordFact.MITIGATED),
    (event("status_changed", 1, to="resolved"), RecordFact.RESOLVED),
    (event("role_assigned", 1, role="commander", user="U0BOB"), RecordFact.COMMANDER_ASSIGNED),
    (event("status_update", 1), RecordFact.STATUS_UPDATE_POSTED),
    (event("diagnostic", 1, step="worker"), RecordFact.DIAGNOSED),
    (event("action", 1, kind="rollback_model", state="succeeded"), RecordFact.MODEL_ROLLED_BACK),
    (event("action", 1, kind="load_model", state="succeeded"), RecordFact.MODEL_ROLLED_BACK),
    (event("action", 1, kind="rollback_deploy", state="succeeded"), RecordFact.DEPLOY_ROLLED_BACK),
    (event("action", 1, kind="rollback_config", state="succeeded"), RecordFact.CONFIG_ROLLED_BACK),
])
def test_each_fact_has_its_evidence(recorded: TimelineEvent, fact: RecordFact) -> None:
    assert set(proofs([recorded])) == {fact}


def test_the_commander_is_the_person_who_became_commander() -> None:
    found = proofs([event("role_assigned", 1, actor="U0ALICE", role="commander", user="U0BOB"),
                    event("role_assigned", 2, role="scribe", user="U0CAROL")])
    assert found == {RecordFact.COMMANDER_ASSIGNED: Proof(RecordFact.COMMANDER_ASSIGNED, "U0BOB",
                                                          T0 + timedelta(minutes=1))}


def test_every_kind_of_evidence_refreshes_the_checklist() -> None:
    """A fact that became true must reach the pinned checklist: its event kind queues a refresh."""
    from bot.core.record_facts import EVIDENCE

    assert {kind for kind, _ in EVIDENCE.values()} <= EVIDENCE_KINDS
