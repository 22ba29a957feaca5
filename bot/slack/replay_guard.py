"""Refuse a signed Slack request that arrives a second time within the signature window.

Slack's signature only proves who sent a request and roughly when: anyone who captures one (a
proxy log, a leaked HAR file) can send it again within the 5 minutes the timestamp stays fresh,
and the bot would declare the incident or press the button again. Slack itself never sends the
same signed bytes twice: slash commands and interactions are not retried, and Events API retries
carry ``X-Slack-Retry-Num`` (those are let through; the event handlers are idempotent per event).

The memory is per process, and bounded: entries are forgotten once their timestamp has left the
window (a replay after that fails the timestamp check anyway), and past ``capacity`` the oldest
are dropped first, trading an old replay's refusal for bounded memory under a flood.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

# slack_sdk's SignatureVerifier accepts timestamps up to this many seconds from now, either way.
SIGNATURE_WINDOW_SECONDS = 300
DEFAULT_CAPACITY = 100_000


class ReplayGuard:
    def __init__(self, *, window: float = SIGNATURE_WINDOW_SECONDS, capacity: int = DEFAULT_CAPACITY,
                 clock: Callable[[], float] = time.time) -> None:
        self._window = window
        self._capacity = capacity
        self._clock = clock
        # signature -> when it may be forgotten; insertion order is close to expiry order.
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, *, timestamp: str, signature: str) -> bool:
        """True the first time a (verified) request is seen; False for a replay of it.

        Call only after the signature has been verified, so that only Slack's own requests (not
        an attacker's junk) take memory. The signature covers the timestamp and the body, so it
        alone names the request.
        """
        now = self._clock()
        self._forget_expired(now)
        if signature in self._seen:
            return False
        try:
            sent_at = float(timestamp)
        except ValueError:
            sent_at = now
        # A timestamp up to a window in the future stays acceptable until a window after it.
        self._seen[signature] = max(sent_at, now) + self._window
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            signature, expires = next(iter(self._seen.items()))
            if expires > now:
                return
            del self._seen[signature]

    def __len__(self) -> int:
        return len(self._seen)
