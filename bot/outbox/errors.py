"""How the outbox's own wiring can be wrong: a kind left without a writer."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.delivery import GiveUp


class MissingWriters(Exception):
    """The kind -> writer table leaves some outbox kinds without a writer; the app does not start."""

    def __init__(self, kinds: Iterable[str]) -> None:
        self.kinds = tuple(sorted(kinds))
        super().__init__("no outbox writer for: " + ", ".join(self.kinds))


class NoWriter(GiveUp):
    """A row's kind has no writer (queued by another version of the bot, or corrupt).

    It is a GiveUp so that the dispatcher keeps the row as failed, like any refused write,
    instead of retrying it forever or handing it to a writer that would guess.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(f"no writer for outbox kind {kind!r}")
