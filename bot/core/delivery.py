"""How an outbox delivery can fail, whatever it delivers to (Slack, PagerDuty)."""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class for failed outbox deliveries."""


class RetryLater(DeliveryError):
    """The other side is busy or down; the same delivery may work later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GiveUp(DeliveryError):
    """The other side refused this delivery; repeating it unchanged will not help."""


class NotReady(DeliveryError):
    """The delivery depends on one that has not happened yet (an incident without a channel)."""
