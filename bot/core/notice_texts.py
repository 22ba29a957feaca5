"""The words of notices for audiences outside the incident: plain functions, no database.

What a customer may read is checked here: a customer notice must not name a service, model,
ECS cluster, flag, log group, channel or person. The check is a list of the internal names the
configuration knows, matched as whole words in any case; it cannot know every internal word,
which is why a second person still reads the notice before it leaves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.config import IncidentBotConfig
from bot.config.severity import Severity
from bot.core.lifecycle import Status
from bot.core.text import clean_text, truncate

__all__ = [
    "CUSTOMER_NOTICE_MAX",
    "IMPACT_PHRASES",
    "STATUS_WORDS",
    "impact_phrase",
    "internal_names",
    "leaks_in",
    "neutral_line",
    "prompts_in",
    "section_of",
    "status_word",
    "status_word_of",
]

# A status page incident body; long enough for the seeds' notices, short enough to read.
CUSTOMER_NOTICE_MAX = 2000
# Names shorter than this ("v1", "ml") match too much ordinary text to be worth refusing.
_SHORTEST_NAME = 3

STATUS_WORDS = {
    Status.TRIGGERED: "Investigating",
    Status.ACKNOWLEDGED: "Investigating",
    Status.MITIGATED: "Monitoring",
    Status.RESOLVED: "Resolved",
    Status.CLOSED: "Resolved",
}
# How a status page names what customers see at each severity (seed 003: P0 "complete system
# outage", P1 "major functionality impacted", P2 "partial", P3 "no user impact").
IMPACT_PHRASES = {
    Severity.P0: "Service outage",
    Severity.P1: "Major service disruption",
    Severity.P2: "Degraded performance",
    Severity.P3: "Minor issue",
}
# Slack mentions and links (<@U1>, <#C1>, <!here>, <https://...|x>): never in a customer notice.
_SLACK_MARKUP = re.compile(r"<[@#!][^>]*>|<https?://[^>]*>")
# A template's [Label: what to write] prompt, whatever the label: a notice published with one
# in it would print the question as news.
_ANY_PROMPT = re.compile(r"\[[A-Z][A-Za-z /]{1,40}: [^\]\n]*\]")


def status_word(status: Status | str) -> str:
    return STATUS_WORDS[Status(status)]


def impact_phrase(severity: Severity | str) -> str:
    return IMPACT_PHRASES[Severity.parse(severity)]


def status_word_of(text: str) -> str:
    """The status page status a notice announces, from its first word ("Investigating: ...")."""
    first = text.strip().split(":", 1)[0].strip().lower()
    known = {word.lower() for word in STATUS_WORDS.values()} | {"identified"}
    return first if first in known else "investigating"


def internal_names(config: IncidentBotConfig, *, extra: Iterable[str] = ()) -> list[str]:
    """Every name the configuration gives an internal thing, longest first."""
    names: set[str] = set(extra)
    for name, service in config.services.items():
        names.update((name, *service.aliases, *service.models))
        if service.ecs is not None:
            names.update((service.ecs.cluster, service.ecs.service))
        if service.flags is not None:
            names.update((service.flags.prefix.strip("/"), *service.flags.names))
        if service.logs is not None:
            names.add(service.logs.group)
    names.update((config.channels.announce, config.channels.escalations))
    names.update(audience.channel for audience in config.communication.audiences.values())
    return sorted((n for n in names if len(n.strip()) >= _SHORTEST_NAME), key=lambda n: (-len(n), n))


def leaks_in(text: str, config: IncidentBotConfig, *, extra: Iterable[str] = ()) -> list[str]:
    """The internal names (and Slack mentions or links) ``text`` contains, as configured."""
    found = [markup for markup in _SLACK_MARKUP.findall(text)]
    for name in internal_names(config, extra=extra):
        pattern = r"(?<![\w/-])" + re.escape(name) + r"(?![\w-])"
        if re.search(pattern, text, flags=re.IGNORECASE):
            found.append(name)
    return list(dict.fromkeys(found))


def prompts_in(text: str) -> list[str]:
    return _ANY_PROMPT.findall(text)


def neutral_line(*, number: int, status: Status | str, resolved: bool = False) -> str:
    """All a public audience hears of a confidential incident."""
    if resolved or Status(status) in (Status.RESOLVED, Status.CLOSED):
        return f"Confidential incident #{number} is resolved. Details stay with its responders."
    return (f"Confidential incident #{number} is being handled ({Status(status).label.lower()}). "
            "Details stay with its responders.")


_INLINE_HEADING = re.compile(r"^\s*\**\s*(?P<heading>[A-Za-z][A-Za-z /]{1,40}?)\s*\**\s*:\s*\**\s*(?P<rest>.*)$")


def section_of(text: str, heading: str, *, limit: int = 300) -> str | None:
    """What an update written from the template says under ``heading`` ("Impact", "Expected
    Resolution"), on the heading's line or the lines below it; None when it says nothing there
    or only a [bracketed prompt]."""
    lines = text.splitlines()
    wanted = heading.casefold()
    for index, line in enumerate(lines):
        match = _INLINE_HEADING.match(line)
        if match is None or match.group("heading").strip().casefold() != wanted:
            continue
        parts = [match.group("rest").strip()] if match.group("rest").strip() else []
        if not parts:
            for following in lines[index + 1:]:
                heading_line = _INLINE_HEADING.match(following) and not following.lstrip().startswith("-")
                if not following.strip() or heading_line:
                    break
                parts.append(following.strip())
        value = clean_text(" ".join(parts))
        if not value or (value.startswith("[") and value.endswith("]")):
            return None
        return truncate(value, limit)
    return None
