"""Block Kit for error budgets: the daily digest of one service.

Pure functions over the figures the budget job stored; nothing here reads CloudWatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.budgets import percent, times
from bot.slack.format import escape_mrkdwn

Block = dict[str, Any]

_BURN_WORDS = {"fast": "🔥 *fast burn*", "slow": "🟠 *slow burn*", "none": "🟢 on pace"}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def digest_text(figures: Mapping[str, Any]) -> str:
    service = escape_mrkdwn(str(figures.get("service", "?")))
    return f"Error budget digest for {service}, {figures.get('date', '')}"


def digest(figures: Mapping[str, Any]) -> list[Block]:
    """One service's budget: spent and left this window, burn over the last hour and day, and
    the slow burns the checks saw since the last digest (seed 004's daily summary)."""
    service = escape_mrkdwn(str(figures.get("service", "?")))
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text",
                                                       "text": f"Error budget: {figures.get('service', '?')}"[:150]}}]
    if figures.get("unread"):
        blocks.append(_section(f"⚠️ The error budget of *{service}* could not be read from CloudWatch today."))
    else:
        target = _number(figures.get("target"))
        lines = [
            f"*SLO* {target * 100:.2f}% of requests succeed" if target is not None else "*SLO* unknown",
            f"*Budget* {percent(_number(figures.get('spent')))} spent · {percent(_number(figures.get('left')))} left "
            f"({_number(figures.get('bad')) or 0:,.0f} of {_number(figures.get('total')) or 0:,.0f} requests failed "
            "this window)",
            f"*Burn rate* {times(_number(figures.get('rate_1h')))} last hour · "
            f"{times(_number(figures.get('rate_24h')))} last day · now "
            + _BURN_WORDS.get(str(figures.get("burn")), "unknown"),
        ]
        blocks.append(_section("\n".join(lines)))
    seen = figures.get("seen_slow_burn") or {}
    if isinstance(seen, Mapping) and seen:
        blocks.append(_section(
            f"🟠 *Slow burn* seen since {escape_mrkdwn(str(seen.get('since', '?'))[:16].replace('T', ' '))} UTC, "
            f"peak {times(_number(seen.get('peak')))} (over 2x: the budget runs out before the window ends)"))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   "Fast burns (over 10x) open an incident at once; slow burns (over 2x) are summarised here daily."}]})
    return blocks


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
