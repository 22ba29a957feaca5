"""A stand-in AI orchestrator (seed 003) on loopback: its providers' health URLs and its admin API.

For the demo's provider-outage scenario and the failover tests. It routes a service's traffic
between named providers the way a real orchestrator's admin API would:

- ``GET /providers/<name>/health``: 200 ``{"status": "ok"}``, or what the provider is set to
  answer (503 ``{"status": "down"}`` in an outage), optionally after a delay;
- ``GET /admin/routing``: ``{"provider": <most traffic>, "weights": {name: percent}}``;
- ``PUT`` or ``POST /admin/routing`` with ``{"provider": name, "share": 0-100, "fallback": name}``:
  ``share`` percent to ``provider``, the rest to ``fallback``.

The admin API wants ``Authorization: Bearer <token>``; a wrong or missing token is a 401, an
unknown provider or a bad share a 400. It serves from its own thread, so the bot (in another
thread or process) and a test can both talk to it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 16 * 1024


@dataclass
class _Health:
    status: int = 200
    delay: float = 0.0
    recover_at: float | None = None  # monotonic time when it answers 200 again


class ProviderOrchestrator:
    def __init__(self, providers: Iterable[str], *, token: str, active: str | None = None) -> None:
        self.providers = list(providers)
        self.token = token
        self._lock = threading.Lock()
        self._health = {name: _Health() for name in self.providers}
        first = active or self.providers[0]
        self._weights: dict[str, int] = {name: 100 if name == first else 0 for name in self.providers}
        self.changes: list[dict[str, Any]] = []  # each routing change the admin API accepted, in order
        self.refused: list[tuple[int, str]] = []  # (status, why) of each refused admin call
        self._server = _server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # --- what a test or a scenario sets ------------------------------------------------------

    def set_health(self, provider: str, status: int, *, delay: float = 0.0, recover_after: float | None = None) -> None:
        with self._lock:
            recover = time.monotonic() + recover_after if recover_after is not None else None
            self._health[provider] = _Health(status=status, delay=delay, recover_at=recover)

    def route(self, provider: str, share: int = 100, fallback: str | None = None) -> None:
        with self._lock:
            self._set_weights(provider, share, fallback)

    @property
    def weights(self) -> dict[str, int]:
        with self._lock:
            return dict(self._weights)

    @property
    def active(self) -> str:
        weights = self.weights
        return max(weights, key=lambda name: weights[name])

    # --- serving -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def start(self) -> ProviderOrchestrator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ProviderOrchestrator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def health_answer(self, provider: str) -> tuple[int, float]:
        with self._lock:
            health = self._health.get(provider)
            if health is None:
                return 404, 0.0
            if health.recover_at is not None and time.monotonic() >= health.recover_at:
                self._health[provider] = health = _Health()
            return health.status, health.delay

    def routing(self) -> dict[str, Any]:
        return {"provider": self.active, "weights": self.weights}

    def change(self, body: Any) -> tuple[int, str]:
        if not isinstance(body, dict):
            return 400, "expected a JSON object"
        provider, share, fallback = body.get("provider"), body.get("share", 100), body.get("fallback")
        if provider not in self.providers:
            return 400, "unknown provider"
        if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
            return 400, "share is a whole percentage from 0 to 100"
        if share < 100 and fallback not in self.providers:
            return 400, "a share under 100 needs a known fallback for the rest"
        with self._lock:
            self._set_weights(provider, share, fallback)
            self.changes.append({"provider": provider, "share": share, "fallback": fallback})
        return 200, ""

    def _set_weights(self, provider: str, share: int, fallback: str | None) -> None:
        self._weights = {name: 0 for name in self.providers}
        self._weights[provider] = share
        if share < 100 and fallback is not None:
            self._weights[fallback] = 100 - share


def _server(orchestrator: ProviderOrchestrator) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            parts = path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "providers" and parts[2] == "health":
                status, delay = orchestrator.health_answer(parts[1])
                time.sleep(delay)
                self._json(status, {"status": "ok" if status < 300 else "down", "provider": parts[1]})
            elif path == "/admin/routing" and self._authorized():
                self._json(200, orchestrator.routing())
            elif path != "/admin/routing":
                self._json(404, {"error": "no such page"})

        def do_PUT(self) -> None:
            self._change()

        def do_POST(self) -> None:
            self._change()

        def _change(self) -> None:
            if self.path.split("?")[0] != "/admin/routing":
                self._json(404, {"error": "no such page"})
                return
            if not self._authorized():
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._refuse(413, "body too large")
                return
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                self._refuse(400, "not JSON")
                return
            status, why = orchestrator.change(body)
            if status != 200:
                self._refuse(status, why)
                return
            self._json(200, orchestrator.routing())

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {orchestrator.token}":
                return True
            self._refuse(401, "a valid bearer token is required")
            return False

        def _refuse(self, status: int, why: str) -> None:
            orchestrator.refused.append((status, why))
            self._json(status, {"error": why})

        def _json(self, status: int, value: Any) -> None:
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    return Server(("127.0.0.1", 0), Handler)
