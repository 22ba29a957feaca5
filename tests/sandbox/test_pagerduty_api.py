"""The local PagerDuty server: its REST and Events APIs, and the webhooks it signs and sends."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.core.signals import AlertSignal, SignalKind
from handlers.webhooks.errors import WebhookError
from handlers.webhooks.pagerduty import (
    parse_pagerduty_webhook,
    verify_pagerduty_signature,
)
from sandbox.pagerduty_api import DEFAULT_TOKEN, LocalPagerDutyServer
from sandbox.runner import ThreadedServer

SECRET = "whsec-local"
FROM = "responder@example.com"
REST_HEADERS = {"Authorization": f"Token token={DEFAULT_TOKEN}",
                "Accept": "application/vnd.pagerduty+json;version=2", "From": FROM}


class Receiver:
    """A tiny bot stand-in: verifies and parses PagerDuty deliveries exactly as the bot does."""

    def __init__(self) -> None:
        self.secrets: list[str] = [SECRET]
        self.signals: list[AlertSignal] = []
        self.bodies: list[bytes] = []
        self.answer_status = 200
        self.app = FastAPI()
        self.app.add_api_route("/webhooks/pagerduty", self.receive, methods=["POST"])
        self.server = ThreadedServer(self.app)

    async def receive(self, request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify_pagerduty_signature(body, request.headers.get("x-pagerduty-signature"),
                                       self.secrets)
            signal = parse_pagerduty_webhook(body, webhook_id=request.headers.get("x-webhook-id"))
        except WebhookError as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.http_status)
        self.signals.append(signal)
        self.bodies.append(body)
        return JSONResponse({"ok": True}, status_code=self.answer_status)

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhooks/pagerduty"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.server.start()
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPagerDutyServer]:
    with LocalPagerDutyServer() as running:
        yield running


@pytest.fixture
def pd(server: LocalPagerDutyServer, receiver: Receiver) -> LocalPagerDutyServer:
    server.reset()
    server.echo_webhooks = True
    receiver.signals.clear()
    receiver.bodies.clear()
    receiver.secrets = [SECRET]
    receiver.answer_status = 200
    server.add_incident("PINC001", title="Checkout latency over 1s", service_id="PSVC001",
                        service_name="checkout-api", priority="P1", urgency="high")
    server.webhook_sender(receiver.url, [SECRET])
    return server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


# --- webhooks out ----------------------------------------------------------------------------


def test_an_emitted_webhook_is_signed_and_parses_as_pagerduty_shapes_it(
        pd: LocalPagerDutyServer, receiver: Receiver) -> None:
    response = pd.emit("incident.triggered", "PINC001", agent="Alice Ops")
    assert response.status_code == 200, response.text
    [signal] = receiver.signals
    assert signal.kind is SignalKind.TRIGGER
    assert (signal.pagerduty_incident_id, signal.title) == ("PINC001", "Checkout latency over 1s")
    assert (signal.service_hint, signal.service_name_hint) == ("PSVC001", "checkout-api")
    assert (signal.pagerduty_priority, signal.pagerduty_urgency) == ("P1", "high")
    assert signal.actor == "Alice Ops" and signal.occurred_at is not None
    [sent] = pd.webhooks()
    assert sent.webhook_id == signal.webhook_id and sent.status == 200 and not sent.echo
    assert sent.headers["Content-Type"] == "application/json"
    event = json.loads(sent.body)["event"]
    assert signal.delivery_id == event["id"]
    assert event["resource_type"] == "incident" and event["data"]["type"] == "incident"
    assert event["data"]["service"]["type"] == "service_reference"
    assert {"id", "self", "html_url", "number", "status", "incident_key", "created_at",
            "assignees", "escalation_policy"} <= event["data"].keys()


def test_each_event_type_arrives_as_its_kind(pd: LocalPagerDutyServer, receiver: Receiver) -> None:
    pd.update_incident("PINC001", assignees=["Bob Lead"], priority=None)
    for event_type in ("incident.acknowledged", "incident.escalated", "incident.priority_updated",
                       "incident.resolved", "incident.delegated"):
        assert pd.emit(event_type, "PINC001").status_code == 200
    kinds = [s.kind for s in receiver.signals]
    assert kinds == [SignalKind.ACKNOWLEDGE, SignalKind.ESCALATE, SignalKind.PRIORITY,
                     SignalKind.CLEAR, SignalKind.IGNORED]
    assert receiver.signals[1].note == "Bob Lead"
    assert receiver.signals[2].pagerduty_priority is None
    assert pd.status_of("PINC001") == "resolved"  # emitting moved the local incident too


def test_an_annotation_carries_an_incident_note(pd: LocalPagerDutyServer,
                                               receiver: Receiver) -> None:
    pd.emit("incident.annotated", "PINC001", note="Rolled back")
    [signal] = receiver.signals
    assert (signal.kind, signal.note, signal.pagerduty_incident_id) == (
        SignalKind.ANNOTATE, "Rolled back", "PINC001")
    assert json.loads(receiver.bodies[0])["event"]["data"]["type"] == "incident_note"


def test_one_signature_per_active_secret(pd: LocalPagerDutyServer, receiver: Receiver) -> None:
    pd.webhook_sender(receiver.url, ["whsec-old", SECRET])
    receiver.secrets = ["whsec-old"]
    assert pd.emit("incident.triggered", "PINC001").status_code == 200
    receiver.secrets = [SECRET]
    assert pd.emit("incident.triggered", "PINC001").status_code == 200
    assert pd.webhooks()[0].headers["X-PagerDuty-Signature"].count("v1=") == 2


def test_a_wrong_secret_is_refused_by_the_receiver(pd: LocalPagerDutyServer,
                                                  receiver: Receiver) -> None:
    pd.webhook_sender(receiver.url, ["not-the-secret"])
    assert pd.emit("incident.triggered", "PINC001").status_code == 401
    assert receiver.signals == [] and pd.webhooks()[0].status == 401


def test_retries_keep_the_webhook_id_and_bytes(pd: LocalPagerDutyServer, receiver: Receiver) -> None:
    first = pd.emit("incident.triggered", "PINC001", webhook_id="wh-retry-1")
    again = pd.redeliver("wh-retry-1")
    assert first.status_code == again.status_code == 200
    assert [s.webhook_id for s in receiver.signals] == ["wh-retry-1", "wh-retry-1"]
    # A retry is the same event, so the same signed event id, as PagerDuty's are.
    assert receiver.signals[0].delivery_id == receiver.signals[1].delivery_id
    assert receiver.bodies[0] == receiver.bodies[1]


def test_every_emitted_event_has_its_own_event_id(pd: LocalPagerDutyServer, receiver: Receiver) -> None:
    pd.emit("incident.triggered", "PINC001")
    pd.emit("incident.triggered", "PINC001")
    pd.emit("incident.acknowledged", "PINC001")
    assert len({s.delivery_id for s in receiver.signals}) == 3


def test_data_and_extra_shape_unusual_payloads(pd: LocalPagerDutyServer,
                                              receiver: Receiver) -> None:
    pd.emit("service.updated", data={"id": "PSVC001", "type": "service"})
    pd.emit("incident.triggered", "PINC001", extra={"title": "Overridden"})
    assert [s.kind for s in receiver.signals] == [SignalKind.IGNORED, SignalKind.TRIGGER]
    assert receiver.signals[1].title == "Overridden"


async def test_emit_async_for_receivers_on_the_same_loop(pd: LocalPagerDutyServer,
                                                        receiver: Receiver) -> None:
    response = await pd.emit_async("incident.reopened", "PINC001")
    assert response.status_code == 200 and receiver.signals[0].kind is SignalKind.REOPEN


def test_emitting_without_a_target_or_to_a_dead_one_fails_loudly(pd: LocalPagerDutyServer) -> None:
    pd.reset()
    pd.add_incident("PINC001", title="x")
    with pytest.raises(RuntimeError):
        pd.emit("incident.triggered", "PINC001")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    pd.webhook_sender(dead, [SECRET])
    with pytest.raises(httpx.ConnectError):
        pd.emit("incident.triggered", "PINC001")
    assert pd.webhooks()[0].status is None and pd.webhooks()[0].error


# --- echoes of API changes -------------------------------------------------------------------


async def test_a_status_change_through_the_api_is_echoed_after_the_answer(
        pd: LocalPagerDutyServer, receiver: Receiver) -> None:
    pd.echo_delay = 0.3
    try:
        async with httpx.AsyncClient() as client:
            response = await client.put(f"{pd.url}/incidents/PINC001", headers=REST_HEADERS,
                                        json={"incident": {"type": "incident_reference",
                                                           "status": "acknowledged"}})
            assert response.status_code == 200
            assert response.json()["incident"]["status"] == "acknowledged"
            assert receiver.signals == []  # the answer did not wait for the echo
            [echo] = await pd.wait_for_webhooks("incident.acknowledged", timeout=5)
    finally:
        pd.echo_delay = 0.0
    assert echo.echo and echo.status == 200
    [signal] = receiver.signals
    assert signal.kind is SignalKind.ACKNOWLEDGE and signal.actor == FROM


async def test_resolve_and_notes_are_echoed_but_unchanged_status_is_not(
        pd: LocalPagerDutyServer, receiver: Receiver) -> None:
    async with httpx.AsyncClient(base_url=pd.url, headers=REST_HEADERS) as client:
        resolve = {"incident": {"type": "incident_reference", "status": "resolved"}}
        assert (await client.put("/incidents/PINC001", json=resolve)).status_code == 200
        assert (await client.put("/incidents/PINC001", json=resolve)).status_code == 200
        note = await client.post("/incidents/PINC001/notes", json={"note": {"content": "done"}})
        assert note.status_code == 201
    await pd.wait_for_webhooks(count=2)
    await asyncio.sleep(0.2)  # room for a wrongly sent third echo to show up
    assert sorted(w.event_type for w in pd.webhooks()) == ["incident.annotated",
                                                          "incident.resolved"]
    assert {s.kind for s in receiver.signals} == {SignalKind.CLEAR, SignalKind.ANNOTATE}


def test_no_echo_when_echoes_are_off(pd: LocalPagerDutyServer, http: httpx.Client) -> None:
    pd.echo_webhooks = False
    response = http.put(f"{pd.url}/incidents/PINC001", headers=REST_HEADERS,
                        json={"incident": {"type": "incident_reference", "status": "resolved"}})
    assert response.status_code == 200
    time.sleep(0.2)
    assert pd.webhooks() == []


# --- REST validation -------------------------------------------------------------------------


@pytest.mark.parametrize(("drop", "status"), [("Authorization", 401), ("Accept", 400),
                                              ("From", 400)])
def test_required_headers(pd: LocalPagerDutyServer, http: httpx.Client, drop: str,
                          status: int) -> None:
    headers = {k: v for k, v in REST_HEADERS.items() if k != drop}
    response = http.put(f"{pd.url}/incidents/PINC001", headers=headers,
                        json={"incident": {"type": "incident_reference", "status": "resolved"}})
    assert response.status_code == status
    assert {"message", "code"} <= response.json()["error"].keys()
    assert pd.status_of("PINC001") == "triggered"
    assert pd.calls()[-1].status == status


def test_get_needs_no_from_header(pd: LocalPagerDutyServer, http: httpx.Client) -> None:
    headers = {k: v for k, v in REST_HEADERS.items() if k != "From"}
    response = http.get(f"{pd.url}/incidents/PINC001", headers=headers)
    assert response.status_code == 200
    assert response.json()["incident"]["title"] == "Checkout latency over 1s"
    assert http.get(f"{pd.url}/incidents/PNOPE", headers=headers).status_code == 404


@pytest.mark.parametrize("body", [b"not json", b"[]", b"{}", b'{"incident": {"status": "resolved"}}',
                                  b'{"incident": {"type": "incident_reference", "status": "triggered"}}'])
def test_invalid_update_bodies_are_400(pd: LocalPagerDutyServer, http: httpx.Client,
                                       body: bytes) -> None:
    response = http.put(f"{pd.url}/incidents/PINC001", headers=REST_HEADERS, content=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == 2001


def test_an_unknown_incident_is_404(pd: LocalPagerDutyServer, http: httpx.Client) -> None:
    response = http.post(f"{pd.url}/incidents/PNOPE/notes", headers=REST_HEADERS,
                         json={"note": {"content": "x"}})
    assert response.status_code == 404


def test_faults_answer_in_pagerdutys_shape(pd: LocalPagerDutyServer, http: httpx.Client) -> None:
    pd.faults.add("/incidents/*", status=503, retry_after=5, times=2)
    for _ in range(2):
        response = http.get(f"{pd.url}/incidents/PINC001", headers=REST_HEADERS)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "message" in response.json()["error"]
    assert http.get(f"{pd.url}/incidents/PINC001", headers=REST_HEADERS).status_code == 200
    assert [c.status for c in pd.calls()] == [503, 503, 200]


# --- Events API v2 ---------------------------------------------------------------------------


def test_events_open_and_resolve_incidents_by_dedup_key(pd: LocalPagerDutyServer,
                                                       http: httpx.Client) -> None:
    trigger = {"routing_key": "R0UTE", "event_action": "trigger", "dedup_key": "k-1",
               "payload": {"summary": "GPU OOM", "source": "worker", "severity": "error"}}
    response = http.post(f"{pd.url}/v2/enqueue", json=trigger)
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": "k-1"}
    http.post(f"{pd.url}/v2/enqueue", json=trigger)  # the same alert again: no second incident
    http.post(f"{pd.url}/v2/enqueue", json={"routing_key": "R0UTE", "event_action": "resolve",
                                            "dedup_key": "k-1"})
    [opened] = [i for i in pd.incidents() if i["incident_key"] == "k-1"]
    assert (opened["title"], opened["status"], opened["urgency"]) == ("GPU OOM", "resolved", "high")
    assert len(pd.events()) == 3
    assert pd.webhooks() == []  # events change incidents quietly; emit() sends webhooks


@pytest.mark.parametrize("event", [
    [], {}, {"routing_key": "R", "event_action": "explode"},
    {"routing_key": "R", "event_action": "trigger", "payload": {"summary": "s", "source": "x"}},
    {"routing_key": "R", "event_action": "trigger",
     "payload": {"summary": "s" * 1025, "source": "x", "severity": "info"}},
    {"routing_key": "R", "event_action": "resolve"},
])
def test_invalid_events_are_400(pd: LocalPagerDutyServer, http: httpx.Client, event: object) -> None:
    response = http.post(f"{pd.url}/v2/enqueue", json=event)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event" and response.json()["errors"]
    assert pd.events() == []


# --- control surface and command line --------------------------------------------------------


def test_the_control_surface_drives_the_server(pd: LocalPagerDutyServer, http: httpx.Client,
                                              receiver: Receiver) -> None:
    added = http.post(f"{pd.url}/_local/incidents", json={"id": "PCTL1", "title": "From outside"})
    assert added.status_code == 200 and pd.status_of("PCTL1") == "triggered"
    emitted = http.post(f"{pd.url}/_local/emit",
                        json={"event_type": "incident.triggered", "incident_id": "PCTL1"})
    assert emitted.json()["status"] == 200 and receiver.signals[-1].title == "From outside"
    assert http.post(f"{pd.url}/_local/faults", json={"path": "/v2/*", "status": 429}).status_code == 200
    assert http.post(f"{pd.url}/v2/enqueue", json={}).status_code == 429
    assert http.post(f"{pd.url}/_local/reset").status_code == 200
    assert pd.incident("PCTL1") is None and pd.faults.rules() == []


def test_python_dash_m_serves_a_pagerduty(tmp_path: object) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "sandbox.pagerduty_api", "--port",
                                str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/incidents/PX",
                                     headers=REST_HEADERS)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        assert response.status_code == 404
    finally:
        process.terminate()
        process.wait(10)


def test_oncalls_answers_who_is_on_call_per_schedule(pd: LocalPagerDutyServer, http: httpx.Client) -> None:
    pd.set_oncall("PSCHED01", ("Maya Lead", "ml-lead@example.com"))
    url = f"{pd.url}/oncalls"
    assert http.get(url, params={"schedule_ids[]": "PSCHED01"}).status_code == 401
    whole = http.get(url, params=[("schedule_ids[]", "PSCHED01"), ("schedule_ids[]", "PNONE001"),
                                  ("include[]", "users")], headers=REST_HEADERS).json()["oncalls"]
    assert [(o["schedule"]["id"], o["user"]["email"]) for o in whole] == [("PSCHED01", "ml-lead@example.com")]
    reference = http.get(url, params={"schedule_ids[]": "PSCHED01"}, headers=REST_HEADERS).json()["oncalls"][0]
    assert reference["user"]["type"] == "user_reference" and "email" not in reference["user"]
    control = http.post(f"{pd.url}/_local/oncalls", json={"schedule_id": "PSCHED01", "people": []})
    assert control.json() == {"ok": True}
    assert http.get(url, params={"schedule_ids[]": "PSCHED01"}, headers=REST_HEADERS).json()["oncalls"] == []
    assert http.post(f"{pd.url}/_local/oncalls", json={"people": []}).status_code == 400
