"""A small, honest model of how Slack renders mrkdwn, for tests that check escaping.

It follows Slack's documented rules and the sandbox's renderer (sandbox/ui/mrkdwn.js):
``<...>`` is a mention, channel, broadcast or link; `` `x` `` is code wherever it stands; a
line that starts with ``>`` (or its entity) is a quote; ```` ``` ```` opens a pre block; and
``*``, ``_`` and ``~`` make bold, italics and strike when they pair on one line, the opener at
the start or after a character that is not a letter or digit and followed by non-space, the
closer after non-space and followed by the end or a character that is not a letter or digit.
Slack decodes only ``&amp;``, ``&lt;`` and ``&gt;``.
"""

from __future__ import annotations

import re

EMPHASIS_MARKS = {"*": "bold", "_": "italics", "~": "strike"}
# What a reader takes each look-alike for: the same mark, drawn by a character Slack ignores.
READS_AS = {"∗": "*", "ˍ": "_", "∼": "~", "ˋ": "`", "›": ">", "‹": "<"}

_ANGLE_TOKEN = re.compile(r"<[^<>\n]+>")
_CODE = re.compile(r"`[^`\n]+`")
_QUOTE = re.compile(r"^(?:&gt;|>)")


def _can_open(line: str, i: int) -> bool:
    before_ok = i == 0 or not line[i - 1].isalnum()
    return before_ok and i + 1 < len(line) and not line[i + 1].isspace()


def _can_close(line: str, i: int) -> bool:
    after_ok = i + 1 == len(line) or not line[i + 1].isalnum()
    return after_ok and i > 0 and not line[i - 1].isspace()


def _emphasis(line: str) -> list[str]:
    found = []
    for i, mark in enumerate(line):
        if mark not in EMPHASIS_MARKS or not _can_open(line, i):
            continue
        j = line.find(mark, i + 1)
        if j > i + 1 and _can_close(line, j):
            found.append(f"{EMPHASIS_MARKS[mark]}: {line[i:j + 1]!r}")
    return found


def formatting(text: str) -> list[str]:
    """Every piece of formatting Slack would apply to ``text``; [] for text shown as typed."""
    found = [f"link or mention: {m.group()!r}" for m in _ANGLE_TOKEN.finditer(text)]
    if "```" in text:
        found.append("pre block")
    found += [f"code: {m.group()!r}" for m in _CODE.finditer(text)]
    for line in text.split("\n"):
        if _QUOTE.match(line):
            found.append(f"quote: {line!r}")
        found += _emphasis(line)
    return found


def shown(text: str) -> str:
    """The characters Slack shows for unformatted ``text``: the three entities decoded."""
    return re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


def read_back(text: str) -> str:
    """What a person reads: the shown characters, each look-alike read as the mark it draws."""
    return "".join(READS_AS.get(ch, ch) for ch in shown(text))
