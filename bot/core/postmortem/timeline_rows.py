"""The timeline as the review's table: one plain line per event, long runs folded.

A storm of 2,000 alerts is one row ("2,000 alerts from 14:05 to 14:20"), and the steps of one
Diagnose run are one row, so the table reads as what people did and saw. People stay ids here
(``by``) or mention markup inside the text; the renderer shows their names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.postmortem.people import mention
from storage.models import TimelineEvent

# Fewer alerts in a row than this are listed one by one.
FOLD_ALERTS_FROM = 4
TOP_ALARMS = 3
TEXT_MAX = 300
_REFUSED = "was refused "  # how a refused request's timeline text begins (no action row exists)
# Diagnose verdicts worth naming in the run's row.
FINDING_VERDICTS = ("critical", "warning")

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
            return f"{mention(data.get('user'))} became {data.get('role')}"
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
            return _action_step(event)
        case "diagnostic":
            return f"Diagnose {data.get('step')}: {_short(event.text)}"
        case "escalated":
            paged = [mention(u) for u in data.get("users", [])] + list(data.get("usergroups", []))
            paged += [f"PagerDuty schedule {schedule}" for schedule in data.get("schedules", [])]
            level = data.get("level")
            how = " (backup on-call)" if data.get("backup") else f" (level {level})" if level is not None else ""
            return f"Escalated{how} to {', '.join(paged) or 'nobody'}"
        case "response_breached":
            return f"Response time missed: {_short(event.text)}"
        case "deadline_missed":
            return f"Deadline missed: {_short(event.text)}"
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
    """Events oldest first, as table rows, with alert runs folded and each Diagnose run one row."""
    story = [e for e in events if e.kind != "postmortem"]  # the review's own history is not the incident's
    runs_by_first = {id(run[0]): run for run in diagnose_runs(story)}
    out: list[Row] = []
    alerts: list[TimelineEvent] = []

    def flush_alerts() -> None:
        if len(alerts) >= FOLD_ALERTS_FROM:
            out.append(_folded_alerts(alerts))
        else:
            out.extend(Row(e.occurred_at, describe(e), e.actor, e.kind) for e in alerts)
        alerts.clear()

    for event in story:
        if event.kind == "alert":
            alerts.append(event)
            continue
        flush_alerts()
        if id(event) in runs_by_first:
            out.append(_diagnose_row(runs_by_first[id(event)]))
        elif event.kind != "diagnostic":  # a run's other steps are in its row
            out.append(Row(event.occurred_at, describe(event), event.actor, event.kind))
    flush_alerts()
    return out


def diagnose_runs(events: Iterable[TimelineEvent]) -> list[list[TimelineEvent]]:
    """The Diagnose steps grouped by run, in the order the runs began.

    Steps name their run. Older records do not: there a run is a stretch of steps in a row in
    which no check repeats (a check seen again is the next run).
    """
    runs: list[list[TimelineEvent]] = []
    by_key: dict[str, list[TimelineEvent]] = {}
    unnamed: list[TimelineEvent] | None = None
    for event in events:
        if event.kind != "diagnostic":
            unnamed = None
            continue
        key = (event.data or {}).get("run")
        if key:
            run = by_key.get(str(key))
            if run is None:
                run = by_key[str(key)] = []
                runs.append(run)
            run.append(event)
            continue
        step = (event.data or {}).get("step")
        if unnamed is None or any((e.data or {}).get("step") == step for e in unnamed):
            unnamed = []
            runs.append(unnamed)
        unnamed.append(event)
    return runs


def _action_step(event: TimelineEvent) -> str:
    """An action's step as it happened ("Requested …", "Denied …", "Scale …: Verified …").

    The event's text says it already, with its actor as the subject (the By column); a refusal
    of a step (someone's own approval, say) names the action, which its text leaves out.
    """
    data = event.data or {}
    text = _short(event.text)
    summary = str(data.get("summary") or "")
    if summary and summary not in event.text:
        return f"{summary} — {text.removeprefix('was ')}"
    if text.startswith(_REFUSED):
        return "Refused " + text.removeprefix(_REFUSED)
    return text[:1].upper() + text[1:]


def _folded_alerts(run: Sequence[TimelineEvent]) -> Row:
    top = Counter(e.text for e in run).most_common(TOP_ALARMS)
    names = ", ".join(f"{_short(name, 80)} ×{n}" for name, n in top)
    sources = sorted({e.actor for e in run})
    what = f"{len(run):,} alerts until {run[-1].occurred_at:%H:%M:%S} (most: {names})"
    return Row(run[0].occurred_at, what, ", ".join(sources), "alert", folded=len(run))


def _diagnose_row(run: Sequence[TimelineEvent]) -> Row:
    if len(run) == 1:
        return Row(run[0].occurred_at, describe(run[0]), run[0].actor, "diagnostic")
    verdicts = ", ".join(f"{e.data.get('step')} {e.data.get('verdict')}" for e in run)
    found = [_short(e.text, 120) for e in run if e.data.get("verdict") in FINDING_VERDICTS]
    what = f"Diagnose ran {len(run)} checks: {verdicts}" + (f"; found: {'; '.join(found)}" if found else "")
    return Row(run[0].occurred_at, _short(what, TEXT_MAX * 2), run[0].actor, "diagnostic", folded=len(run))
