"""An AI orchestrator's admin API, which routes a service's traffic between its providers (seed 003).

The bot calls it to fail over and to restore (``PUT /admin/routing {"provider": ..., "share": ...}``)
and reads the routing back from it (``GET``). The token is never in the config: ``token_env``
names the environment variable that holds it, and the implementation reads it at each call.
`bot.integrations.provider_admin` implements it; every failure maps to the errors of
``bot.core.ports.errors`` (no answer: ``ProviderUnavailable``; a 4xx: ``ProviderRejected``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AdminAnswer:
    status: int
    body: Any  # the answer's JSON, or None when it sent none (or none that parses)


class ProviderAdmin(Protocol):
    async def call(self, *, method: str, url: str, body: Mapping[str, Any] | None = None,
                   token_env: str | None = None) -> AdminAnswer:
        """One request; a 2xx answer is returned, anything else raises."""
        ...
