"""Typed mentions in a slash command, escaped as Slack escapes them before the app sees the text.

With ``should_escape: true`` in the manifest, Slack sends ``@alice`` as ``<@U0ALICE|alice>``, a
user group's ``@ml-oncall`` as ``<!subteam^S0MLONCALL|@ml-oncall>``, ``#general`` as
``<#C0GENERAL|general>`` and ``@here`` as ``<!here>``; a word that names nobody the workspace
knows stays as typed. Slack does this anywhere in the text, code spans included, and so does this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sandbox.models import Channel, User, UserGroup

# Not after a word character (an e-mail address) nor inside an escape already made (<@U…>, |@name>).
_AT_WORD = re.compile(r"(?<![\w<|@#^])@([A-Za-z0-9][A-Za-z0-9._-]*)")
_HASH_WORD = re.compile(r"(?<![\w<|@#&^])#([a-z0-9][a-z0-9_-]*)", re.IGNORECASE)
# Trailing dots, dashes and underscores end a sentence more often than a name: "ask @bob."
_TRAILING_PUNCTUATION = "._-"
BROADCASTS = ("here", "channel", "everyone")


@dataclass(frozen=True)
class Directory:
    """Who and what a typed name can mean, by lower-cased name; the escape to send for each."""

    people: Mapping[str, str]
    groups: Mapping[str, str]
    channels: Mapping[str, str]

    @classmethod
    def of(cls, users: Iterable[User], usergroups: Iterable[UserGroup], channels: Iterable[Channel]) -> Directory:
        people = {user.name.lower(): f"<@{user.id}|{user.name}>" for user in users if not user.is_bot}
        groups = {group.handle.lower(): f"<!subteam^{group.id}|@{group.handle}>" for group in usergroups}
        rooms = {channel.name.lower(): f"<#{channel.id}|{channel.name}>"
                 for channel in channels if not channel.is_im and not channel.is_private}
        return cls(people=people, groups=groups, channels=rooms)

    def at(self, name: str) -> str | None:
        key = name.lower()
        if key in BROADCASTS:
            return f"<!{key}>"
        return self.people.get(key) or self.groups.get(key)

    def hash(self, name: str) -> str | None:
        return self.channels.get(name.lower())


def _known(lookup: Callable[[str], str | None], sigil: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        while name:
            escaped = lookup(name)
            if escaped is not None:
                return escaped + match.group(1)[len(name):]
            if name[-1] not in _TRAILING_PUNCTUATION:
                break
            name = name[:-1]
        return sigil + match.group(1)

    return replace


def escape_mentions(text: str, directory: Directory) -> str:
    """``text`` with each known ``@name`` and ``#channel`` in Slack's escaped form."""
    text = _AT_WORD.sub(_known(directory.at, "@"), text)
    return _HASH_WORD.sub(_known(directory.hash, "#"), text)
