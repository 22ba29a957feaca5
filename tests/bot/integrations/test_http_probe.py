"""The HTTP probe against a real server on loopback: up, down, 5xx, slow, huge, redirected."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.integrations.http_probe import HttpxProbe
from tests.loopback_http import Answer, LoopbackHttp, endless, json_answer


@pytest.fixture
def server() -> Iterator[LoopbackHttp]:
    with LoopbackHttp() as running:
        yield running


@pytest.fixture
async def probe() -> AsyncIterator[HttpxProbe]:
    client = HttpxProbe(timeout=1.0, max_bytes=4096)
    yield client
    await client.aclose()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/health"


async def test_an_answer_of_any_status_is_an_answer(server: LoopbackHttp, probe: HttpxProbe) -> None:
    server.answers["/health"] = json_answer({"status": "ok"})
    server.answers["/broken"] = Answer(status=503, body=b"feature store unavailable")
    up = await probe.get(server.url("/health"))
    assert (up.ok, up.status, up.truncated) == (True, 200, False)
    assert up.body == b'{"status": "ok"}' and up.seconds < 1.0
    down = await probe.get(server.url("/broken"))
    assert (down.ok, down.status, down.body) == (False, 503, b"feature store unavailable")
    # It asked for no compression and says who it is.
    _path, headers = server.requests[0]
    assert headers["Accept-Encoding"] == "identity" and headers["User-Agent"] == "incident-bot"


async def test_nothing_listening_is_unavailable(probe: HttpxProbe) -> None:
    with pytest.raises(ProviderUnavailable, match="could not be reached: ConnectError"):
        await probe.get(closed_port_url())


async def test_a_slow_answer_or_a_dripping_body_ends_at_the_time_limit(server: LoopbackHttp,
                                                                        probe: HttpxProbe) -> None:
    server.answers["/slow"] = Answer(delay=3.0, body=b"late")
    # Each chunk comes well within any read time-out; only a limit on the whole read stops it.
    server.answers["/drip"] = Answer(body=endless(b"x"), gap=0.05)
    for path in ("/slow", "/drip"):
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match=r"did not answer within 1 s"):
            await probe.get(server.url(path))
        assert time.monotonic() - started < 2.0


async def test_a_huge_body_is_cut_at_the_limit_and_the_rest_left_unread(server: LoopbackHttp,
                                                                        probe: HttpxProbe) -> None:
    server.answers["/huge"] = Answer(body=endless())
    server.answers["/exact"] = Answer(body=b"y" * 4096)
    huge = await probe.get(server.url("/huge"))
    assert huge.truncated and len(huge.body) == 4096 and huge.status == 200
    exact = await probe.get(server.url("/exact"))
    assert not exact.truncated and len(exact.body) == 4096


async def test_a_compressed_body_is_never_inflated(server: LoopbackHttp, probe: HttpxProbe) -> None:
    bomb = gzip.compress(b"{" * 10_000_000)
    server.answers["/stats"] = Answer(body=bomb, headers={"Content-Encoding": "gzip"})
    answer = await probe.get(server.url("/stats"))
    assert answer.body == bomb[:4096] and answer.truncated == (len(bomb) > 4096)


async def test_redirects_stay_on_the_same_host(server: LoopbackHttp, probe: HttpxProbe) -> None:
    server.answers["/health"] = Answer(status=301, headers={"Location": "/health/"})
    server.answers["/health/"] = json_answer({"status": "ok"})
    followed = await probe.get(server.url("/health"))
    assert followed.status == 200 and followed.url == server.url("/health/")

    server.answers["/away"] = Answer(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(ProviderRejected, match=r"redirects to another host \(169.254.169.254\)") as away:
        await probe.get(server.url("/away"))
    assert away.value.status == 302
    other_port = closed_port_url()
    server.answers["/port"] = Answer(status=307, headers={"Location": other_port})
    with pytest.raises(ProviderRejected, match="another host"):
        await probe.get(server.url("/port"))

    server.answers["/loop"] = Answer(status=302, headers={"Location": "/loop"})
    with pytest.raises(ProviderRejected, match="redirects more than 3 times"):
        await probe.get(server.url("/loop"))


async def test_a_url_that_is_not_http_is_refused(probe: HttpxProbe) -> None:
    with pytest.raises(ProviderRejected, match="not a URL the bot can read"):
        await probe.get("ftp://feature-store.internal/health")
