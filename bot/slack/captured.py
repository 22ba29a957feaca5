"""A Slack message, as the timeline keeps it: its words, its author, and references to its files."""

from __future__ import annotations

from typing import Any

from bot.core.captures import CapturedFile, CapturedMessage

PIN_REACTIONS = frozenset({"pushpin", "round_pushpin"})


def captured_from(message: dict[str, Any], *, permalink: str = "") -> CapturedMessage:
    files = []
    listed = message.get("files")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict) and item.get("id"):
            files.append(CapturedFile(
                id=str(item["id"])[:64], name=str(item.get("name") or item.get("title") or item["id"])[:200],
                mimetype=str(item.get("mimetype") or "")[:100],
                permalink=str(item.get("permalink") or item.get("url_private") or "")[:500]))
    author = message.get("user") or message.get("bot_id") or message.get("username") or "unknown"
    text = message.get("text")
    return CapturedMessage(ts=str(message.get("ts") or "")[:32], author=str(author)[:64],
                           text=text if isinstance(text, str) else "",
                           files=tuple(files), permalink=permalink[:500])
