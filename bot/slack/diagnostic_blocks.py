"""Block Kit for Diagnose: one message that fills in as the steps finish. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.text import escape_mrkdwn
from bot.slack.blocks import Block, context, section
from bot.slack.ids import ActionId
from runbooks.diagnostics.results import StepResult, worst

_OPENS = {"rollback": (ActionId.OPEN_ROLLBACK, "Rollback…"), "scale": (ActionId.OPEN_SCALE, "Scale…"),
          "flags": (ActionId.OPEN_FLAGS, "Flags…"), "failover": (ActionId.PROPOSE_FAILOVER, "Fail over…")}


# Enough for the golden set's three models with the worse one's comparison, per-class drops and
# suggested severity; the section's own 2,900-character cap still bounds it.
LINES_PER_STEP = 9


def diagnostics_message(*, number: int, results: Sequence[StepResult], total: int,
                        pending: Sequence[str] = ()) -> tuple[str, list[Block]]:
    done = len(results)
    finished = done >= total
    latest = f" · {escape_mrkdwn(results[-1].headline)}" if results and not finished else ""
    title = (f"🔬 *Diagnostics for incident #{number}*: " +
             (f"done, overall {worst([r.verdict for r in results]).value}" if finished else f"{done}/{total}{latest}"))
    text = f"Diagnostics for incident #{number}: {done}/{total}" + (f" {results[-1].headline}" if results else "")
    blocks: list[Block] = [section(title)]
    for result in results:
        body = f"{result.verdict.emoji} *{escape_mrkdwn(result.headline)}*"
        if result.lines and finished:
            body += "\n" + "\n".join(f"• {escape_mrkdwn(line)}" for line in result.lines[:LINES_PER_STEP])
        blocks.append(section(body[:2900]))
    if pending:
        blocks.append(context("⏳ " + " · ".join(pending)))
    suggestions = [s for r in results for s in r.suggestions if s.action in _OPENS] if finished else []
    for suggestion in suggestions[:3]:
        action_id, label = _OPENS[suggestion.action]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"💡 {escape_mrkdwn(suggestion.text)}"},
                       "accessory": {"type": "button", "action_id": action_id.value, "value": suggestion.action,
                                     "text": {"type": "plain_text", "text": label, "emoji": True}}})
    if finished:
        blocks.append(context("Every result is on the incident timeline. Buttons open the guarded action forms."))
    return text, blocks
