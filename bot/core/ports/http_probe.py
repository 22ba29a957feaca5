"""What the bot reads over plain HTTP from a service it watches: a health URL, a ``/stats`` page.

An HTTP answer of any status is an answer (a health check that says 503 has said something);
only no answer at all is an error: ``ProviderUnavailable`` for a refused connection or a time-out,
``ProviderRejected`` for a URL the client will not follow (a redirect to another host).
`bot.integrations.http_probe` implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProbeAnswer:
    url: str  # the URL that answered (after same-host redirects)
    status: int
    body: bytes  # at most the client's limit
    truncated: bool  # the body went on past the limit and was not read further
    seconds: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class HttpProbe(Protocol):
    async def get(self, url: str) -> ProbeAnswer: ...
