"""A real HTTP server on loopback, in a thread, that answers each path as a test tells it to.

For the clients that read a service's own pages (a feature store's health, a ``/stats`` page):
a test sets what a path answers (status, body, headers, a delay before answering, a body that
drips or never ends) and points the client at ``server.url(path)``. It serves from its own
thread, so sync scenario tests (the bot in another thread) and async tests can both use it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    gap: float = 0.0  # seconds between body chunks


def json_answer(value: Any, status: int = 200) -> Answer:
    return Answer(status=status, body=json.dumps(value).encode(), headers={"Content-Type": "application/json"})


def endless(chunk: bytes = b"x" * 65536) -> Iterator[bytes]:
    while True:
        yield chunk


class LoopbackHttp:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                answer = server.answers.get(self.path.split("?")[0], Answer(status=404, body=b"no such page"))
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if isinstance(answer.body, bytes):
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in answer.body:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        time.sleep(answer.gap)
                except OSError:  # the client stopped reading, as it should
                    return

            def do_POST(self) -> None:  # answered as a GET would be, once the body is read
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, *_args: Any) -> None:
                pass  # a client that hung up mid-answer is what the tests are about

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def __enter__(self) -> LoopbackHttp:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
