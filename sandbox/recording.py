"""What the local Slack server saw: Web API calls in order, and posts to response_urls."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call: merged params (JSON fields parsed), HTTP status and response body."""

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    time: float
    token: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        return None if self.ok else self.response.get("error")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class CallRecorder:
    """An ordered, thread-safe log of calls; readers get copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []

    def record(self, method: str, params: dict[str, Any], status: int,
               response: dict[str, Any], token: str | None) -> None:
        call = RecordedCall(method, copy.deepcopy(params), status, copy.deepcopy(response),
                            time.monotonic(), token)
        with self._lock:
            self._calls.append(call)

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    async def wait_for(self, method: str | None = None, *, count: int = 1, timeout: float = 5.0,
                       where: Callable[[RecordedCall], bool] | None = None
                       ) -> list[RecordedCall]:
        """Wait (without blocking the event loop) until ``count`` matching calls were recorded.

        The bot under test posts from background tasks, so a test cannot assert right after
        the request that triggered the post.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls(method) if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = [c.method for c in self.calls()]
                raise TimeoutError(f"{count} x {method or 'any method'} not seen in {timeout}s; "
                                   f"calls so far: {seen}")
            await asyncio.sleep(0.01)


class ResponseInbox:
    """Bodies posted to response_urls, by the name in the URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: dict[str, list[dict[str, Any]]] = {}

    def add(self, name: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._posts.setdefault(name, []).append(copy.deepcopy(body))

    def get(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._posts.get(name, []))

    def clear(self) -> None:
        with self._lock:
            self._posts.clear()
