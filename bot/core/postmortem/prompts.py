"""The [bracketed prompts] a draft leaves for the team, counted by section.

A prompt is bracketed text outside a link, its brackets unescaped: what the template writes
for the team. People's own words are escaped where the draft quotes them (``\\[``), so text
someone typed never counts as a prompt, and links (``[#channel](https://…)``) are not prompts.
The lines before the first section (the draft's own heading and note) are not counted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_PROMPT = re.compile(r"(?<!\\)\[((?:[^\[\]\\\n]|\\.)+)(?<!\\)\](?!\()")
_SECTION = re.compile(r"^##\s+(.+?)\s*$")
SHOWN_SECTIONS = 10  # the bundled template has nine sections


@dataclass(frozen=True)
class Prompt:
    section: str
    text: str


def unfilled_prompts(markdown: str) -> tuple[Prompt, ...]:
    found: list[Prompt] = []
    section = None
    for line in markdown.splitlines():
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1)
            continue
        if section is not None:
            found.extend(Prompt(section, match.group(1)) for match in _PROMPT.finditer(line))
    return tuple(found)


def where(prompts: tuple[Prompt, ...]) -> str:
    """"3 in Incident Summary, 2 in Lessons Learned, …": where the prompts are, most first."""
    counts = Counter(p.section for p in prompts).most_common()
    shown = ", ".join(f"{count} in {section}" for section, count in counts[:SHOWN_SECTIONS])
    more = len(counts) - SHOWN_SECTIONS
    return shown + (f" and {more} more section{'s' if more != 1 else ''}" if more > 0 else "")


def count_text(prompts: tuple[Prompt, ...]) -> str:
    """"1 prompt is" / "12 prompts are": for sentences about what is left."""
    return f"{len(prompts)} prompt{' is' if len(prompts) == 1 else 's are'}"
