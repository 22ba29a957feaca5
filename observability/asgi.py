"""An ASGI middleware that runs each HTTP request under a correlation id.

The id is the request's `X-Request-Id` when it sent a usable one (the bot calling the worker, or
a proxy in front of either), so one id spans processes; otherwise a fresh one. It is echoed in
the response's `X-Request-Id`, so whoever called can quote it. Plain ASGI, no web framework
imported, so the bot and the worker wrap their apps in the same one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from observability.correlation import REQUEST_ID_HEADER, accepted, bound, new_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADER = REQUEST_ID_HEADER.lower().encode("latin-1")


def request_kind(path: str) -> str:
    """What a fresh id is prefixed with: which door the request came in by."""
    if path.startswith("/slack/"):
        return "slack"
    if path.startswith("/webhooks/"):
        return "webhook"
    return "request"


# Which requests get a line of their own once answered (method, path, status, milliseconds):
# every one (the bot: it replaces uvicorn's access log, which is written outside the request and
# so knows no correlation id), only those that sent an `X-Request-Id` (the worker: its anonymous
# prediction traffic is too hot to log line by line, the bot's calls are few and worth finding),
# or none.
RequestLog = Literal["all", "sent", "none"]


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp, *, log_requests: RequestLog = "all", logger: str = "http") -> None:
        self.app = app
        self._log_requests = log_requests
        self._log = logging.getLogger(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        sent = next((value for name, value in scope.get("headers", ()) if name == _HEADER), None)
        taken = accepted(sent.decode("latin-1") if sent is not None else None)
        correlation_id = taken or new_id(request_kind(path))
        status = 500  # what the server answers if the app raises before starting a response
        started = time.monotonic()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message.get("status", 500))
                headers = [*message.get("headers", ()), (_HEADER, correlation_id.encode("latin-1"))]
                message = {**message, "headers": headers}
            await send(message)

        with bound(correlation_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if self._log_requests == "all" or (self._log_requests == "sent" and taken is not None):
                    # The path only: a query string is the caller's to keep out of our logs.
                    self._log.info("%s %s %d in %.0f ms", scope.get("method", "?"), path[:200], status,
                                   (time.monotonic() - started) * 1000)
