"""An AWS endpoint in front of moto whose Parameter Store lags behind one write, on request.

Everything is forwarded to moto unchanged, except that after ``lag(name)`` the next write of
``name`` is followed by reads that still answer the value from before it, as an eventually
consistent store can, until ``catch_up()``. A flag change then stays in verification as long as a
test needs it to, with nothing in the bot patched.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from sandbox.runner import ThreadedServer

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class LaggingParameterStore:
    def __init__(self, moto_url: str) -> None:
        self._moto_url = moto_url
        self._lock = threading.Lock()
        self._name: str | None = None
        self._before: tuple[int, bytes, dict[str, str]] | None = None  # the last read before the write
        self._lagging = False
        self.stale_reads = 0
        self._server = ThreadedServer(self._app())

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> LaggingParameterStore:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def lag(self, name: str) -> None:
        with self._lock:
            self._name, self._before, self._lagging, self.stale_reads = name, None, False, 0

    def catch_up(self) -> None:
        with self._lock:
            self._name, self._lagging = None, False

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
        async def forward(request: Request, path: str) -> Response:
            body = await request.body()
            target = request.headers.get("x-amz-target", "")
            name = _parameter_name(body)
            with self._lock:
                watched = self._name is not None and name == self._name
                if watched and target == "AmazonSSM.GetParameter" and self._lagging and self._before:
                    self.stale_reads += 1
                    status, content, headers = self._before
                    return Response(content, status_code=status, headers=headers)
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
            async with httpx.AsyncClient(timeout=30) as client:
                answer = await client.request(request.method, f"{self._moto_url}/{path}", params=request.query_params,
                                              content=body, headers=headers)
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
            with self._lock:
                if watched and target == "AmazonSSM.GetParameter" and not self._lagging:
                    self._before = (answer.status_code, answer.content, kept)
                if watched and target == "AmazonSSM.PutParameter" and self._before is not None:
                    self._lagging = True
            return Response(answer.content, status_code=answer.status_code, headers=kept)

        return app


def _parameter_name(body: bytes) -> str | None:
    try:
        parsed: Any = json.loads(body or b"{}")
    except ValueError:
        return None
    return parsed.get("Name") if isinstance(parsed, dict) else None
