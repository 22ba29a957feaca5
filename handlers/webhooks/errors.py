"""The webhook package's exceptions: each one knows the HTTP status it answers with.

Every verify/parse function in this package raises only these, whatever bytes arrive, so an
endpoint can answer ``exc.http_status`` with ``exc.reason`` and never a 500. The reason is public:
it is sent back to the caller, so it never echoes the payload or a secret.
"""

from __future__ import annotations

# Senders do not deliver more than this (PagerDuty drops bodies over 256 KB; SNS caps messages at
# 256 KB), so anything bigger is not a genuine delivery and is refused before it is parsed.
MAX_BODY_BYTES = 256 * 1024


class WebhookError(Exception):
    """A delivery that is refused; ``http_status`` and ``reason`` are what the caller is told."""

    http_status: int = 400
    default_reason: str = "bad request"

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or self.default_reason
        super().__init__(self.reason)


class MalformedPayload(WebhookError):
    http_status = 400
    default_reason = "malformed payload"


class BadSignature(WebhookError):
    """Missing, wrong or unverifiable signature (or token): the sender is not who it claims."""

    http_status = 401
    default_reason = "bad signature"


class ForbiddenTopic(WebhookError):
    http_status = 403
    default_reason = "topic not allowed"


class ReplayedDelivery(WebhookError):
    """A validly signed delivery never seen before, dated outside the sender's retry window.

    Only a replay (or a clock far off) dates a delivery so; refused like a forgery, 4xx so the
    sender does not retry it, and into the security log.
    """

    http_status = 403
    default_reason = "delivery is outside the sender's retry window"


class PayloadTooLarge(WebhookError):
    http_status = 413
    default_reason = "payload too large"


class UpstreamUnavailable(WebhookError):
    """Something we had to fetch to verify a delivery (an SNS certificate) could not be had now.

    Answered 503 rather than 401, because SNS treats 4xx as permanent and would drop a genuine
    alarm over a network blip; a 5xx makes it retry.
    """

    http_status = 503
    default_reason = "verification temporarily unavailable"
