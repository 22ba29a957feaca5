"""Which runbook an incident's alerts call for, by the runbooks' own match rules.

The configuration's routing rules come first (they are read at ingest); these rules come
next; the incident-text model decides only when neither does. Among runbooks that match, the
most specific pattern wins: an exact metric name beats any alarm glob, and a longer literal
part beats a shorter one, so `*p95-latency*` decides before `*latency*` and both before `*`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from runbooks.engine.loader import Library
from runbooks.engine.schema import Runbook, Step

# An exact metric name says more than any alarm-name glob of ordinary length.
_METRIC_WEIGHT = 1000


@dataclass(frozen=True)
class AlertFacts:
    """What an alert says about itself, as the match rules read it."""

    alarm_name: str | None = None
    metric_name: str | None = None
    pagerduty_service: str | None = None


@dataclass(frozen=True)
class RuleMatch:
    runbook: str
    reason: str  # for people: which rule matched what
    specificity: int


def _literal_length(pattern: str) -> int:
    return sum(1 for ch in pattern if ch not in "*?[]")


def _matches(runbook_name: str, library: Library, facts: AlertFacts) -> RuleMatch | None:
    rules = library.runbooks[runbook_name].match
    found: list[RuleMatch] = []
    if facts.metric_name and facts.metric_name in rules.metrics:
        found.append(RuleMatch(runbook_name, f"metric {facts.metric_name}", _METRIC_WEIGHT + len(facts.metric_name)))
    if facts.pagerduty_service and facts.pagerduty_service in rules.pagerduty_services:
        found.append(RuleMatch(runbook_name, f"PagerDuty service {facts.pagerduty_service}", _METRIC_WEIGHT))
    if facts.alarm_name:
        for pattern in rules.alarms:
            if fnmatchcase(facts.alarm_name, pattern):
                found.append(RuleMatch(runbook_name, f"alarm {facts.alarm_name} matches {pattern}",
                                       _literal_length(pattern)))
    return max(found, key=lambda m: m.specificity, default=None)


def match_by_rules(library: Library, alerts: Iterable[AlertFacts]) -> RuleMatch | None:
    """The best rule match over every alert of the incident, or None when no rule matches.

    Ties go to the runbook whose name sorts first, so the same alerts always get the same one.
    """
    best: RuleMatch | None = None
    for facts in alerts:
        for name in library.names():
            found = _matches(name, library, facts)
            if found is not None and (best is None or found.specificity > best.specificity):
                best = found
    return best


def runbook_for_class(library: Library, text_class: str) -> str | None:
    """The runbook that answers a text-model class: the one whose rules name it, else its namesake."""
    named = [name for name in library.names() if library.runbooks[name].match.text_class == text_class]
    if named:
        return named[0]
    return text_class if text_class in library.runbooks else None


_ROLLBACK_KINDS = {"model": ("rollback_model", "load_model"), "deploy": ("rollback_deploy",),
                   "config": ("rollback_config",)}


@dataclass(frozen=True)
class ActionSteps:
    """The library as the action pipeline asks it (``bot.core.ports.runbooks.RunbookSteps``)."""

    library: Library

    def done_by_action(self, runbook: str, *, kind: str, before: Mapping[str, Any],
                       after: Mapping[str, Any]) -> list[Step]:
        found = self.library.get(runbook)
        return steps_done_by_action(found, kind=kind, before=before, after=after) if found else []


def steps_done_by_action(runbook: Runbook, *, kind: str, before: Mapping[str, Any],
                         after: Mapping[str, Any]) -> list[Step]:
    """The runbook's action steps that a finished action did, wherever it was started from.

    Disabling auto-apply from the headline does the model-regression runbook's first step as
    surely as its own button does, so the checklist shows it done either way.
    """
    return [step for _, step in runbook.steps() if step.action is not None and _does(step, kind, before, after)]


def _does(step: Step, kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    bound = step.action
    assert bound is not None
    if bound.flag is not None:
        name = str(after.get("path") or "").rsplit("/", 1)[-1]
        return kind == "set_flag" and name == bound.flag.name and str(after.get("value")) == bound.flag.value
    if bound.scale is not None:
        if kind != "scale" or not isinstance(after.get("desired"), int):
            return False
        if bound.scale.count is not None:
            return after["desired"] == bound.scale.count
        was = before.get("desired")
        return isinstance(was, int) and (after["desired"] - was) * (bound.scale.delta or 0) > 0
    if bound.rollback is not None:
        if kind not in _ROLLBACK_KINDS[bound.rollback.kind]:
            return False
        target = bound.rollback.target
        if target is None:
            return True
        named = after.get("model") if bound.rollback.kind == "model" else after.get("path")
        return str(named or "").endswith(target)
    return kind == bound.kind  # stop, redeploy
