"""A resolved incident's draft: its durations, folded alerts, actions, diagnostics, five whys and
related incidents, from a record written through the core on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.config import IncidentBotConfig
from bot.core import followups, incidents
from bot.core.postmortem.compose import compose
from bot.core.unit_of_work import Core
from bot.integrations.embedding import WorkerEmbedder
from bot.integrations.worker import HttpWorkerClient
from tests.bot.core.postmortem.world import ManualClock, Record

CONFIG = IncidentBotConfig.from_mapping({})


@pytest.fixture
def record(sessions) -> Record:
    clock = ManualClock()
    return Record(core=Core(sessions=sessions, clock=clock), clock=clock)


async def resolved_latency_incident(record: Record) -> int:
    """Declared at 14:00 three minutes after its alarm began; 50 alert deliveries; ack at 14:04;
    a model rollback took effect at 14:10; resolved at 15:00."""
    incident_id = await record.declare("P95 latency above 1s after the 14:05 deploy")
    await record.alerts(incident_id, count=50, minutes=0.5, started_minutes=-3)
    await record.change(incident_id, incidents.acknowledge, minutes=4)
    await record.diagnostic(incident_id, minutes=6, step="golden", verdict="critical",
                            headline="golden set: incident-text 71.0%: critical",
                            lines=("incident-text v5: accuracy 71.0%, v4 scored 95.0% on the same golden set",))
    await record.diagnostic(incident_id, minutes=6.5, step="drift", verdict="ok", headline="drift: 0.04 ok")
    await record.diagnostic(incident_id, minutes=7, step="chart", verdict="ok", headline="chart: step_up (91%)",
                            file_id="F0CHART01")
    await record.change(incident_id, incidents.add_note, minutes=8, text="rolling back the model to v4")
    await record.action(incident_id, minutes=10, summary="Roll back incident-text v5 → v4", state="succeeded",
                        approved_by="U0ENGMGR1")
    await record.change(incident_id, followups.add, minutes=30, text="Gate deploys on the golden set",
                        owner="U0CAROL", due_on=(record.clock.now + timedelta(days=7)).date())
    await record.change(incident_id, incidents.resolve, minutes=60, summary="Model v5 rolled back")
    return incident_id


async def test_the_draft_measures_the_incident_from_its_timestamps(record: Record) -> None:
    incident_id = await resolved_latency_incident(record)
    markdown, facts = await compose(record.core.sessions, incident_id=incident_id, config=CONFIG, embedder=None,
                                    now=record.clock.now)
    durations = facts.durations
    assert durations.detect.value == timedelta(minutes=3)
    assert durations.acknowledge.value == timedelta(minutes=4)
    assert durations.contain.value == timedelta(minutes=10)
    assert "Roll back incident-text v5 → v4" in durations.contain.how
    assert durations.resolve.value == timedelta(hours=1)
    assert "**Detection Time:** 3m (first alert to declaration)" in markdown
    assert "**Response Time:** 4m" in markdown
    assert "**Time to Containment:** 10m (first action that took effect" in markdown
    assert "**Total Resolution Time:** 1h" in markdown
    assert "**Duration:** 1h" in markdown


async def test_the_timeline_table_folds_alert_runs_and_diagnose_steps(record: Record) -> None:
    incident_id = await resolved_latency_incident(record)
    markdown, facts = await compose(record.core.sessions, incident_id=incident_id, config=CONFIG, embedder=None,
                                    now=record.clock.now)
    table = markdown.split("## Timeline", 1)[1].split("## Root Cause", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Time")]
    assert facts.events > 50 and len(rows) < 15
    alert_rows = [row for row in rows if "alerts until" in row]
    assert len(alert_rows) == 1 and "50 alerts" in alert_rows[0] and "multimodal-prod-p95-latency ×50" in alert_rows[0]
    assert sum("Diagnose ran 3 checks" in row for row in rows) == 1
    assert any("Note: rolling back the model to v4" in row for row in rows)
    times = [row.split("|")[1].strip() for row in rows]
    assert times == sorted(times) and times[0] == "14:00:00"


async def test_the_draft_lists_actions_from_the_audit_log_and_summarises_diagnostics(record: Record) -> None:
    incident_id = await resolved_latency_incident(record)
    markdown, facts = await compose(record.core.sessions, incident_id=incident_id, config=CONFIG, embedder=None,
                                    now=record.clock.now)
    assert [(a.summary, a.requested_by, a.approved_by, a.outcome) for a in facts.actions] == [
        ("Roll back incident-text v5 → v4", "U0BOB", "U0ENGMGR1", "succeeded")]  # ids: the draft shows names
    actions = markdown.split("## Actions Taken", 1)[1]
    assert "| 14:10:00 | Roll back incident-text v5 → v4 | @U0BOB | @U0ENGMGR1 | succeeded (verified: v4 answered) |" \
        in actions
    diagnostics = markdown.split("## Diagnostics", 1)[1].split("## Actions Taken", 1)[0]
    assert "**golden** (critical" in diagnostics and "v4 scored 95.0% on the same golden set" in diagnostics
    assert "**chart** (ok" in diagnostics and "step\\_up (91%)" in diagnostics and "Slack file F0CHART01" in diagnostics
    assert "| Gate deploys on the golden set | @U0CAROL |" in markdown


async def test_five_whys_are_prefilled_only_from_evidence(record: Record) -> None:
    incident_id = await resolved_latency_incident(record)
    markdown, facts = await compose(record.core.sessions, incident_id=incident_id, config=CONFIG, embedder=None,
                                    now=record.clock.now)
    whys = facts.whys
    assert whys[0].answer is not None and "multimodal-prod-p95-latency" in whys[0].answer
    assert whys[1].answer is not None and "golden set: incident-text 71.0%: critical" in whys[1].answer
    assert "drift: 0.04 ok" not in whys[1].answer  # an ok verdict is no evidence of a cause
    assert [w.answer for w in whys[2:]] == [None, None, None]
    assert any("Roll back incident-text v5 → v4" in e for e in whys[2].evidence)
    for number in (3, 4, 5):
        assert f"[Why {number}: answer from what the team knows]" in markdown
    assert "[Root cause: confirm or correct the chain above]" in markdown
    assert "[Impact:" in markdown and "[Business impact:" in markdown


async def test_a_person_declared_incident_says_why_detection_is_not_measured(record: Record) -> None:
    incident_id = await record.declare("Customers report wrong document labels", service=None)
    await record.change(incident_id, incidents.resolve, minutes=20)
    markdown, facts = await compose(record.core.sessions, incident_id=incident_id, config=CONFIG, embedder=None,
                                    now=record.clock.now)
    assert facts.durations.detect.value is None
    assert "**Detection Time:** — (no alert came in: a person declared it)" in markdown
    assert "never acknowledged" in markdown and "**Total Resolution Time:** 20m" in markdown
    assert "Diagnose was not run for this incident." in markdown
    assert "| [Action item: add with /incident followup] | [owner] | [due] | Open |" in markdown


async def test_people_text_cannot_break_the_markdown(record: Record) -> None:
    incident_id = await record.declare("latency | table <script>alert(1)</script> **bold** [link](http://x)")
    await record.change(incident_id, incidents.add_note, minutes=1, text="a | b\n# not a heading\n| fake | row |")
    await record.change(incident_id, incidents.resolve, minutes=2)
    markdown, _ = await compose(record.core.sessions, incident_id=incident_id, config=CONFIG, embedder=None,
                                now=record.clock.now)
    table = markdown.split("## Timeline", 1)[1].split("## Root Cause", 1)[0]
    for row in (line for line in table.splitlines() if line.startswith("| ")):
        assert len(re.findall(r"(?<!\\)\|", row)) == 4, row  # three cells, every time
    assert "<script>" not in markdown and "\\<script\\>" in markdown
    assert "\n# not a heading" not in markdown


async def test_related_incidents_come_from_incident_text_embeddings(record: Record, text_worker) -> None:
    past = {
        "P95 latency spike on the scoring API after a deploy": "Rolled back deploy 42; latency recovered",
        "Password reset emails delayed for all users": "Mail provider quota raised",
        "Quarterly billing export failed with permission denied": "Rotated the export credentials",
    }
    for minutes, (title, summary) in enumerate(past.items()):
        incident_id = await record.declare(title, minutes=-600 + minutes)
        await record.change(incident_id, incidents.resolve, minutes=-590 + minutes, summary=summary)
    incident_id = await resolved_latency_incident(record)
    every_score = IncidentBotConfig.from_mapping({"postmortems": {"related_min_score": -1}})
    async with HttpWorkerClient(text_worker.url) as worker:
        markdown, facts = await compose(record.core.sessions, incident_id=incident_id, config=every_score,
                                        embedder=WorkerEmbedder(worker), now=record.clock.now)
    related = facts.related
    assert related.unavailable is None and related.model and related.model.startswith("incident-text v")
    assert next(r.number for r in related.incidents) == 1  # the latency incident, nearest
    scores = [r.score for r in related.incidents]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    section = markdown.split("## Related Incidents", 1)[1]
    assert "**#1** P95 latency spike on the scoring API after a deploy" in section
    assert "resolution: Rolled back deploy 42; latency recovered" in section


async def test_related_incidents_say_when_the_worker_is_down(record: Record) -> None:
    first = await record.declare("P95 latency spike", minutes=-100)
    await record.change(first, incidents.resolve, minutes=-90)
    incident_id = await record.declare("P95 latency again")
    await record.change(incident_id, incidents.resolve, minutes=5)
    async with HttpWorkerClient("http://127.0.0.1:9", timeout=2) as worker:
        markdown, facts = await compose(record.core.sessions, incident_id=incident_id, config=CONFIG,
                                        embedder=WorkerEmbedder(worker), now=record.clock.now)
    assert facts.related.incidents == () and facts.related.unavailable
    assert "Not looked up: the model worker could not embed the incidents" in markdown
