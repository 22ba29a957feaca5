"""The approval message and form of a version under the accuracy gate; every other approval
stays one click. Pure builders on plain rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.actions.gate_override import REASON_MAX, clean_reason, gate_to_override, stored_gate
from bot.core.errors import InvalidInput
from bot.slack.action_blocks import action_message
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from bot.slack.override_views import override_modal
from storage.models import ResponseAction

MISSED = {"version": "v1", "bar": 0.9, "accuracy": 0.84, "passed": False, "golden_version": "v1", "examples": 50}


def action(state: str = "awaiting_approval", gate: Any = None, **result: Any) -> ResponseAction:
    return ResponseAction(
        id=7, incident_id=1, kind="rollback_model", service="multimodal-api", target="model:incident-text",
        summary="Roll back model incident-text: serving v2 → v1", before={}, after={}, state=state,
        requested_by="U0ALICE", requested_at=datetime(2024, 1, 15, 10, 0, tzinfo=UTC), needs_approval=True,
        dry_run=False, progress="", result={**({"gate": gate} if gate is not None else {}), **result}, version=1)


def approve_button(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for b in blocks if b.get("type") == "actions" for e in b["elements"]
                if e["action_id"] == ActionId.APPROVE.value)


def test_an_approval_under_the_gate_shows_the_gate_and_asks_for_a_reason_instead_of_a_dialog() -> None:
    _, blocks = action_message(action(gate=MISSED))
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "v1 scores 84.0%" in shown and "under the 90% bar" in shown and "Approving overrides the gate" in shown
    button = approve_button(blocks)
    assert "confirm" not in button and button["text"]["text"].startswith("Override gate")


@pytest.mark.parametrize("gate", [None, {**MISSED, "accuracy": 0.95, "passed": True}])
def test_every_other_approval_stays_one_click_with_its_dialog(gate: Any) -> None:
    _, blocks = action_message(action(gate=gate))
    button = approve_button(blocks)
    assert button["text"]["text"] == "Approve" and "confirm" in button
    assert "overrides the gate" not in json.dumps(blocks)


def test_a_gate_that_could_not_be_checked_is_overridden_too() -> None:
    unchecked = {"version": "v4", "bar": 0.9, "accuracy": None, "passed": False, "why_unchecked": "no golden set"}
    gate = gate_to_override(action(gate=unchecked))
    assert gate is not None and "could not be checked" in gate.line and "no golden set" in gate.line


@pytest.mark.parametrize("gate", ["v1", [], {"version": 3, "bar": 0.9}, {"version": "v1", "bar": "high"},
                                  {"version": "v1", "bar": True, "accuracy": 0.5},
                                  {"version": "v1", "bar": 0.9, "accuracy": "0.5"}])
def test_a_stored_gate_of_another_shape_reads_as_none_not_an_error(gate: Any) -> None:
    assert stored_gate(action(gate=gate)) is None and gate_to_override(action(gate=gate)) is None


def test_only_an_action_awaiting_approval_has_a_gate_to_override() -> None:
    assert gate_to_override(action(gate=MISSED)) is not None
    for state in ("proposed", "running", "succeeded", "denied", "expired"):
        assert gate_to_override(action(state=state, gate=MISSED)) is None


def test_the_form_names_the_action_and_requires_a_bounded_reason() -> None:
    row = action(gate=MISSED)
    gate = gate_to_override(row)
    assert gate is not None
    view = override_modal(row, gate, channel_id="C0INC")
    assert view["callback_id"] == CallbackId.GATE_OVERRIDE_MODAL.value
    assert json.loads(view["private_metadata"]) == {"action_id": 7, "channel_id": "C0INC"}
    field = next(b for b in view["blocks"] if b.get("block_id") == BlockId.OVERRIDE_REASON.value)
    assert field["type"] == "input" and not field.get("optional")
    assert field["element"]["action_id"] == InputId.REASON.value and field["element"]["max_length"] == REASON_MAX
    assert "under the 90% bar" in json.dumps(view, ensure_ascii=False)


def test_a_reason_is_one_clean_line_required_and_bounded() -> None:
    assert clean_reason("  v2 corrupts\nlabels\x00 ") == "v2 corrupts labels"
    for empty in ("", "   ", "\n\t", "\x00\u200b"):
        with pytest.raises(InvalidInput, match="Say why"):
            clean_reason(empty)
    assert clean_reason("x" * REASON_MAX) == "x" * REASON_MAX
    with pytest.raises(InvalidInput, match=f"under {REASON_MAX}"):
        clean_reason("x" * (REASON_MAX + 1))
