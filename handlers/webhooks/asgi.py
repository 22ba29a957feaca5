"""The webhook routes as plain ASGI, in front of the web framework.

In a storm a delivery's whole job before its 2xx is to be verified, parsed and appended to the
inbox, a few tens of microseconds; the web framework's routing and its request and response
objects cost several times that (``make bench-ingest``). So ``POST /webhooks/<route>`` is
answered here, from the ASGI scope, the raw body and a JSON answer, and every other request goes
on to the app behind. What a route does is in ``routes.py``; this module is only the plumbing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from handlers.webhooks.errors import MAX_BODY_BYTES, PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """What a route answers: a status and a JSON object, with any extra headers."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


class ClientGone(Exception):
    """The sender hung up before its body arrived: there is nobody to answer."""


@dataclass
class Incoming:
    """One delivery as it arrives: its headers, where it came from, and its body, read on demand."""

    scope: Scope
    receive: Receive
    _headers: dict[str, str] | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        """A request header by its lower-case name; the first one, as senders send one of each."""
        if self._headers is None:
            headers: dict[str, str] = {}
            for raw_name, raw_value in self.scope.get("headers", ()):
                headers.setdefault(raw_name.decode("latin-1").lower(), raw_value.decode("latin-1"))
            self._headers = headers
        return self._headers.get(name)

    @property
    def client(self) -> str:
        client = self.scope.get("client")
        return str(client[0]) if client else "unknown"

    async def body(self, *, limit: int = MAX_BODY_BYTES) -> bytes:
        """The raw body, refusing anything over ``limit`` (by default the senders' own 256 KB)
        without reading it all: a declared length over it is refused at once, a chunked body as it
        passes it."""
        declared = self.header("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


Route = Callable[[Incoming], Awaitable[Answer]]


class WebhookRoutes:
    """ASGI middleware: ``POST`` to one of ``routes`` (by exact path) is answered by that route;
    another method on such a path gets a 405; anything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, *, routes: Callable[[], dict[str, Route]]) -> None:
        self.app = app
        # Read at the first request, so the app may set its routes up after wrapping.
        self._routes = routes
        self._table: dict[str, Route] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._table is None:
            self._table = self._routes()
        route = self._table.get(scope.get("path", ""))
        if route is None:
            await self.app(scope, receive, send)
            return
        if scope.get("method") != "POST":
            await send_answer(send, Answer(405, {"error": "method not allowed"}, headers=(("allow", "POST"),)))
            return
        try:
            answer = await route(Incoming(scope, receive))
        except ClientGone:
            return
        except Exception:  # a bug: the sender retries on any 5xx; the error id finds the traceback
            error_id = uuid.uuid4().hex[:10]
            log.exception("unexpected error %s answering %s", error_id, scope.get("path", ""))
            answer = Answer(500, {"error": "unexpected error", "error_id": error_id})
        await send_answer(send, answer)


async def send_answer(send: Send, answer: Answer) -> None:
    body = json.dumps(answer.body, separators=(",", ":")).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii"))]
    headers.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
