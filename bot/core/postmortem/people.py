"""People in a draft: the record keeps Slack ids, the draft shows names.

Facts carry people as bare ids (``U0ALICE``) in person fields and as Slack mention markup
(``<@U0ALICE>``, ``<@U0ALICE|alice>``) inside text. Just before rendering, the ids are looked up
once each through a ``PeopleDirectory`` (the Slack gateway's users.info, cached), and the
renderer shows ``Alice Adams`` where a person field is and ``@Alice Adams`` inside text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from typing import Any, Protocol

Names = Mapping[str, str]

USER_ID = re.compile(r"[UW](?=[A-Z0-9]*\d)[A-Z0-9]{2,}")
_WHOLE_ID = re.compile(rf"^{USER_ID.pattern}$")
# Slack's escaped forms: <@U123>, <@U123|label>, <#C123|name>, <!subteam^S123|@handle>, <!here>.
_SLACK_MARKUP = re.compile(r"<(@|#|!subteam\^|!)([A-Za-z0-9_.-]+)(?:\|([^<>]*))?>")


class PeopleDirectory(Protocol):
    async def display_names(self, user_ids: Collection[str]) -> Names:
        """Each known id's name; ids it cannot name are left out (and shown as ids)."""
        ...


def is_user_id(value: str) -> bool:
    return bool(_WHOLE_ID.match(value))


def mention(actor: str | None) -> str:
    """An actor inside text: Slack ids as mention markup (shown as names), others as they are."""
    if not actor:
        return "—"
    return f"<@{actor}>" if is_user_id(actor) else actor


def person_name(actor: str | None, names: Names) -> str:
    """A person field: the name Slack gives, ``@U…`` where there is none, other actors as they are."""
    if not actor:
        return "—"
    if is_user_id(actor):
        return names.get(actor) or f"@{actor}"
    return actor


def plain_mentions(text: str, names: Names) -> str:
    """Slack markup in text as a reader sees it: ``<@U0BOB|bob>`` → ``@Bob Brown``, ``<#C1|ops>`` → ``#ops``."""
    def shown(match: re.Match[str]) -> str:
        sigil, target, label = match.group(1), match.group(2), match.group(3)
        if sigil == "@":
            return "@" + (names.get(target) or (label or target).lstrip("@"))
        if sigil == "#":
            return "#" + (label or target).lstrip("#")
        if sigil == "!subteam^":
            return "@" + (label or target).lstrip("@")
        return "@" + (label or target)  # <!here>, <!channel>, <!everyone>

    return _SLACK_MARKUP.sub(shown, text)


def people_in(value: Any) -> set[str]:
    """Every Slack user id in ``value`` (facts: dataclasses, tuples, dicts, strings), to look up once."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, str):
            if is_user_id(node):
                found.add(node)
            found.update(m.group(2) for m in _SLACK_MARKUP.finditer(node)
                         if m.group(1) == "@" and is_user_id(m.group(2)))
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            for item in dataclasses.fields(node):
                walk(getattr(node, item.name))
        elif isinstance(node, Mapping):
            for key, item in node.items():
                walk(key)
                walk(item)
        elif isinstance(node, list | tuple | set | frozenset):
            for item in node:
                walk(item)

    walk(value)
    return found
