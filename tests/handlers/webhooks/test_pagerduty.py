"""PagerDuty Webhooks v3 at the edge: the signature check and the parse into an AlertSignal."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.signals import AlertSignal, SignalKind, Source
from handlers.webhooks.errors import (
    MAX_BODY_BYTES,
    BadSignature,
    MalformedPayload,
    PayloadTooLarge,
    WebhookError,
)
from handlers.webhooks.pagerduty import (
    parse_pagerduty_webhook,
    parse_timestamp,
    verify_pagerduty_signature,
)

SECRET = "whsec-current"
OLD_SECRET = "whsec-previous"
BODY = b'{"event": {"event_type": "incident.triggered"}}'
EVENT_ID = "01BTHDZQEPL9UHWM1XN5W4XJIY"


def sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def incident_data(**changes: Any) -> dict[str, Any]:
    data = {
        "id": "PGR0VU2", "type": "incident",
        "self": "https://api.pagerduty.com/incidents/PGR0VU2",
        "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2", "number": 2,
        "status": "triggered", "incident_key": "d3640fbd41094207a1c11e58e46b1662",
        "created_at": "2020-04-09T15:16:27Z", "title": "Checkout latency over 1s",
        "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                    "id": "PF9KMXH", "self": "https://api.pagerduty.com/services/PF9KMXH",
                    "summary": "checkout-api", "type": "service_reference"},
        "assignees": [{"html_url": "https://acme.pagerduty.com/users/PTUXL6G", "id": "PTUXL6G",
                       "self": "https://api.pagerduty.com/users/PTUXL6G",
                       "summary": "Alice Ops", "type": "user_reference"}],
        "escalation_policy": {"id": "PUS0KTE", "summary": "Default",
                              "type": "escalation_policy_reference"},
        "teams": [], "priority": {"html_url": "https://acme.pagerduty.com/account/incident_priorities",
                                  "id": "PSO75BM", "self": "https://api.pagerduty.com/priorities/PSO75BM",
                                  "summary": "P1", "type": "priority"},
        "urgency": "high", "conference_bridge": None, "resolve_reason": None,
    }
    data.update(changes)
    return data


def note_data() -> dict[str, Any]:
    return {"incident": {"html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                         "id": "PGR0VU2", "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                         "summary": "Checkout latency", "type": "incident_reference"},
            "id": "P8XVS1E", "content": "Rolled back to v41", "trimmed": False,
            "type": "incident_note"}


def envelope(event_type: str = "incident.triggered", data: Any = None, **event: Any) -> dict[str, Any]:
    body = {"id": EVENT_ID, "event_type": event_type,
            "resource_type": "incident", "occurred_at": "2020-10-02T18:45:22.169Z",
            "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                      "self": "https://api.pagerduty.com/users/PLH1HKV",
                      "summary": "Tenex Engineer", "type": "user_reference"},
            "client": {"name": "PagerDuty"},
            "data": incident_data() if data is None else data}
    body.update(event)
    return {"event": body}


def parse(document: Any, webhook_id: str | None = "wh-1") -> AlertSignal:
    return parse_pagerduty_webhook(json.dumps(document).encode(), webhook_id=webhook_id)


# --- signature -------------------------------------------------------------------------------


def test_a_valid_signature_is_accepted() -> None:
    verify_pagerduty_signature(BODY, sign(BODY, SECRET), [SECRET])


def test_either_configured_secret_is_accepted_during_rotation() -> None:
    verify_pagerduty_signature(BODY, sign(BODY, OLD_SECRET), [SECRET, OLD_SECRET])
    verify_pagerduty_signature(BODY, sign(BODY, SECRET), [SECRET, OLD_SECRET])


@pytest.mark.parametrize("configured", [[SECRET], [OLD_SECRET], [OLD_SECRET, SECRET]])
def test_a_header_with_one_signature_per_active_secret_is_accepted(configured: list[str]) -> None:
    header = f"{sign(BODY, OLD_SECRET)},{sign(BODY, SECRET)}"
    verify_pagerduty_signature(BODY, header, configured)
    verify_pagerduty_signature(BODY, header.replace(",", ", "), configured)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(BadSignature):
        verify_pagerduty_signature(BODY + b" ", sign(BODY, SECRET), [SECRET])


def test_a_signature_under_an_unknown_secret_is_refused() -> None:
    with pytest.raises(BadSignature):
        verify_pagerduty_signature(BODY, sign(BODY, "someone-else"), [SECRET, OLD_SECRET])


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_header_is_refused(header: str | None) -> None:
    with pytest.raises(BadSignature):
        verify_pagerduty_signature(BODY, header, [SECRET])


@pytest.mark.parametrize("secrets", [[], [""]])
def test_without_a_configured_secret_everything_is_refused(secrets: list[str]) -> None:
    with pytest.raises(BadSignature):
        verify_pagerduty_signature(BODY, sign(BODY, SECRET), secrets)


@pytest.mark.parametrize("header", ["v1", "v1=", "v1=nothex", "v1=" + "ab" * 31, "garbage",
                                    "=" * 10, ",,,", "v2=" + "ab" * 32])
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(BadSignature):
        verify_pagerduty_signature(BODY, header, [SECRET])


def test_unknown_versions_are_skipped_not_fatal() -> None:
    header = f"v2={'0' * 64},{sign(BODY, SECRET)},v9=whatever"
    verify_pagerduty_signature(BODY, header, [SECRET])


def test_an_upper_case_hex_signature_is_accepted() -> None:
    verify_pagerduty_signature(BODY, "v1=" + sign(BODY, SECRET)[3:].upper(), [SECRET])


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verify_pagerduty_signature(BODY, f"{sign(BODY, OLD_SECRET)},{sign(BODY, SECRET)}",
                               [SECRET, OLD_SECRET])
    # Every signature against every secret: no early exit that would leak which one matched.
    assert len(compared) == 4


@settings(max_examples=200)
@given(body=st.binary(max_size=512), header=st.one_of(st.none(), st.text(max_size=300)),
       secrets=st.lists(st.text(max_size=40), max_size=3))
def test_the_signature_check_raises_only_bad_signature(body: bytes, header: str | None,
                                                      secrets: list[str]) -> None:
    with contextlib.suppress(BadSignature):
        verify_pagerduty_signature(body, header, secrets)


# --- parsing: event types --------------------------------------------------------------------


@pytest.mark.parametrize(("event_type", "kind"), [
    ("incident.triggered", SignalKind.TRIGGER),
    ("incident.acknowledged", SignalKind.ACKNOWLEDGE),
    ("incident.unacknowledged", SignalKind.UNACKNOWLEDGE),
    ("incident.resolved", SignalKind.CLEAR),
    ("incident.reopened", SignalKind.REOPEN),
    ("incident.escalated", SignalKind.ESCALATE),
    ("incident.reassigned", SignalKind.REASSIGN),
    ("incident.priority_updated", SignalKind.PRIORITY),
])
def test_incident_events_map_to_their_kind_with_the_incident_fields(event_type: str,
                                                                   kind: SignalKind) -> None:
    signal = parse(envelope(event_type), webhook_id="8f6a8a1e-delivery")
    assert signal.kind is kind
    assert signal.source is Source.PAGERDUTY
    assert signal.event_type == event_type
    # The signed event id is the delivery's identity; the unsigned header only a second key.
    assert (signal.delivery_id, signal.webhook_id) == (EVENT_ID, "8f6a8a1e-delivery")
    assert signal.replay_window == timedelta(hours=48)
    assert signal.dedup_key == signal.pagerduty_incident_id == "PGR0VU2"
    assert signal.title == "Checkout latency over 1s"
    assert signal.service_hint == "PF9KMXH"
    assert signal.service_name_hint == "checkout-api"
    assert signal.pagerduty_priority == "P1"
    assert signal.pagerduty_urgency == "high"
    assert signal.html_url == "https://acme.pagerduty.com/incidents/PGR0VU2"
    assert signal.actor == "Tenex Engineer"
    assert signal.occurred_at == datetime(2020, 10, 2, 18, 45, 22, 169000, tzinfo=UTC)


@pytest.mark.parametrize("event_type", ["incident.escalated", "incident.reassigned"])
def test_escalations_and_reassignments_name_the_new_assignees(event_type: str) -> None:
    data = incident_data(assignees=[{"summary": "Alice Ops"}, {"summary": "Bob Lead"},
                                    {"id": "PNOSUMMARY"}, "not-an-object"])
    assert parse(envelope(event_type, data)).note == "Alice Ops, Bob Lead"
    data["escalation_level"] = 2
    assert parse(envelope(event_type, data)).note == "Alice Ops, Bob Lead (level 2)"
    assert parse(envelope(event_type, incident_data(assignees=[]))).note is None


def test_other_kinds_carry_no_note() -> None:
    assert parse(envelope("incident.triggered")).note is None


def test_an_annotation_takes_the_incident_from_the_note() -> None:
    signal = parse(envelope("incident.annotated", note_data()))
    assert signal.kind is SignalKind.ANNOTATE
    assert signal.pagerduty_incident_id == signal.dedup_key == "PGR0VU2"
    assert signal.note == "Rolled back to v41"
    assert signal.html_url == "https://acme.pagerduty.com/incidents/PGR0VU2"
    assert signal.actor == "Tenex Engineer"
    assert signal.title == ""


@pytest.mark.parametrize("event_type", ["incident.delegated", "incident.responder.added",
                                        "incident.status_update_published", "service.updated",
                                        "incident.conference_bridge.updated", "pagey.ping"])
def test_other_event_types_are_ignored_but_parsed(event_type: str) -> None:
    signal = parse(envelope(event_type))
    assert signal.kind is SignalKind.IGNORED
    assert signal.event_type == event_type
    assert (signal.delivery_id, signal.webhook_id) == (EVENT_ID, "wh-1")
    assert signal.pagerduty_incident_id == "PGR0VU2"  # kept when data is an incident


def test_an_ignored_event_about_something_else_names_no_incident() -> None:
    data = {"id": "PF9KMXH", "type": "service", "summary": "checkout-api"}
    assert parse(envelope("service.updated", data)).pagerduty_incident_id is None


def test_a_null_priority_is_none() -> None:
    assert parse(envelope(data=incident_data(priority=None))).pagerduty_priority is None


def test_missing_optional_fields_are_tolerated() -> None:
    required = {"id": EVENT_ID, "occurred_at": "2020-10-02T18:45:22Z"}
    signal = parse({"event": {"event_type": "incident.triggered", **required}})
    assert signal.kind is SignalKind.TRIGGER
    assert (signal.dedup_key, signal.title, signal.actor) == (None, "", None)
    sparse = parse({"event": {"event_type": "incident.annotated", "data": {"incident": None},
                              "agent": None, **required}})
    assert sparse.kind is SignalKind.ANNOTATE and sparse.pagerduty_incident_id is None


def test_wrongly_typed_fields_are_dropped_not_fatal() -> None:
    data = incident_data(id=42, title=["x"], service="PF9KMXH", priority="P1", urgency=None)
    signal = parse(envelope(data=data, agent="someone"))
    assert (signal.dedup_key, signal.title, signal.service_hint) == (None, "", None)
    assert (signal.pagerduty_priority, signal.actor) == (None, None)


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2020-10-02T18:45:22Z", datetime(2020, 10, 2, 18, 45, 22, tzinfo=UTC)),
    ("2020-10-02T20:45:22+02:00", datetime(2020, 10, 2, 18, 45, 22, tzinfo=UTC)),
    ("2020-10-02T18:45:22", datetime(2020, 10, 2, 18, 45, 22, tzinfo=UTC)),
    ("yesterday", None), ("", None), ("0001-01-01T00:00:00+01:00", None), ("9" * 100, None),
])
def test_occurred_at_is_read_as_aware_utc(stamp: str, expected: datetime | None) -> None:
    assert parse_timestamp(stamp) == expected
    if expected is not None:
        assert parse(envelope(occurred_at=stamp)).occurred_at == expected


def test_long_strings_are_capped_and_made_storable() -> None:
    data = incident_data(title="T" * 5_000 + "\x00", urgency="high\x00")
    signal = parse(envelope(data=data))
    assert signal.title == "T" * 1_000
    assert signal.pagerduty_urgency == "high"
    lone_surrogate = json.dumps(envelope(data=incident_data(title="bad \ud800 title")))
    signal = parse_pagerduty_webhook(lone_surrogate.encode(), webhook_id="wh")
    signal.title.encode("utf-8")  # storable


# --- parsing: refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("webhook_id", [None, "", "   ", "x" * 201])
def test_a_delivery_without_a_usable_webhook_id_is_malformed(webhook_id: str | None) -> None:
    with pytest.raises(MalformedPayload):
        parse(envelope(), webhook_id=webhook_id)


@pytest.mark.parametrize("event_id", [None, "", "   ", "\x00", 42, ["x"], "x" * 201])
def test_an_event_without_a_usable_id_is_malformed(event_id: Any) -> None:
    """The signed id is what a replay under a fresh X-Webhook-Id is recognised by."""
    with pytest.raises(MalformedPayload, match=r"event\.id"):
        parse(envelope(id=event_id))


@pytest.mark.parametrize("stamp", [None, "", "yesterday", 1601664322, "0001-01-01T00:00:00+01:00"])
def test_an_event_without_a_readable_date_is_malformed(stamp: Any) -> None:
    """Without occurred_at a delivery cannot be held to PagerDuty's retry window."""
    with pytest.raises(MalformedPayload, match="occurred_at"):
        parse(envelope(occurred_at=stamp))


def test_an_id_at_the_column_width_is_kept_whole() -> None:
    signal = parse(envelope(id="e" * 200), webhook_id="w" * 200)
    assert (signal.delivery_id, signal.webhook_id) == ("e" * 200, "w" * 200)


def test_a_body_over_the_limit_is_too_large() -> None:
    body = json.dumps({"event": {"event_type": "incident.triggered",
                                 "pad": "x" * MAX_BODY_BYTES}}).encode()
    with pytest.raises(PayloadTooLarge) as info:
        parse_pagerduty_webhook(body, webhook_id="wh")
    assert info.value.http_status == 413


@pytest.mark.parametrize("body", [
    b"", b"not json", b"\xff\xfe{}", json.dumps(envelope()).encode("utf-16"), b"[]", b'"event"',
    b"null", b"{}", b'{"event": null}', b'{"event": []}', b'{"event": {}}',
    b'{"event": {"event_type": 7}}', b"[" * 100_000 + b"]" * 100_000,
])
def test_bodies_that_are_not_a_v3_event_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as info:
        parse_pagerduty_webhook(body, webhook_id="wh")
    assert info.value.http_status == 400


# --- property-based: nothing but WebhookError, whatever arrives ------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
DELETE = object()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


VALID_DOCUMENTS = [envelope(), envelope("incident.annotated", note_data()),
                   envelope("incident.escalated")]
MUTABLE_PATHS = sorted({p for doc in VALID_DOCUMENTS for p in _paths(doc) if p}, key=repr)


def _mutate(document: Any, path: tuple[Any, ...], value: Any) -> None:
    parent = document
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation replaced this branch
    try:
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return


def _parse_or_refuse(body: bytes, webhook_id: str | None) -> None:
    try:
        signal = parse_pagerduty_webhook(body, webhook_id=webhook_id)
    except WebhookError as exc:
        assert 400 <= exc.http_status < 500
        return
    assert isinstance(signal, AlertSignal) and signal.delivery_id


@settings(max_examples=300)
@given(body=st.binary(max_size=2_000), webhook_id=st.one_of(st.none(), st.text(max_size=40)))
def test_arbitrary_bytes_never_raise_anything_else(body: bytes, webhook_id: str | None) -> None:
    _parse_or_refuse(body, webhook_id)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(document=JSON_VALUES | st.fixed_dictionaries({"event": JSON_VALUES}))
def test_arbitrary_json_never_raises_anything_else(document: Any) -> None:
    _parse_or_refuse(json.dumps(document).encode(), "wh")


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(VALID_DOCUMENTS),
       mutations=st.lists(st.tuples(st.sampled_from(MUTABLE_PATHS),
                                    JSON_VALUES | st.just(DELETE)), min_size=1, max_size=6))
def test_mutated_valid_payloads_never_raise_anything_else(
        base: dict[str, Any], mutations: list[tuple[tuple[Any, ...], Any]]) -> None:
    document = copy.deepcopy(base)
    for path, value in mutations:
        _mutate(document, path, value)
    _parse_or_refuse(json.dumps(document).encode(), "wh-mutated")
