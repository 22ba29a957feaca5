"""What a diagnostic step found, and the seeds' verdicts that turn numbers into words."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNAVAILABLE = "unavailable"  # the step could not run: the worker is down, no data, a timeout

    @property
    def emoji(self) -> str:
        return {"ok": "🟢", "warning": "🟡", "critical": "🔴", "unavailable": "⚪"}[self.value]


@dataclass(frozen=True)
class Suggestion:
    """A next action the evidence points to; ``action`` names the guarded modal to open."""

    text: str
    action: str  # "rollback", "scale", "flags"


@dataclass(frozen=True)
class StepResult:
    step: str
    verdict: Verdict
    headline: str  # one short line: "drift 0.14: warning"
    lines: tuple[str, ...] = ()  # the evidence, a few lines of mrkdwn-safe text
    data: dict[str, Any] = field(default_factory=dict)  # stored on the timeline, for the postmortem
    suggestions: tuple[Suggestion, ...] = ()
    file_id: str | None = None  # a chart uploaded to the channel
    seconds: float | None = None  # how long the step took, for the benchmark and the postmortem


# The seeds' golden-set rule: "< 85% retrain now, 85-90% within 48 h, > 90% keep monitoring".
def accuracy_verdict(accuracy: float) -> tuple[Verdict, str]:
    if accuracy < 0.85:
        return Verdict.CRITICAL, "retrain now"
    if accuracy <= 0.90:
        return Verdict.WARNING, "retrain within 48 h"
    return Verdict.OK, "keep monitoring"


# The seeds' F1 rule: a drop of more than 10% is a warning, more than 20% critical.
def f1_drop_verdict(current: float, previous: float) -> tuple[Verdict, float]:
    if previous <= 0:
        return Verdict.OK, 0.0
    drop = (previous - current) / previous
    if drop > 0.20:
        return Verdict.CRITICAL, drop
    if drop > 0.10:
        return Verdict.WARNING, drop
    return Verdict.OK, drop


# The seeds' drift rule: drift_score > 0.1 is a warning.
def drift_verdict(score: float, *, critical_above: float = 0.25) -> Verdict:
    if score > critical_above:
        return Verdict.CRITICAL
    if score > 0.1:
        return Verdict.WARNING
    return Verdict.OK


LOW_CONFIDENCE = 0.75  # the seeds review predictions below this


def worst(verdicts: list[Verdict]) -> Verdict:
    order = [Verdict.CRITICAL, Verdict.WARNING, Verdict.OK, Verdict.UNAVAILABLE]
    return next((v for v in order if v in verdicts), Verdict.UNAVAILABLE)
