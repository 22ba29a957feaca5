"""Reading a webhook body as JSON, the same way on every route: size, then UTF-8, then nesting
and JSON, each refusal a ``WebhookError`` with the status it answers with."""

from __future__ import annotations

from handlers.payloads import TooDeeplyNested, loads_bounded
from handlers.webhooks.errors import MAX_BODY_BYTES, MalformedPayload, PayloadTooLarge


def load_json_body(body: bytes) -> object:
    """A webhook body as JSON: size first (413), then strict UTF-8 and JSON (400)."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise MalformedPayload("body must be bytes")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        # Decoded first: json.loads on bytes would also accept UTF-16 and UTF-32.
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload("body is not UTF-8") from exc
    try:
        return loads_bounded(text)
    except TooDeeplyNested as exc:
        raise MalformedPayload(str(exc)) from exc
    except ValueError as exc:
        raise MalformedPayload("body is not valid JSON") from exc
