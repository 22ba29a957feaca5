"""The timeline as the review's table: one plain line per event, long runs folded.

A storm of 2,000 alerts is one row ("2,000 alerts from 14:05 to 14:20"), and the steps of one
Diagnose run are one row, so the table reads as what people did and saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.models import TimelineEvent

# Fewer alerts in a row than this are listed one by one.
FOLD_ALERTS_FROM = 4
TOP_ALARMS = 3
TEXT_MAX = 300

_STATUS_WORDS = {"acknowledged": "acknowledged the incident", "mitigated": "marked it mitigated",
                 "resolved": "resolved the incident", "closed": "closed the incident",
                 "triggered": "reopened the incident"}


@dataclass(frozen=True)
class Row:
    at: datetime
    what: str
    by: str
    kind: str
    folded: int = 1  # how many events this row stands for


def _short(text: str, limit: int = TEXT_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def actor_name(actor: str | None) -> str:
    """Slack ids as @U…; other actors (pagerduty, incident-bot) as they are."""
    if not actor:
        return "—"
    return f"@{actor}" if actor[:1] in "UW" and actor[1:].isalnum() and actor.isupper() else actor


def describe(event: TimelineEvent) -> str:
    data = event.data or {}
    match event.kind:
        case "declared":
            return f"Declared {data.get('severity', '')}: {_short(event.text)}".replace("  ", " ")
        case "status_changed":
            line = _STATUS_WORDS.get(str(data.get("to")), f"status {data.get('to')}").capitalize()
            return line + (f": {_short(event.text)}" if event.text else "")
        case "severity_changed":
            return f"Severity {data.get('from')} → {data.get('to')}"
        case "role_assigned":
            return f"{actor_name(data.get('user'))} became {data.get('role')}"
        case "status_update":
            return f"Status update: {_short(event.text)}"
        case "note":
            return f"Note: {_short(event.text)}"
        case "captured":
            files = data.get("files") or []
            extra = f" [{len(files)} file{'s' if len(files) != 1 else ''}]" if files else ""
            return f"Pinned message: {_short(event.text)}{extra}"
        case "alert":
            return f"Alert: {_short(event.text)}"
        case "alert_cleared":
            return f"Alert cleared: {_short(event.text)}"
        case "all_alerts_cleared":
            return "Every alert cleared"
        case "action":
            return f"Action {data.get('state', '')}: {_short(str(data.get('summary') or event.text))}"
        case "diagnostic":
            return f"Diagnose {data.get('step')}: {_short(event.text)}"
        case "escalated":
            paged = [actor_name(u) for u in data.get("users", [])] + list(data.get("usergroups", []))
            level = data.get("level")
            return f"Escalated{f' (level {level})' if level is not None else ''} to {', '.join(paged) or 'nobody'}"
        case "response_breached":
            return f"Response time missed: {_short(event.text)}"
        case "follow_up":
            change = {"added": "Follow-up added", "done": "Follow-up done", "reopened": "Follow-up reopened"}
            return f"{change.get(str(data.get('change')), 'Follow-up')}: {_short(event.text)}"
        case "update_reminder":
            return f"Status update reminder ({data.get('misses', 1)} missed)"
        case "runbook":
            return f"Runbook {data.get('runbook', '')}: {_short(event.text)}" if data.get("step") else \
                f"Runbook: {_short(event.text)}"
        case _:
            return _short(event.text) or event.kind


def rows(events: Iterable[TimelineEvent]) -> list[Row]:
    """Events oldest first, as table rows, with alert runs and Diagnose runs folded."""
    out: list[Row] = []
    run: list[TimelineEvent] = []

    def flush() -> None:
        if not run:
            return
        if run[0].kind == "alert" and len(run) >= FOLD_ALERTS_FROM:
            out.append(_folded_alerts(run))
        elif run[0].kind == "diagnostic" and len(run) > 1:
            out.append(_folded_diagnose(run))
        else:
            out.extend(Row(e.occurred_at, describe(e), actor_name(e.actor), e.kind) for e in run)
        run.clear()

    for event in events:
        if event.kind == "postmortem":
            continue  # the review's own history is not part of the incident's story
        if run and event.kind != run[0].kind:
            flush()
        if event.kind in ("alert", "diagnostic"):
            run.append(event)
        else:
            flush()
            out.append(Row(event.occurred_at, describe(event), actor_name(event.actor), event.kind))
    flush()
    return out


def _folded_alerts(run: Sequence[TimelineEvent]) -> Row:
    top = Counter(e.text for e in run).most_common(TOP_ALARMS)
    names = ", ".join(f"{_short(name, 80)} ×{n}" for name, n in top)
    sources = sorted({e.actor for e in run})
    what = f"{len(run):,} alerts until {run[-1].occurred_at:%H:%M:%S} (most: {names})"
    return Row(run[0].occurred_at, what, ", ".join(sources), "alert", folded=len(run))


def _folded_diagnose(run: Sequence[TimelineEvent]) -> Row:
    verdicts = ", ".join(f"{e.data.get('step')} {e.data.get('verdict')}" for e in run)
    return Row(run[0].occurred_at, f"Diagnose ran {len(run)} checks: {verdicts}", actor_name(run[0].actor),
               "diagnostic", folded=len(run))
