"""The checklist builders: every runbook of the library fits Slack's limits and shows its state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.core.checklists import ChosenBy, StepState
from bot.slack.checklist_blocks import checklist, no_runbook, runbook_overview
from bot.slack.ids import ActionId
from runbooks.engine.loader import load_library
from storage.models import Incident, IncidentRunbook, RunbookStep

LIBRARY = load_library()
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
INCIDENT = Incident(id=1, number=7, title="P95 latency above SLO", severity="P1", status="triggered")


def chosen(runbook: str | None, by: ChosenBy = ChosenBy.MATCH, **fields) -> IncidentRunbook:  # type: ignore[no-untyped-def]
    values = {"reason": "alarm x matches *latency*", "confidence": None, "suggestion": {}, "actor": "incident-bot"}
    values.update(fields)
    return IncidentRunbook(incident_id=1, runbook=runbook, chosen_by=by.value, chosen_at=NOW, version=1, **values)


def interactive(blocks: list[dict]) -> list[dict]:
    found = [b["accessory"] for b in blocks if "accessory" in b]
    found += [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return found


@pytest.mark.parametrize("name", LIBRARY.names())
def test_every_runbook_renders_within_slacks_limits_with_a_control_per_step(name: str) -> None:
    runbook = LIBRARY.runbooks[name]
    text, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=chosen(name), rows={})
    assert len(blocks) <= 50 and len(text) <= 3000
    assert len(json.dumps(blocks)) < 16_000  # well inside chat.update's payload
    for block in blocks:
        for part in (block.get("text"), *block.get("elements", [])):
            if isinstance(part, dict) and "text" in part and isinstance(part["text"], str):
                assert len(part["text"]) <= 3000
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)) == len(runbook.steps())
    for control in interactive(blocks):
        assert control["action_id"] in {ActionId.RUNBOOK_STEP, ActionId.RUNBOOK_STEP_CHECK}
        if control["type"] == "button":
            assert len(control["text"]["text"]) <= 75 and len(control["value"]) <= 2000
    manual = {s.id for _, s in runbook.steps() if s.action is None}
    checkboxes = {c["options"][0]["value"] for c in interactive(blocks) if c["type"] == "checkboxes"}
    assert checkboxes == manual


def test_a_done_step_says_who_and_when_and_is_counted() -> None:
    runbook = LIBRARY.runbooks["model_regression"]
    first = runbook.steps()[0][1]
    rows = {first.id: RunbookStep(step_id=first.id, state=StepState.DONE.value, done_by="U0ALICE", done_at=NOW,
                                  title=first.title, runbook=runbook.name)}
    text, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=chosen("model_regression"), rows=rows)
    assert f"1/{len(runbook.steps())} steps done" in text
    line = next(b for b in blocks if b.get("block_id", "").endswith(first.id))["text"]["text"]
    assert line.startswith("✅ ~") and "<@U0ALICE>" in line and "<!date^" in line


def test_a_step_waiting_on_its_action_says_so() -> None:
    runbook = LIBRARY.runbooks["high_latency"]
    rows = {"scale-up": RunbookStep(step_id="scale-up", state=StepState.ACTING.value, action_id=12, title="Scale")}
    _, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=chosen("high_latency"), rows=rows)
    block = next(b for b in blocks if b.get("block_id", "").endswith("scale-up"))
    assert "Action #12 is under way" in block["text"]["text"]
    assert block["accessory"]["text"]["text"] == "Scale to 10…"


def test_the_header_says_how_the_runbook_was_chosen() -> None:
    runbook = LIBRARY.runbooks["high_latency"]
    by_model = chosen("high_latency", ChosenBy.MODEL, confidence=0.873)
    _, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=by_model, rows={})
    assert "incident-text model (87% sure)" in json.dumps(blocks)
    _, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=chosen("high_latency", ChosenBy.PERSON,
                                                                            actor="U0BOB"), rows={})
    assert "Chosen by <@U0BOB>" in json.dumps(blocks)


def test_with_no_runbook_the_picker_offers_all_and_preselects_the_models_guess() -> None:
    names = [(n, LIBRARY.runbooks[n].title) for n in LIBRARY.names()]
    unsure = chosen(None, ChosenBy.NONE, suggestion={"runbook": "model_drift", "confidence": 0.41})
    _, blocks = no_runbook(incident=INCIDENT, choice=unsure, names=names)
    picker = interactive(blocks)[0]
    assert picker["action_id"] == ActionId.RUNBOOK_PICK
    assert [o["value"] for o in picker["options"]] == LIBRARY.names()
    assert picker["initial_option"]["value"] == "model_drift"
    assert "*model_drift* (41% sure)" in json.dumps(blocks, ensure_ascii=False)
    down = chosen(None, ChosenBy.NONE, reason="the worker is <down>")
    _, blocks = no_runbook(incident=INCIDENT, choice=down, names=names)
    assert "initial_option" not in interactive(blocks)[0] and "&lt;down&gt;" in json.dumps(blocks)


def test_the_overview_carries_branches_escalation_and_the_template() -> None:
    runbook = LIBRARY.runbooks["security"]
    blocks = runbook_overview(runbook=runbook, choice=chosen("security"), names=LIBRARY.names())
    shown = json.dumps(blocks, ensure_ascii=False)
    assert runbook.branches[0].when in shown and runbook.escalation.notes[0][:40] in shown
    assert f"`{runbook.communication.template}`" in shown


def test_step_events_read_well_in_the_channel_and_the_postmortem() -> None:
    from bot.core.postmortem.timeline_rows import describe
    from bot.slack.blocks import timeline_event_line
    from storage.models import TimelineEvent

    done = TimelineEvent(kind="runbook", actor="U0ALICE", text="step done: Scale up the service", occurred_at=NOW,
                         data={"runbook": "high_latency", "step": "scale-up", "done": True, "via": "action #3"})
    switched = TimelineEvent(kind="runbook", actor="U0BOB", text="switched the runbook from high_latency to security",
                             occurred_at=NOW, data={"runbook": "security", "previous": "high_latency"})
    assert timeline_event_line(done) == "✅ <@U0ALICE>: step done: Scale up the service"
    assert timeline_event_line(switched).startswith("📘 <@U0BOB>: switched the runbook")
    assert describe(done) == "Runbook high_latency: step done: Scale up the service"
    assert describe(switched) == "Runbook: switched the runbook from high_latency to security"


def test_the_current_phases_open_steps_show_their_commands_filled_in() -> None:
    from bot.config import IncidentBotConfig
    from runbooks.engine.commands import CommandFacts

    config = IncidentBotConfig.from_mapping({"services": {"scoring-api": {
        "ecs": {"cluster": "scoring-prod", "service": "scoring-svc", "min": 1, "max": 4}}}})
    facts = CommandFacts.of(service_name="scoring-api", service=config.services["scoring-api"], region="eu-west-1")
    runbook = LIBRARY.runbooks["deployment_failure"]
    _, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=chosen("deployment_failure"), rows={},
                          facts=facts)

    def line(step_id: str) -> str:
        return next(b for b in blocks if b.get("block_id", "").endswith(f"-{step_id}"))["text"]["text"]

    shown = line("check-stopped-tasks")  # triage: the current phase
    assert ("```aws ecs list-tasks --cluster scoring-prod --service scoring-svc --desired-status STOPPED"
            in shown)
    assert "{cluster}" not in shown and "multimodal-prod" not in shown
    assert "--query 'tasks[0].stoppedReason'" in shown and shown.endswith("```")
    assert "```" not in line("rollback-deploy")  # containment comes later
    # Once triage is done, containment's commands show, and the done steps' go.
    rows = {step.id: RunbookStep(step_id=step.id, state=StepState.DONE.value, done_by="U0ALICE", done_at=NOW,
                                 title=step.title, runbook=runbook.name)
            for step in runbook.phases[0].steps}
    _, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=chosen("deployment_failure"), rows=rows,
                          facts=facts)
    assert "```" not in line("check-stopped-tasks")
    assert "--cluster scoring-prod --service scoring-svc" in line("rollback-deploy")


def test_commands_are_escaped_and_bounded() -> None:
    from runbooks.engine.commands import CommandFacts
    from runbooks.engine.schema import Runbook

    how = "curl <https://evil|click> && echo `id` *bold* <!channel>\n" + "x" * 3000
    runbook = Runbook.model_validate({
        "name": "odd", "title": "Odd one", "summary": "A runbook with odd commands.", "severity": "P2",
        "phases": [{"phase": "triage", "steps": [
            {"id": "odd", "title": "Run the odd one", "why": "To test escaping.", "how": how[:1500]}]}]})
    _, blocks = checklist(incident=INCIDENT, runbook=runbook, choice=chosen("odd"), rows={},
                          facts=CommandFacts(service="svc"))
    text = next(b for b in blocks if b.get("block_id", "").endswith("-odd"))["text"]["text"]
    assert len(text) < 1000 and text.endswith("…```")
    code = text[text.index("```") + 3:-3]
    assert "<" not in code and ">" not in code and "`" not in code
    assert "&lt;!channel&gt;" in code and "&amp;&amp;" in code
