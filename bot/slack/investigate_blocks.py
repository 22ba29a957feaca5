"""Block Kit for an investigation: "looking…" while it runs, then its finding. Pure functions.

A finding's headline and lines are mrkdwn-safe already (the investigation escapes what it read).
A run started from a runbook step names the step, since it posts in the checklist's thread,
where several steps' findings may follow one another.
"""

from __future__ import annotations

from bot.core.text import escape_mrkdwn, truncate
from bot.slack.blocks import Block, context, section
from runbooks.investigations.base import Finding, InvestigationKind

MAX_LINES = 12


def _title(number: int, label: str, step: str | None) -> str:
    if step:
        return f"🔎 *Step “{escape_mrkdwn(truncate(step, 150))}”* (incident #{number}): {escape_mrkdwn(label)}"
    return f"🔎 *Investigation for incident #{number}*: {escape_mrkdwn(label)}"


def looking_message(*, number: int, kind: InvestigationKind, service: str, step: str | None = None,
                    correlation_id: str | None = None) -> tuple[str, list[Block]]:
    text = f"🔎 Looking at {kind.value} for {service} (incident #{number})…"
    what = f"for `{escape_mrkdwn(service)}`"
    if correlation_id:
        what += f", correlation id `{escape_mrkdwn(truncate(correlation_id, 128))}`"
    if step:
        return text, [section(f"{_title(number, kind.label, step)} {what}…")]
    return text, [section(f"🔎 *Investigating incident #{number}*: {escape_mrkdwn(kind.label)} {what}…")]


def finding_message(*, number: int, finding: Finding, file_note: str | None = None,
                    step: str | None = None) -> tuple[str, list[Block]]:
    text = f"Investigation for incident #{number}: {finding.headline}"
    body = f"{finding.verdict.emoji} *{finding.headline}*"
    if finding.lines:
        body += "\n" + "\n".join(f"• {line}" for line in finding.lines[:MAX_LINES])
    blocks: list[Block] = [section(_title(number, finding.kind.label, step)), section(body[:2900])]
    took = f"took {finding.seconds:.1f} s · " if finding.seconds is not None else ""
    blocks.append(context(f"{took}read-only · on the incident timeline" + (f" · {file_note}" if file_note else "")))
    return text, blocks
