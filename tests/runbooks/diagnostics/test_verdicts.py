"""The seeds' thresholds, as the diagnostics apply them."""

from __future__ import annotations

import pytest

from bot.slack.diagnostic_blocks import diagnostics_message
from runbooks.diagnostics.results import (
    StepResult,
    Suggestion,
    Verdict,
    accuracy_verdict,
    drift_verdict,
    f1_drop_verdict,
    worst,
)


@pytest.mark.parametrize(("accuracy", "verdict", "advice"), [
    (0.80, Verdict.CRITICAL, "retrain now"), (0.849, Verdict.CRITICAL, "retrain now"),
    (0.85, Verdict.WARNING, "retrain within 48 h"), (0.90, Verdict.WARNING, "retrain within 48 h"),
    (0.901, Verdict.OK, "keep monitoring"),
])
def test_golden_set_accuracy_rule(accuracy: float, verdict: Verdict, advice: str) -> None:
    assert accuracy_verdict(accuracy) == (verdict, advice)


def test_f1_drop_rule_is_relative_to_the_previous_version() -> None:
    assert f1_drop_verdict(0.95, 1.0)[0] == Verdict.OK
    assert f1_drop_verdict(0.85, 1.0)[0] == Verdict.WARNING
    assert f1_drop_verdict(0.70, 1.0)[0] == Verdict.CRITICAL
    assert f1_drop_verdict(0.9, 0.9) == (Verdict.OK, 0.0)


def test_drift_above_a_tenth_is_a_warning() -> None:
    assert drift_verdict(0.1) == Verdict.OK and drift_verdict(0.14) == Verdict.WARNING
    assert drift_verdict(0.3) == Verdict.CRITICAL


def test_the_worst_verdict_wins_and_unavailable_only_when_nothing_ran() -> None:
    assert worst([Verdict.OK, Verdict.WARNING, Verdict.UNAVAILABLE]) == Verdict.WARNING
    assert worst([Verdict.UNAVAILABLE]) == Verdict.UNAVAILABLE


def test_the_message_counts_steps_and_offers_suggestions_only_at_the_end() -> None:
    drift = StepResult("drift", Verdict.WARNING, "drift: 0.14 warning")
    triage = StepResult("triage", Verdict.OK, "triage: bad_change", suggestions=(Suggestion("step-up", "rollback"),))
    text, _ = diagnostics_message(number=3, results=[drift], total=7, pending=["latency"])
    assert "1/7" in text and "drift: 0.14 warning" in text
    _, blocks = diagnostics_message(number=3, results=[drift, triage], total=2)
    buttons = [b["accessory"]["action_id"] for b in blocks if "accessory" in b]
    assert buttons == ["action_open_rollback"]
