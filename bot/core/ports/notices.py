"""Where an approved notice goes: the outbox queues it for the audience's Slack channel and,
if configured, its status page; the edges deliver it.

The core's `publish_notice` action asks a `NoticePublisher` to queue the notice (the core's
`bot.core.notice_queue.OutboxNoticePublisher`), so a status page that is down is retried by the
outbox rather than lost; `bot.slack.notice_writes` posts to the channel and
`bot.integrations.status_page` sends to the status page's webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class StatusPageTarget:
    url: str
    token: str | None  # the bearer token, read from the configured environment variable
    timeout_seconds: float


class StatusPage(Protocol):
    async def send(self, target: StatusPageTarget, *, body: dict[str, Any], idempotency_key: str) -> int:
        """POST ``body`` as JSON; returns the HTTP status of a 2xx answer.

        Raises `ProviderUnavailable` (timeout, no connection, 429, 5xx: worth retrying) or
        `ProviderRejected` (any other refusal)."""
        ...


@dataclass(frozen=True)
class Publication:
    """One approved notice: ``notice_id`` is fixed when it is planned and keys every delivery,
    so a retried delivery is the same notice to the status page, never a second one."""

    notice_id: str
    audience: str
    text: str
    status: str  # the status page status the notice announces: investigating, monitoring, resolved


class NoticePublisher(Protocol):
    async def publish(self, publication: Publication) -> tuple[str, ...]:
        """Queue the notice for each of its audience's outlets; returns their names ("channel",
        "status_page"). Queued once per ``notice_id``: a second call queues nothing."""
        ...
