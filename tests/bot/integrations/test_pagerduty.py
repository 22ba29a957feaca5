"""The PagerDuty REST and Events clients against the local PagerDuty server, over real HTTP."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot.core.ports.errors import ProviderError, ProviderRejected, ProviderUnavailable
from bot.core.ports.pagerduty import PagerDutyClient
from bot.integrations.pagerduty import (
    PagerDutyEventsClient,
    PagerDutyRestClient,
    parse_retry_after,
)
from sandbox.pagerduty_api import DEFAULT_TOKEN, LocalPagerDutyServer
from tests.loopback_http import Answer, LoopbackHttp, json_answer

FROM = "incident-bot@example.com"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPagerDutyServer]:
    with LocalPagerDutyServer() as running:
        yield running


@pytest.fixture
def pd(server: LocalPagerDutyServer) -> LocalPagerDutyServer:
    server.reset()
    server.add_incident("PINC001", title="Checkout latency", service_id="PSVC001")
    return server


@pytest.fixture
async def client(pd: LocalPagerDutyServer) -> AsyncIterator[PagerDutyRestClient]:
    rest = PagerDutyRestClient(pd.url, DEFAULT_TOKEN, FROM)
    yield rest
    await rest.aclose()


@pytest.fixture
async def events(pd: LocalPagerDutyServer) -> AsyncIterator[PagerDutyEventsClient]:
    sender = PagerDutyEventsClient(pd.url)
    yield sender
    await sender.aclose()


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- REST ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["acknowledged", "resolved"])
async def test_set_status_changes_the_incident_with_the_documented_request(
        pd: LocalPagerDutyServer, client: PagerDutyRestClient, status: str) -> None:
    await client.set_status("PINC001", status)  # type: ignore[arg-type]
    assert pd.status_of("PINC001") == status
    [call] = pd.calls("/incidents/PINC001", "PUT")
    assert call.status == 200
    assert call.json == {"incident": {"type": "incident_reference", "status": status}}
    assert call.headers["authorization"] == f"Token token={DEFAULT_TOKEN}"
    assert call.headers["accept"] == "application/vnd.pagerduty+json;version=2"
    assert call.headers["content-type"] == "application/json"
    assert call.headers["from"] == FROM


async def test_add_note_posts_the_note(pd: LocalPagerDutyServer, client: PagerDutyRestClient) -> None:
    await client.add_note("PINC001", "Scaled checkout to 6 tasks")
    [call] = pd.calls("/incidents/PINC001/notes", "POST")
    assert call.status == 201 and call.json == {"note": {"content": "Scaled checkout to 6 tasks"}}
    assert call.headers["from"] == FROM
    assert [n["content"] for n in pd.notes("PINC001")] == ["Scaled checkout to 6 tasks"]


async def test_the_incident_id_is_url_quoted(pd: LocalPagerDutyServer,
                                            client: PagerDutyRestClient) -> None:
    pd.add_incident("P/odd id?", title="odd")
    await client.set_status("P/odd id?", "acknowledged")
    assert pd.status_of("P/odd id?") == "acknowledged"
    with pytest.raises(ValueError):
        await client.set_status("", "acknowledged")


async def test_the_client_satisfies_the_protocol(client: PagerDutyRestClient) -> None:
    typed: PagerDutyClient = client
    assert typed is client


async def test_a_bad_token_is_rejected_with_pagerdutys_message(pd: LocalPagerDutyServer) -> None:
    async with PagerDutyRestClient(pd.url, "wrong-token", FROM) as wrong:
        with pytest.raises(ProviderRejected) as info:
            await wrong.set_status("PINC001", "acknowledged")
    assert info.value.status == 401
    assert "Unauthorized" in str(info.value)
    assert pd.status_of("PINC001") == "triggered"


async def test_an_unknown_incident_is_rejected(client: PagerDutyRestClient) -> None:
    with pytest.raises(ProviderRejected) as info:
        await client.add_note("PNOPE", "hello")
    assert info.value.status == 404
    assert "Incident Not Found" in info.value.message


async def test_a_missing_from_header_is_rejected(pd: LocalPagerDutyServer) -> None:
    async with PagerDutyRestClient(pd.url, DEFAULT_TOKEN, "") as anonymous:
        with pytest.raises(ProviderRejected) as info:
            await anonymous.set_status("PINC001", "resolved")
    assert info.value.status == 400 and "From" in info.value.message


async def test_acknowledging_a_resolved_incident_is_rejected(pd: LocalPagerDutyServer,
                                                            client: PagerDutyRestClient) -> None:
    await client.set_status("PINC001", "resolved")
    with pytest.raises(ProviderRejected) as info:
        await client.set_status("PINC001", "acknowledged")
    assert "Already Resolved" in info.value.message


@pytest.mark.parametrize(("status", "retry_after"), [(503, 7), (429, 3), (500, None), (502, None)])
async def test_rate_limits_and_server_errors_are_unavailable(
        pd: LocalPagerDutyServer, client: PagerDutyRestClient, status: int,
        retry_after: int | None) -> None:
    pd.faults.add("/incidents/*", status=status, retry_after=retry_after, times=1)
    with pytest.raises(ProviderUnavailable) as info:
        await client.set_status("PINC001", "acknowledged")
    assert info.value.status == status
    assert info.value.retry_after == (float(retry_after) if retry_after is not None else None)
    assert pd.status_of("PINC001") == "triggered"
    await client.set_status("PINC001", "acknowledged")  # the fault fired once
    assert pd.status_of("PINC001") == "acknowledged"


async def test_a_429_without_an_explicit_retry_after_still_says_when(
        pd: LocalPagerDutyServer, client: PagerDutyRestClient) -> None:
    pd.faults.add("/incidents/*/notes", status=429, times=1)
    with pytest.raises(ProviderUnavailable) as info:
        await client.add_note("PINC001", "x")
    assert info.value.retry_after == 1.0


async def test_connection_refused_is_unavailable() -> None:
    async with PagerDutyRestClient(f"http://127.0.0.1:{unused_port()}", DEFAULT_TOKEN, FROM) as dead:
        with pytest.raises(ProviderUnavailable) as info:
            await dead.set_status("PINC001", "acknowledged")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


async def test_a_server_that_never_answers_times_out_as_unavailable() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        async with PagerDutyRestClient(url, DEFAULT_TOKEN, FROM, timeout=0.2) as slow:
            with pytest.raises(ProviderUnavailable) as info:
                await slow.add_note("PINC001", "x")
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


async def test_a_bad_base_url_is_a_provider_error_not_a_crash() -> None:
    async with PagerDutyRestClient("ftp://pagerduty.invalid", DEFAULT_TOKEN, FROM) as wrong:
        with pytest.raises(ProviderError):
            await wrong.set_status("PINC001", "acknowledged")


async def test_a_shared_http_client_is_left_open(pd: LocalPagerDutyServer) -> None:
    async with httpx.AsyncClient() as shared:
        rest = PagerDutyRestClient(pd.url + "/", DEFAULT_TOKEN, FROM, http=shared)
        await rest.set_status("PINC001", "acknowledged")
        await rest.aclose()
        assert not shared.is_closed
        assert pd.calls("/incidents/PINC001")  # the trailing slash did not double up


# --- Events API v2 ---------------------------------------------------------------------------


async def test_a_trigger_event_is_enqueued_and_opens_an_incident(
        pd: LocalPagerDutyServer, events: PagerDutyEventsClient) -> None:
    key = await events.send_event("R0UTINGKEY", "trigger", "esc-INC-7",
                                  "INC-7 unacknowledged for 15 min", "incident-bot", "critical")
    assert key == "esc-INC-7"
    [event] = pd.events()
    assert event == {"routing_key": "R0UTINGKEY", "event_action": "trigger",
                     "dedup_key": "esc-INC-7",
                     "payload": {"summary": "INC-7 unacknowledged for 15 min",
                                 "source": "incident-bot", "severity": "critical"}}
    await events.send_event("R0UTINGKEY", "resolve", "esc-INC-7")
    assert [e["event_action"] for e in pd.events()] == ["trigger", "resolve"]


async def test_pagerduty_chooses_the_dedup_key_when_none_is_given(
        events: PagerDutyEventsClient) -> None:
    key = await events.send_event("R0UTINGKEY", "trigger", None, "s" * 2_000, "bot", "warning")
    assert key  # and the over-long summary was cut, not refused


async def test_an_invalid_event_is_rejected(events: PagerDutyEventsClient) -> None:
    with pytest.raises(ProviderRejected) as info:
        await events.send_event("R0UTINGKEY", "trigger", "k", "", "bot", "critical")
    assert info.value.status == 400 and "summary" in info.value.message
    with pytest.raises(ProviderRejected):
        await events.send_event("R0UTINGKEY", "acknowledge")  # no dedup key


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_events_throttled_or_failing_are_unavailable(
        pd: LocalPagerDutyServer, events: PagerDutyEventsClient, status: int) -> None:
    pd.faults.add("/v2/enqueue", status=status, retry_after=2, times=1)
    with pytest.raises(ProviderUnavailable) as info:
        await events.send_event("R0UTINGKEY", "trigger", "k", "s", "bot", "info")
    assert info.value.retry_after == 2.0
    assert await events.send_event("R0UTINGKEY", "trigger", "k", "s", "bot", "info") == "k"


async def test_events_connection_refused_is_unavailable() -> None:
    async with PagerDutyEventsClient(f"http://127.0.0.1:{unused_port()}") as dead:
        with pytest.raises(ProviderUnavailable):
            await dead.send_event("R0UTINGKEY", "trigger", "k", "s", "bot", "info")


# --- Retry-After -----------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(later, now=now.timestamp()) == 30.0
    for junk in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(junk) is None


# --- who is on call --------------------------------------------------------------------------


async def test_oncall_emails_asks_for_one_schedule_now_with_whole_users(
        client: PagerDutyRestClient, pd: LocalPagerDutyServer) -> None:
    pd.set_oncall("PSCHED01", ("Maya Lead", "ml-lead@example.com"), ("Maya Again", "ml-lead@example.com"))
    pd.set_oncall("POTHER01", ("Someone Else", "else@example.com"))
    assert await client.oncall_emails("PSCHED01") == ("ml-lead@example.com",)  # once each
    assert await client.oncall_emails("PNOBODY1") == ()
    call = pd.calls("/oncalls", "GET")[0]
    assert call.headers["authorization"] == f"Token token={DEFAULT_TOKEN}" and "from" in call.headers


async def test_oncall_emails_maps_refusals_and_outages(pd: LocalPagerDutyServer) -> None:
    async with PagerDutyRestClient(pd.url, "wrong-token", FROM) as wrong:
        with pytest.raises(ProviderRejected, match="401"):
            await wrong.oncall_emails("PSCHED01")
    async with PagerDutyRestClient(pd.url, DEFAULT_TOKEN, FROM) as rest:
        pd.faults.add("/oncalls", status=503, times=1)
        with pytest.raises(ProviderUnavailable, match="503"):
            await rest.oncall_emails("PSCHED01")
        with pytest.raises(ValueError, match="schedule id is required"):
            await rest.oncall_emails("")


async def test_an_answer_without_oncalls_is_a_provider_error() -> None:
    with LoopbackHttp() as other:  # something that is not PagerDuty at PAGERDUTY_API_URL
        other.answers["/oncalls"] = json_answer({"incidents": []})
        async with PagerDutyRestClient(other.base_url, DEFAULT_TOKEN, FROM) as rest:
            with pytest.raises(ProviderError, match="no oncalls list"):
                await rest.oncall_emails("PSCHED01")
        other.answers["/oncalls"] = Answer(body=b"<html>")
        async with PagerDutyRestClient(other.base_url, DEFAULT_TOKEN, FROM) as rest:
            with pytest.raises(ProviderError, match="not JSON"):
                await rest.oncall_emails("PSCHED01")
