"""The five-whys chain, prefilled only where the record has evidence.

The first why is the symptom (the first alert, or the title). The second takes what Diagnose
found wrong: golden-set regressions, drift, the chart's pattern, the mechanism the fusion
model read. Actions that took effect are offered as evidence for the third. Every answer the
bot cannot back with a recorded fact is left as a prompt for the team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.models import Incident

WHY_COUNT = 5
_ALARMING = ("critical", "warning")
_TELLING_STEPS = ("chart", "triage")  # their headline is a reading, whatever the verdict


@dataclass(frozen=True)
class Why:
    number: int
    question: str
    answer: str | None  # None: for the team to answer
    evidence: tuple[str, ...] = ()
    source: str = ""  # where the answer comes from


def five_whys(
    *, incident: Incident, first_alert: str | None,
    diagnostics: Sequence[tuple[str, str, str, Sequence[str]]],
    actions: Sequence[tuple[str, str, datetime]],
) -> tuple[Why, ...]:
    symptom = first_alert or incident.title
    whys = [Why(1, "Why was there an incident?", symptom, source="first alert" if first_alert else "declaration")]
    findings = [headline for step, verdict, headline, _ in diagnostics
                if verdict in _ALARMING or (step in _TELLING_STEPS and verdict != "unavailable")]
    whys.append(Why(2, "Why did that happen?", "; ".join(findings) if findings else None,
                    evidence=tuple(findings), source="Diagnose" if findings else ""))
    took_effect = [f"{summary} ({outcome}, {at:%H:%M} UTC)" for summary, outcome, at in actions
                   if outcome in ("succeeded", "unverified")]
    whys.append(Why(3, "Why did that change reach production, or go unnoticed until it hurt?", None,
                    evidence=tuple(f"Took effect: {line}" for line in took_effect)))
    whys.append(Why(4, "Why was it possible?", None))
    whys.append(Why(5, "Why was nothing in place to stop it?", None))
    return tuple(whys[:WHY_COUNT])
