"""Block Kit for an investigation: "looking…" while it runs, then its finding. Pure functions.

A finding's headline and lines are mrkdwn-safe already (the investigation escapes what it read).
"""

from __future__ import annotations

from bot.core.text import escape_mrkdwn
from bot.slack.blocks import Block, context, section
from runbooks.investigations.base import Finding, InvestigationKind

MAX_LINES = 12


def looking_message(*, number: int, kind: InvestigationKind, service: str) -> tuple[str, list[Block]]:
    text = f"🔎 Looking at {kind.value} for {service} (incident #{number})…"
    return text, [section(f"🔎 *Investigating incident #{number}*: {escape_mrkdwn(kind.label)} "
                          f"for `{escape_mrkdwn(service)}`…")]


def finding_message(*, number: int, finding: Finding, file_note: str | None = None) -> tuple[str, list[Block]]:
    text = f"Investigation for incident #{number}: {finding.headline}"
    body = f"{finding.verdict.emoji} *{finding.headline}*"
    if finding.lines:
        body += "\n" + "\n".join(f"• {line}" for line in finding.lines[:MAX_LINES])
    blocks: list[Block] = [section(f"🔎 *Investigation for incident #{number}*: {escape_mrkdwn(finding.kind.label)}"),
                           section(body[:2900])]
    took = f"took {finding.seconds:.1f} s · " if finding.seconds is not None else ""
    blocks.append(context(f"{took}read-only · on the incident timeline" + (f" · {file_note}" if file_note else "")))
    return text, blocks
