"""A runbook as Markdown, for `incident-bot runbooks show` and for reading outside Slack."""

from __future__ import annotations

from runbooks.engine.commands import CommandFacts, fill
from runbooks.engine.schema import Runbook, StepAction


def action_label(action: StepAction) -> str:
    """The bound action in words: "scale +2", "rollback model (1 step)", "flag AUTO_APPLY_ENABLED=false"."""
    match action.kind:
        case "scale":
            scale = action.scale
            assert scale is not None
            return f"scale {scale.delta:+d} tasks" if scale.delta is not None else f"scale to {scale.count} tasks"
        case "rollback":
            rollback = action.rollback
            assert rollback is not None
            target = f" {rollback.target}" if rollback.target else ""
            return f"rollback {rollback.kind}{target} ({rollback.steps} step{'s' if rollback.steps != 1 else ''})"
        case "flag":
            flag = action.flag
            assert flag is not None
            return f"flag {flag.name}={flag.value}"
        case "diagnose":
            diagnose = action.diagnose
            assert diagnose is not None
            return "diagnose" + (f": {', '.join(diagnose.steps)}" if diagnose.steps else "")
        case other:
            return other


def render(runbook: Runbook, facts: CommandFacts | None = None) -> str:
    """``facts``: a service's names to fill the commands in with; without, placeholders show as written."""
    lines = [f"# {runbook.title} (`{runbook.name}`)", "", runbook.summary, "",
             f"- **Default severity:** {runbook.severity.value}"]
    if runbook.seeds:
        lines.append(f"- **From seed runbooks:** {', '.join(runbook.seeds)}")
    match = runbook.match
    rules = [*(f"alarm `{a}`" for a in match.alarms), *(f"metric `{m}`" for m in match.metrics),
             *(f"PagerDuty service `{s}`" for s in match.pagerduty_services)]
    if match.text_class:
        rules.append(f"incident-text class `{match.text_class}`")
    if rules:
        lines.append("- **Matches:** " + ", ".join(rules))
    number = 0
    for phase in runbook.phases:
        lines += ["", f"## {phase.phase.value.capitalize()}", ""]
        for step in phase.steps:
            number += 1
            bound = f" — *{action_label(step.action)}*" if step.action else ""
            lines.append(f"{number}. [ ] **{step.title}**{bound}  ")
            lines.append(f"   {step.why}")
            if step.how:
                how = fill(step.how, facts) if facts is not None else step.how
                lines += ["", "   ```", *(f"   {line}" for line in how.strip().splitlines()), "   ```"]
    if runbook.branches:
        lines += ["", "## If…", ""]
        lines += [f"- **{b.when}:** {b.then}" for b in runbook.branches]
    if runbook.escalation.notes:
        lines += ["", "## Escalation", "", *(f"- {note}" for note in runbook.escalation.notes)]
    communication = runbook.communication
    lines += ["", "## Communication", "", f"- Template: `{communication.template}`"]
    if communication.audience:
        lines.append(f"- Tell: {', '.join(communication.audience)}")
    lines += [f"- {note}" for note in communication.notes]
    return "\n".join(lines) + "\n"
