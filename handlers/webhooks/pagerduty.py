"""PagerDuty Webhooks v3: check ``X-PagerDuty-Signature``, parse the event into an ``AlertSignal``.

Both functions raise only ``WebhookError`` subclasses, whatever arrives: a delivery is either
refused with the status its error carries, or becomes one signal for the core.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.signals import AlertSignal, SignalKind, Source
from handlers.payloads import object_or_empty
from handlers.webhooks.bodies import load_json_body
from handlers.webhooks.errors import (
    MAX_BODY_BYTES,
    BadSignature,
    MalformedPayload,
    PayloadTooLarge,
)

SIGNATURE_HEADER = "X-PagerDuty-Signature"
WEBHOOK_ID_HEADER = "X-Webhook-Id"

EVENT_KINDS: Mapping[str, SignalKind] = {
    "incident.triggered": SignalKind.TRIGGER,
    "incident.acknowledged": SignalKind.ACKNOWLEDGE,
    "incident.unacknowledged": SignalKind.UNACKNOWLEDGE,
    "incident.resolved": SignalKind.CLEAR,
    "incident.reopened": SignalKind.REOPEN,
    "incident.escalated": SignalKind.ESCALATE,
    "incident.reassigned": SignalKind.REASSIGN,
    "incident.priority_updated": SignalKind.PRIORITY,
    "incident.annotated": SignalKind.ANNOTATE,
}

_V1_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
# One signature per active secret: PagerDuty never sends more than a handful, so a header with
# many more is not worth hashing.
MAX_SIGNATURES = 16
MAX_DELIVERY_ID = 200  # the dedup columns' width
# PagerDuty retries a delivery for up to 48 h; a signed delivery dated earlier and never seen is
# a replay, not a retry.
RETRY_WINDOW = timedelta(hours=48)
MAX_TITLE = 1_000
MAX_NOTE = 10_000
MAX_URL = 2_000
MAX_FIELD = 255


# --- signature -------------------------------------------------------------------------------


def verify_pagerduty_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Accept if any ``v1=`` signature in the header is HMAC-SHA256(secret, body) for any secret.

    PagerDuty sends one signature per active secret, so secret rotation works by configuring
    both secrets for a while. Unknown versions (``v2=...``) and unreadable parts are skipped;
    if no readable ``v1`` signature matches, the delivery is refused.
    """
    keys = [secret for secret in secrets if secret]
    if not keys:
        raise BadSignature("no webhook secret configured")
    if not header:
        raise BadSignature("missing signature")
    signatures = _v1_signatures(header)
    if not signatures:
        raise BadSignature("no v1 signature")
    expected = [hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest().encode("ascii")
                for key in keys]
    matched = False
    for signature in signatures:
        for digest in expected:
            # No early exit: the time taken must not tell which signature or secret matched.
            matched |= hmac.compare_digest(signature, digest)
    if not matched:
        raise BadSignature("signature mismatch")


def _v1_signatures(header: str) -> list[bytes]:
    found: list[bytes] = []
    for part in header.split(","):
        version, sep, value = part.strip().partition("=")
        value = value.strip()
        if sep and version.strip() == "v1" and _V1_SIGNATURE.fullmatch(value):
            found.append(value.lower().encode("ascii"))
        if len(found) >= MAX_SIGNATURES:
            break
    return found


# --- payload ---------------------------------------------------------------------------------


def parse_pagerduty_webhook(body: bytes, *, webhook_id: str | None) -> AlertSignal:
    """The ``AlertSignal`` for one v3 delivery; ``webhook_id`` is its ``X-Webhook-Id`` header.

    The signed ``event.id`` is the delivery's identity and ``occurred_at`` holds it to PagerDuty's
    retry window, so a v3 event without either is refused: neither could be checked.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    header_id = _key(webhook_id, what=f"{WEBHOOK_ID_HEADER} header")
    event = _event(_json_object(body))
    event_type = _text(event.get("event_type"), MAX_FIELD)
    if not event_type:
        raise MalformedPayload("event.event_type is missing")
    occurred_at = parse_timestamp(event.get("occurred_at"))
    if occurred_at is None:
        raise MalformedPayload("event.occurred_at is missing or not a timestamp")
    kind = EVENT_KINDS.get(event_type, SignalKind.IGNORED)
    common: dict[str, Any] = {
        "source": Source.PAGERDUTY,
        "delivery_id": _key(event.get("id"), what="event.id"),
        "webhook_id": header_id,
        "replay_window": RETRY_WINDOW,
        "kind": kind,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "actor": _text(object_or_empty(event.get("agent")).get("summary"), MAX_FIELD),
    }
    data = object_or_empty(event.get("data"))
    if kind is SignalKind.ANNOTATE:
        return AlertSignal(**common, **_note_fields(data))
    if kind is SignalKind.IGNORED:
        incident_id = _text(data.get("id"), MAX_FIELD) if data.get("type") == "incident" else None
        return AlertSignal(**common, pagerduty_incident_id=incident_id)
    return AlertSignal(**common, **_incident_fields(data, kind))


def _key(value: Any, *, what: str) -> str:
    # Deduplication hangs on these ids, so a delivery without them cannot be stored safely, and
    # one longer than its column is refused rather than cut to collide with another.
    key = _clean(value).strip() if isinstance(value, str) else ""
    if not key:
        raise MalformedPayload(f"{what} is missing")
    if len(key) > MAX_DELIVERY_ID:
        raise MalformedPayload(f"{what} is too long")
    return key


def _json_object(body: bytes) -> dict[str, Any]:
    document = load_json_body(body)
    if not isinstance(document, dict):
        raise MalformedPayload("body is not a JSON object")
    return document


def _event(document: dict[str, Any]) -> dict[str, Any]:
    event = document.get("event")
    if not isinstance(event, dict):
        raise MalformedPayload("no event object")
    return event


def _incident_fields(data: Mapping[str, Any], kind: SignalKind) -> dict[str, Any]:
    incident_id = _text(data.get("id"), MAX_FIELD)
    service = object_or_empty(data.get("service"))
    return {
        # The PD incident id, not incident_key: PD has already grouped alerts by incident_key
        # into this incident, and every later event about it carries the same id.
        "dedup_key": incident_id,
        "pagerduty_incident_id": incident_id,
        "title": _text(data.get("title"), MAX_TITLE) or "",
        "service_hint": _text(service.get("id"), MAX_FIELD),
        "service_name_hint": _text(service.get("summary"), MAX_FIELD),
        "pagerduty_priority": _text(object_or_empty(data.get("priority")).get("summary"), MAX_FIELD),
        "pagerduty_urgency": _text(data.get("urgency"), MAX_FIELD),
        "html_url": _text(data.get("html_url"), MAX_URL),
        "note": _assignment_note(data) if kind in (SignalKind.ESCALATE, SignalKind.REASSIGN)
        else None,
    }


def _note_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """``incident.annotated`` carries an ``incident_note``, which points at its incident."""
    incident = object_or_empty(data.get("incident"))
    incident_id = _text(incident.get("id"), MAX_FIELD)
    return {
        "dedup_key": incident_id,
        "pagerduty_incident_id": incident_id,
        "html_url": _text(incident.get("html_url"), MAX_URL),
        "note": _text(data.get("content"), MAX_NOTE),
    }


def _assignment_note(data: Mapping[str, Any]) -> str | None:
    assignees = data.get("assignees")
    names = [_text(object_or_empty(a).get("summary"), MAX_FIELD)
             for a in (assignees if isinstance(assignees, list) else [])]
    note = ", ".join(name for name in names if name)
    level = data.get("escalation_level")
    if isinstance(level, int) and not isinstance(level, bool):
        note = f"{note} (level {level})" if note else f"level {level}"
    return note[:MAX_NOTE] or None


def parse_timestamp(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (``Z`` or an offset; naive means UTC), else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# --- tolerant field access -------------------------------------------------------------------




def _text(value: Any, limit: int) -> str | None:
    """A string field, capped and made storable; None when absent or not a string."""
    if not isinstance(value, str):
        return None
    cleaned = _clean(value[:limit])
    return cleaned or None


def _clean(value: str) -> str:
    # PostgreSQL text refuses NUL, and JSON may carry lone surrogates that no driver can encode.
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
