"""The review's timeline table from events, without a database: Diagnose runs and action steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.postmortem.timeline_rows import diagnose_runs, rows
from storage.models import TimelineEvent

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def event(kind: str, seconds: float, text: str = "", actor: str = "U0ALICE", **data: Any) -> TimelineEvent:
    return TimelineEvent(kind=kind, occurred_at=START + timedelta(seconds=seconds), actor=actor, text=text, data=data)


def step(seconds: float, name: str, verdict: str, run: str | None = None) -> TimelineEvent:
    named = {"run": run} if run else {}
    return event("diagnostic", seconds, f"{name}: {verdict}", step=name, verdict=verdict, **named)


def test_two_runs_back_to_back_are_two_rows_each_with_its_time_checks_and_findings() -> None:
    events = [step(0, "golden", "critical", "a"), step(1, "drift", "ok", "a"),
              step(60, "golden", "ok", "b"), step(61, "drift", "warning", "b")]
    table = [r for r in rows(events) if r.kind == "diagnostic"]
    assert [(r.at, r.folded) for r in table] == [(START, 2), (START + timedelta(seconds=60), 2)]
    assert table[0].what == "Diagnose ran 2 checks: golden critical, drift ok; found: golden: critical"
    assert table[1].what == "Diagnose ran 2 checks: golden ok, drift warning; found: drift: warning"


def test_runs_of_different_checks_stay_apart_when_they_name_their_run() -> None:
    # A runbook step's Diagnose (golden only) and then another's (drift only): no check repeats.
    events = [step(0, "golden", "ok", "a"), step(5, "drift", "ok", "b")]
    assert [len(run) for run in diagnose_runs(events)] == [1, 1]
    assert [r.what for r in rows(events)] == ["Diagnose golden: golden: ok", "Diagnose drift: drift: ok"]


def test_older_records_without_run_names_split_where_a_check_repeats() -> None:
    events = [step(0, "golden", "ok"), step(1, "drift", "ok"), step(2, "golden", "ok"), step(3, "drift", "ok"),
              event("note", 4, "looked again"), step(5, "golden", "ok")]
    assert [len(run) for run in diagnose_runs(events)] == [2, 2, 1]


def test_a_run_interrupted_by_other_entries_is_still_one_row_where_it_began() -> None:
    events = [step(0, "golden", "ok", "a"), event("note", 1, "rolling back"), step(2, "drift", "ok", "a")]
    assert [r.what for r in rows(events)] == ["Diagnose ran 2 checks: golden ok, drift ok", "Note: rolling back"]


def test_action_steps_read_as_what_happened_and_a_refused_step_names_its_action() -> None:
    summary = "Emergency stop multimodal-api: desired 4 → 0"
    events = [
        event("action", 0, f"asked for approval of {summary}", state="awaiting_approval", summary=summary),
        event("action", 1, "was refused: the requester tried to approve their own request",
              state="awaiting_approval", summary=summary),
        event("action", 2, "was refused scale: you need the responder role", actor="U0CAROL", state="refused"),
        event("action", 3, f"denied {summary}", actor="U0BOB", state="denied", summary=summary),
    ]
    assert [r.what for r in rows(events)] == [
        f"Asked for approval of {summary}",
        f"{summary} — refused: the requester tried to approve their own request",
        "Refused scale: you need the responder role",
        f"Denied {summary}",
    ]
    assert not any("awaiting" in r.what for r in rows(events))
