"""An approval that overrides the accuracy gate, read from the action's stored plan.

A model version that missed the gate (or could not be checked against it) waits for an
approver; approving it overrides the gate, so the approver says why, and the audit row keeps it
(``ActionPipeline.approve(..., reason=...)``).
"""

from __future__ import annotations

from typing import Any

from bot.core.actions.kinds import ActionState
from bot.core.actions.plans import ModelGate
from bot.core.errors import InvalidInput
from bot.core.text import clean_text
from storage.models import ResponseAction

# The pipeline keeps this much of a reason (``_gate_override``); the form allows no more.
REASON_MAX = 500


def stored_gate(action: ResponseAction) -> ModelGate | None:
    """The gate as the proposal stored it in ``result["gate"]``; None when there is none, or it
    is not one (a row from an older bot)."""
    gate: Any = (action.result or {}).get("gate")
    if not isinstance(gate, dict):
        return None
    version, bar, accuracy = gate.get("version"), _number(gate.get("bar")), _number(gate.get("accuracy"))
    if not isinstance(version, str) or bar is None or (accuracy is None and gate.get("accuracy") is not None):
        return None
    golden, examples, why = gate.get("golden_version"), gate.get("examples"), gate.get("why_unchecked")
    return ModelGate(version=version, bar=bar, accuracy=accuracy,
                     golden_version=golden if isinstance(golden, str) else None,
                     examples=examples if isinstance(examples, int) and not isinstance(examples, bool) else 0,
                     why_unchecked=why if isinstance(why, str) else "")


def gate_to_override(action: ResponseAction) -> ModelGate | None:
    """The gate an approval of this action would override: it awaits approval and its version
    missed the gate. None for every other approval, which stays one click."""
    if action.state != ActionState.AWAITING_APPROVAL.value:
        return None
    gate = stored_gate(action)
    return gate if gate is not None and not gate.passed else None


def clean_reason(typed: str) -> str:
    """The reason as the audit row keeps it: one line of printable text, required, bounded."""
    reason = clean_text(typed)
    if not reason:
        raise InvalidInput("Say why this version should serve although it missed the gate.")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"Keep the reason under {REASON_MAX} characters (it has {len(reason):,}).")
    return reason


def _number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (a bool is not a number here)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
