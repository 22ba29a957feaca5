"""Slack messages as a person would read them, rendered for a terminal.

Block Kit becomes lines of text: headers in capitals, fields side by side as "Label: value",
context lines dimmed, buttons in brackets; mentions, channel links and dates are resolved the
way the Slack client shows them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_DATE = re.compile(r"<!date\^(\d+)\^[^|>]*(?:\|([^>]*))?>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")

Lookup = Callable[[str], str | None]


def render_mrkdwn(text: str, *, user_name: Lookup, channel_name: Lookup) -> str:
    text = _USER.sub(lambda m: "@" + (user_name(m.group(1)) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or channel_name(m.group(1)) or m.group(1)), text)
    text = _DATE.sub(lambda m: datetime.fromtimestamp(int(m.group(1)), UTC).strftime("%H:%M UTC"), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = "\n".join("│ " + line[1:] if line.startswith(">") else line for line in text.split("\n"))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_blocks(blocks: Iterable[dict[str, Any]], *, user_name: Lookup, channel_name: Lookup) -> list[str]:
    def md(value: dict[str, Any] | None) -> str:
        return render_mrkdwn((value or {}).get("text", ""), user_name=user_name, channel_name=channel_name)

    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(md(block.get("text")).upper())
        elif kind == "section":
            if block.get("text"):
                lines.extend(md(block["text"]).splitlines())
            fields = [md(f).replace("\n", ": ", 1).replace("*", "") for f in block.get("fields", [])]
            for left, right in zip(fields[::2], fields[1::2] + [""] * (len(fields) % 2), strict=True):
                lines.append(f"{left:<38}{right}".rstrip())
        elif kind == "context":
            lines.append("  " + " ".join(md(e) for e in block.get("elements", []) if e.get("type") != "image"))
        elif kind == "actions":
            lines.append(" ".join(f"[ {md(e.get('text'))} ]" for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("─" * 40)
    return lines


def render_message(message: Any, *, user_name: Lookup, channel_name: Lookup, pinned: bool = False) -> list[str]:
    author = user_name(message.user) or message.user
    when = datetime.fromtimestamp(float(message.ts), UTC).strftime("%H:%M:%S")
    marks = " 📌 pinned" if pinned else ""
    if message.edit_count:
        marks += f" (edited {message.edit_count}x)"
    body = (
        render_blocks(message.blocks, user_name=user_name, channel_name=channel_name)
        if message.blocks
        else render_mrkdwn(message.text or "", user_name=user_name, channel_name=channel_name).splitlines()
    )
    return [f"{author}  {when}{marks}"] + [f"    {line}" for line in body]
