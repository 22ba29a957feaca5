"""The runbook checklist, pinned in the incident channel. Pure builders.

One section per step, grouped by phase. A step bound to a guarded action carries that action's
button (it opens the action's form, prefilled from the step); a check carries Diagnose; a
manual step carries a checkbox. A step's line says when it was done and by whom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.checklists import RECORD_TICKER, ChosenBy, StepState
from bot.core.record_facts import Proof
from bot.core.text import escape_mrkdwn, truncate
from bot.slack.blocks import Block, context, section
from bot.slack.format import person, slack_date, slack_time
from bot.slack.ids import ActionId, BlockId
from runbooks.engine.commands import CommandFacts, fill
from runbooks.engine.schema import Runbook, Step
from storage.models import Incident, IncidentRunbook, RunbookStep

# Slack's limit is 50 blocks a message; the header and the branches take the rest.
_MAX_STEP_BLOCKS = 40
_PHASE_TITLES = {"triage": "Triage", "containment": "Containment", "investigation": "Investigation",
                 "resolution": "Resolution", "verification": "Verification"}
_BUTTON_LABELS = {"scale": "Scale…", "rollback": "Roll back…", "flag": "Set flag…", "stop": "Emergency stop…",
                  "redeploy": "Redeploy…", "diagnose": "Diagnose", "failover": "Fail over…",
                  "restore_provider": "Restore provider…", "evidence": "Preserve evidence"}
_MAX_BRANCHES = 6
# A step's commands as shown: enough for the seeds' longest (five lines); the rest is in
# `incident-bot runbooks show`. Keeps a step's text far under Slack's 3000 characters.
_MAX_COMMANDS_CHARS = 700
_CODE_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "ˋ"})


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def button_label(step: Step) -> str:
    if step.action is None:
        return ""
    action = step.action
    if action.scale is not None:
        return f"Scale to {action.scale.count}…" if action.scale.count is not None else \
            f"Scale {action.scale.delta:+d}…"
    if action.rollback is not None:
        return f"Roll back {action.rollback.kind}…"
    if action.flag is not None:
        return truncate(f"Set {action.flag.name}={action.flag.value}…", 75)
    if action.investigate is not None:
        return f"Investigate {action.investigate.replace('_', ' ')}"
    return _BUTTON_LABELS[action.kind]


def how_chosen(choice: IncidentRunbook) -> str:
    match choice.chosen_by:
        case ChosenBy.MODEL.value:
            sure = f" ({choice.confidence:.0%} sure)" if choice.confidence is not None else ""
            return f"Chosen by the incident-text model{sure} from the incident's text."
        case ChosenBy.PERSON.value:
            return f"Chosen by {person(choice.actor)}."
        case _:
            return f"Chosen by rule: {escape_mrkdwn(choice.reason)}."


def commands_block(how: str, facts: CommandFacts) -> str:
    """A step's ``how``, filled in, as a Slack code block: entities escaped, no backtick that could
    close it early, and bounded in length."""
    filled = truncate(fill(how.strip(), facts), _MAX_COMMANDS_CHARS)
    return "```" + filled.translate(_CODE_ENTITIES) + "```"


def _step_line(step: Step, row: RunbookStep | None, proof: Sequence[Proof] = (),
               facts: CommandFacts | None = None) -> str:
    title = escape_mrkdwn(step.title)
    why = escape_mrkdwn(truncate(step.why, 200))
    if row is not None and row.state == StepState.DONE.value:
        if row.done_by == RECORD_TICKER and proof:
            return f"✅ ~{title}~\n_Ticked by the record: {_proof_words(proof)}_"
        when = slack_date(row.done_at) if row.done_at else ""
        return f"✅ ~{title}~\n_Done by {person(row.done_by)} {when}_" + _in_thread(step)
    if row is not None and row.state == StepState.ACTING.value and row.action_id:
        return f"⏳ *{title}*\n_Action #{row.action_id} is under way; the step ticks when it succeeds._"
    if step.done_when:
        shown_fields = ", ".join(f.value.replace("_", " ") for f in step.done_when)
        why += f"\n_Ticks itself once the record shows: {shown_fields}._"
    why += _in_thread(step)
    if facts is not None and step.how.strip():
        why += "\n" + commands_block(step.how, facts)
    return f"⬜ *{title}*\n{why}"


def _in_thread(step: Step) -> str:
    """A read-only step's button (an investigation or Diagnose checks) posts its finding in this
    message's thread: say where to look."""
    if step.action is None or step.action.kind not in ("investigate", "diagnose"):
        return ""
    return "\n_Read-only; the finding posts in this message's thread._"


def _current_phase(runbook: Runbook, rows: Mapping[str, RunbookStep]) -> str | None:
    """The first phase with a step not yet done: where the responders are working now."""
    for phase in runbook.phases:
        if any((row := rows.get(step.id)) is None or row.state != StepState.DONE.value for step in phase.steps):
            return phase.phase.value
    return None


def _proof_words(proof: Sequence[Proof]) -> str:
    """"acknowledged by @alice at 09:32, joined by @bob at 09:33", in each reader's time zone."""
    return ", ".join(f"{p.fact.told(person(p.actor))} at {slack_time(p.at)}" for p in proof)


def _accessory(step: Step, row: RunbookStep | None) -> dict[str, Any]:
    done = row is not None and row.state == StepState.DONE.value
    if step.action is None:
        option = {"text": _plain("Done"), "value": step.id}
        element: dict[str, Any] = {"type": "checkboxes", "action_id": ActionId.RUNBOOK_STEP_CHECK.value,
                                   "options": [option]}
        if done:
            element["initial_options"] = [option]
        return element
    button: dict[str, Any] = {"type": "button", "action_id": ActionId.RUNBOOK_STEP.value,
                              "text": _plain(button_label(step)), "value": step.id}
    if step.action.kind == "stop":
        button["style"] = "danger"
    elif not done:
        button["style"] = "primary"
    return button


def checklist(*, incident: Incident, runbook: Runbook, choice: IncidentRunbook, rows: Mapping[str, RunbookStep],
              proofs: Mapping[str, Sequence[Proof]] | None = None,
              facts: CommandFacts | None = None) -> tuple[str, list[Block]]:
    """The whole checklist: header, steps by phase, and the branch hints.

    ``proofs``: for steps the incident's record proves done, the facts that prove it.
    ``facts``: the incident's service, cluster, region and alarm, which fill in the commands.

    Commands show under the open steps of the current phase only, inline rather than behind a
    "Show commands" button: those are the steps someone is doing now, and copying a command
    should take no click; all of them would make the pinned message a wall of code (and its
    edits heavy), and later phases' commands show once their phase comes.
    """
    facts = facts if facts is not None else CommandFacts(service=incident.service)
    current = _current_phase(runbook, rows)
    steps = runbook.steps()
    done = sum(1 for _, step in steps if (row := rows.get(step.id)) is not None and row.state == StepState.DONE.value)
    text = f"📘 Runbook {runbook.title} for incident #{incident.number}: {done}/{len(steps)} steps done"
    blocks: list[Block] = [
        section(f"📘 *Runbook: {escape_mrkdwn(runbook.title)}* · {done}/{len(steps)} steps done\n"
                f"{escape_mrkdwn(truncate(runbook.summary, 400))}"),
        context(how_chosen(choice) + " Change it with `/incident runbook NAME`."),
    ]
    step_blocks = 0
    for phase in runbook.phases:
        blocks.append(context(f"*{_PHASE_TITLES[phase.phase.value]}*"))
        for step in phase.steps:
            if step_blocks >= _MAX_STEP_BLOCKS:
                break
            row = rows.get(step.id)
            blocks.append({"type": "section", "block_id": f"{BlockId.RUNBOOK_STEP.value}-{step.id}",
                           "text": {"type": "mrkdwn", "text": _step_line(
                               step, row, (proofs or {}).get(step.id, ()),
                               facts if phase.phase.value == current else None)},
                           "accessory": _accessory(step, row)})
            step_blocks += 1
    if runbook.branches:
        hints = [f"• *{escape_mrkdwn(b.when)}*: {escape_mrkdwn(truncate(b.then, 180))}"
                 for b in runbook.branches[:_MAX_BRANCHES]]
        more = len(runbook.branches) - _MAX_BRANCHES
        if more > 0:
            hints.append(f"_…and {more} more: `/incident runbook` shows them all._")
        blocks.append(section("*If…*\n" + "\n".join(hints)))
    return text, blocks


def no_runbook(*, incident: Incident, choice: IncidentRunbook,
               names: Sequence[tuple[str, str]]) -> tuple[str, list[Block]]:
    """When nothing chose a runbook: the model's guess, if any, and a picker. ``names``: (name, title)."""
    guess = choice.suggestion or {}
    if guess.get("runbook"):
        why = (f"The incident-text model thinks *{escape_mrkdwn(str(guess['runbook']))}* "
               f"({float(guess.get('confidence') or 0):.0%} sure), too unsure to choose it.")
    else:
        why = escape_mrkdwn(choice.reason) or "No rule matched this incident."
    text = f"📘 Incident #{incident.number} has no runbook yet: pick one"
    options = [{"text": _plain(truncate(f"{title} ({name})", 75)), "value": name} for name, title in names[:100]]
    picker: dict[str, Any] = {"type": "static_select", "action_id": ActionId.RUNBOOK_PICK.value,
                              "placeholder": _plain("Choose a runbook"), "options": options}
    suggested = next((o for o in options if o["value"] == guess.get("runbook")), None)
    if suggested is not None:
        picker["initial_option"] = suggested
    blocks: list[Block] = [
        section(f"📘 *No runbook chosen yet.* {why}"),
        {"type": "actions", "block_id": BlockId.RUNBOOK_PICK.value, "elements": [picker]},
        context("Or type `/incident runbook NAME`. The checklist appears here once one is chosen."),
    ]
    return text, blocks


def runbook_overview(*, runbook: Runbook, choice: IncidentRunbook | None, names: Sequence[str]) -> list[Block]:
    """The answer to `/incident runbook`: what is followed and why, the branches, escalation notes."""
    lines = [f"📘 *{escape_mrkdwn(runbook.title)}* (`{runbook.name}`)"]
    if choice is not None:
        lines.append(how_chosen(choice))
    blocks: list[Block] = [section("\n".join(lines))]
    if runbook.branches:
        blocks.append(section("*If…*\n" + "\n".join(
            f"• *{escape_mrkdwn(b.when)}*: {escape_mrkdwn(truncate(b.then, 300))}" for b in runbook.branches)[:2900]))
    if runbook.escalation.notes:
        blocks.append(section("*Escalation*\n" + "\n".join(f"• {escape_mrkdwn(n)}"
                                                            for n in runbook.escalation.notes)[:2900]))
    notes = runbook.communication.notes
    blocks.append(context(f"Communication template: `{runbook.communication.template}`"
                          + (" · " + escape_mrkdwn(" ".join(notes))[:500] if notes else "")))
    listed = ", ".join(f"`{n}`" for n in names)
    blocks.append(context(f"Runbooks: {listed}. Switch with `/incident runbook NAME`."))
    return blocks
