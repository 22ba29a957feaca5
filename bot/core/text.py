"""Making people's text safe to show in Slack, and channel names from titles.

The database keeps exactly what people typed; only the copies sent to Slack are cleaned.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

# Slack's limits: channel names 80 chars, header blocks 150, topics 250.
CHANNEL_NAME_MAX = 80
DISPLAY_TITLE_MAX = 150
TOPIC_MAX = 250

_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_WHITESPACE = re.compile(r"\s+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_DEFUSE = str.maketrans({"<": "‹", ">": "›"})


def clean_text(text: str, *, limit: int | None = None) -> str:
    """One line of printable text: control and format characters go, whitespace folds."""
    kept = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in text
        if ch in "\t\r\n" or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    folded = _WHITESPACE.sub(" ", kept).strip()
    return truncate(folded, limit) if limit else folded


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Slack's mrkdwn has no escape for its marks, and an invisible character beside one is read
# differently by each client; a look-alike that no client parses reads the same everywhere.
_EMPHASIS_LOOKALIKES = {"*": "∗", "_": "ˍ", "~": "∼"}
_CODE_LOOKALIKE = "ˋ"
_QUOTE_LOOKALIKE = "›"


def escape_mrkdwn(text: str) -> str:
    """People's words for any mrkdwn field, shown as typed: never a mention, link or format.

    &, < and > become Slack's entities, which disarms <!channel> and <@U…>. A mark that could
    open or close bold, italics or strike becomes its look-alike; marks inside a word cannot,
    so ``ticket_classifier`` stays copyable. Backticks pair anywhere, and a ``>`` starting a
    line quotes it, so those always become look-alikes.
    """
    shown = []
    for i, ch in enumerate(text):
        if ch in _EMPHASIS_LOOKALIKES and not _inside_word(text, i):
            ch = _EMPHASIS_LOOKALIKES[ch]
        elif ch == "`":
            ch = _CODE_LOOKALIKE
        elif ch == ">" and (i == 0 or text[i - 1] == "\n"):
            ch = _QUOTE_LOOKALIKE
        shown.append(ch)
    return "".join(shown).translate(_ENTITIES)


def _inside_word(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


def display_title(title: str, *, limit: int = DISPLAY_TITLE_MAX) -> str:
    """The title as Slack shows it, in plain_text and mrkdwn alike.

    Angle brackets become look-alike quotes: plain_text fields can't be escaped, and a title
    must never turn into <!channel>, a user mention or a link, wherever it is shown.
    """
    defused = title.translate(_DEFUSE)
    return clean_text(defused, limit=limit) or "Untitled incident"


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")


def incident_channel_name(*, declared_at: datetime, number: int, title: str, attempt: int = 0) -> str:
    """``inc-<yyyymmdd>-<number>-<slug>``, valid for Slack; ``attempt`` adds a clash suffix."""
    prefix = f"inc-{declared_at:%Y%m%d}-{number}"
    suffix = f"-{attempt + 1}" if attempt else ""
    room = CHANNEL_NAME_MAX - len(prefix) - len(suffix) - 1
    title_slug = slug(title)[:room].rstrip("-") if room > 0 else ""
    name = f"{prefix}-{title_slug}" if title_slug else prefix
    return name + suffix
