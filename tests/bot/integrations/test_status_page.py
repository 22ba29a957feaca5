"""The status page client against a real HTTP server on loopback: what it sends, and how each
way a status page can fail is mapped for the outbox (retry, or give up)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.notices import StatusPageTarget
from bot.integrations.status_page import HttpxStatusPage


class Page:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []  # popped per request; empty: 201
        self.delay = 0.0
        self.received: list[tuple[str, dict[str, str], Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                owner.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(owner.delay)
                status, headers = owner.answers.pop(0) if owner.answers else (201, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/incidents"


@pytest.fixture
def page() -> Iterator[Page]:
    served = Page()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


async def send(page: Page, *, token: str | None = "t0ken", timeout: float = 2.0) -> int:
    client = HttpxStatusPage()
    try:
        return await client.send(StatusPageTarget(url=page.url, token=token, timeout_seconds=timeout),
                                 body={"id": "n1", "status": "resolved", "body": "All good"}, idempotency_key="n1")
    finally:
        await client.aclose()


async def test_posts_the_notice_as_json_with_its_token_and_idempotency_key(page: Page) -> None:
    assert await send(page) == 201
    [(path, headers, body)] = page.received
    assert path == "/hooks/incidents" and body == {"id": "n1", "status": "resolved", "body": "All good"}
    assert headers["authorization"] == "Bearer t0ken" and headers["idempotency-key"] == "n1"
    assert headers["content-type"] == "application/json"


async def test_without_a_token_no_authorization_header_is_sent(page: Page) -> None:
    await send(page, token=None)
    assert "authorization" not in page.received[0][1]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_busy_or_broken_pages_are_worth_retrying_with_their_retry_after(page: Page, status: int) -> None:
    page.answers.append((status, {"Retry-After": "7"}))
    with pytest.raises(ProviderUnavailable) as raised:
        await send(page)
    assert raised.value.retry_after == 7.0 and raised.value.status == status


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_a_refusal_is_not_retried(page: Page, status: int) -> None:
    page.answers.append((status, {}))
    with pytest.raises(ProviderRejected) as raised:
        await send(page)
    assert raised.value.status == status


async def test_a_page_that_does_not_answer_in_time_is_unavailable(page: Page) -> None:
    page.delay = 1.0
    with pytest.raises(ProviderUnavailable, match=r"did not answer within 0\.2 s"):
        await send(page, timeout=0.2)


async def test_nothing_listening_is_unavailable() -> None:
    client = HttpxStatusPage()
    try:
        with pytest.raises(ProviderUnavailable, match="could not be reached"):
            await client.send(StatusPageTarget(url="http://127.0.0.1:9/x", token=None, timeout_seconds=1),
                              body={}, idempotency_key="k")
    finally:
        await client.aclose()
