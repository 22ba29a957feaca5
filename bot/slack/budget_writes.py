"""Posting the daily error-budget digest to each service's channel (a write of no incident)."""

from __future__ import annotations

from typing import Any

from bot.core.outbox import OutboxKind
from bot.slack import budget_blocks
from bot.slack.channels import NamedChannel
from bot.slack.gateway import SlackGateway


class BudgetWrites:
    def __init__(self, *, gateway: SlackGateway) -> None:
        self._gateway = gateway
        self._channels: dict[str, NamedChannel] = {}

    async def perform(self, kind: str, payload: dict[str, Any]) -> None:
        if kind != OutboxKind.BUDGET_DIGEST.value:
            raise ValueError(f"not a budget write: {kind}")
        await self.post_digest(payload)

    async def post_digest(self, figures: dict[str, Any]) -> None:
        name = str(figures["channel"])
        channel = self._channels.setdefault(name, NamedChannel(self._gateway, name))
        await channel.post(text=budget_blocks.digest_text(figures), blocks=budget_blocks.digest(figures))
