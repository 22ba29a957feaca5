"""Posting to a configured channel given by name (``incidents``) or id, joining it if need be."""

from __future__ import annotations

from typing import Any

from bot.config import is_channel_id
from bot.slack.errors import SlackRejected
from bot.slack.gateway import PostedMessage, SlackGateway

_NOT_THERE = {"not_in_channel", "channel_not_found"}


class NamedChannel:
    """A channel from the config. The first post learns its id; later ones go straight to it."""

    def __init__(self, gateway: SlackGateway, name: str) -> None:
        self._gateway = gateway
        self._name = name
        self._channel_id: str | None = name if is_channel_id(name) else None

    async def post(self, *, text: str, blocks: list[dict[str, Any]] | None = None,
                   thread_ts: str | None = None) -> PostedMessage:
        target = self._channel_id or self._name
        try:
            posted = await self._gateway.post(target, text=text, blocks=blocks, thread_ts=thread_ts)
        except SlackRejected as exc:
            if exc.code not in _NOT_THERE:
                raise
            # The bot must be a member to post; public channels it can join by itself.
            channel_id = await self._join()
            posted = await self._gateway.post(channel_id, text=text, blocks=blocks, thread_ts=thread_ts)
        self._channel_id = posted.channel_id
        return posted

    async def _join(self) -> str:
        channel_id = self._channel_id or await self._gateway.find_channel(self._name)
        if channel_id is None:
            raise SlackRejected("conversations.list", f"channel '{self._name}' not found")
        await self._gateway.join_channel(channel_id)
        return channel_id
