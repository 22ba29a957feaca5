"""CloudWatch Logs as a log source: ``filter_log_events`` over a window, with bounded paging.

A log group that does not exist is ``ProviderRejected(status=404)``. A busy group stops at the
caller's limit (and at ``MAX_PAGES``) and says it was truncated, rather than reading for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.core.ports.logs import LogEvent, LogEvents
from bot.integrations.aws import DEFAULT_MAX_ATTEMPTS, AwsService

PROVIDER = "logs"
MAX_PAGES = 50
PAGE_SIZE = 1000  # CloudWatch's own most per page (10,000 is the API's bound; 1,000 keeps pages small)


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class Boto3Logs:
    """``LogSource`` over boto3. Pass ``client`` to share a ready boto3 logs client."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 client: Any = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._aws = AwsService(PROVIDER, endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def events(self, *, group: str, start: datetime, end: datetime, pattern: str | None = None,
                     limit: int = 5000) -> LogEvents:
        if limit < 1:
            raise ValueError(f"limit must be positive: {limit}")
        params: dict[str, Any] = {"logGroupName": group, "startTime": _millis(start), "endTime": _millis(end)}
        if pattern:
            params["filterPattern"] = pattern

        def read(client: Any) -> LogEvents:
            found: list[LogEvent] = []
            token: str | None = None
            for _ in range(MAX_PAGES):
                page = client.filter_log_events(**params, limit=min(PAGE_SIZE, limit - len(found)),
                                                **({"nextToken": token} if token else {}))
                found.extend(_event(raw) for raw in page.get("events") or ())
                token = page.get("nextToken")
                if not token or len(found) >= limit:
                    break
            found.sort(key=lambda e: e.at)
            return LogEvents(events=tuple(found[:limit]), truncated=bool(token))

        return await self._aws.run(read, what=f"read log group {group}")


def _event(raw: dict[str, Any]) -> LogEvent:
    at = datetime.fromtimestamp(int(raw.get("timestamp") or 0) / 1000, tz=UTC)
    return LogEvent(at=at, message=str(raw.get("message") or ""), stream=str(raw.get("logStreamName") or ""))
