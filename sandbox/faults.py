"""Fault injection for the local Slack server: rate limits and server errors on demand.

A rule matches Web API method names by glob and fires for a number of calls (``times``), with a
probability (``rate``, drawn from a seeded ``random.Random`` so runs repeat), and/or until a
deadline (``until``). The first live rule that matches and fires answers the call instead of
the workspace; the workspace is not touched.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ERRORS = {429: "ratelimited", 503: "service_unavailable", 200: "fatal_error"}


@dataclass(frozen=True)
class FaultResponse:
    """What a fired rule answers with."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FaultRule:
    """One injected fault; ``fired`` counts how often it has answered a call.

    ``status=200`` injects a Slack-level error (``{"ok": false, "error": error}``) with HTTP 200.
    """

    id: int
    method_glob: str = "*"
    status: int = 429
    retry_after: int | None = 1
    times: int | None = None
    rate: float | None = None
    until: float | None = None
    error: str | None = None
    fired: int = 0

    def validate(self) -> None:
        if not 200 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status, not {self.status}")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {self.rate}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must not be negative, not {self.times}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"retry_after must not be negative, not {self.retry_after}")

    def live(self, now: float) -> bool:
        spent = self.times is not None and self.fired >= self.times
        expired = self.until is not None and now >= self.until
        return not spent and not expired

    def response(self) -> FaultResponse:
        error = self.error or DEFAULT_ERRORS.get(self.status, "internal_error")
        headers = {}
        if self.status == 429:
            # slack_sdk's retry handler reads whole seconds from this header.
            headers["Retry-After"] = str(self.retry_after if self.retry_after is not None else 1)
        return FaultResponse(self.status, {"ok": False, "error": error}, headers)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id, "method_glob": self.method_glob, "status": self.status,
            "retry_after": self.retry_after, "times": self.times, "rate": self.rate,
            "remaining_s": None if self.until is None else max(0.0, self.until - now),
            "error": self.error, "fired": self.fired, "live": self.live(now),
        }


class FaultInjector:
    """Thread-safe set of fault rules; ``server.faults`` of the local Slack server."""

    def __init__(self, seed: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._seed = seed
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)

    def add(self, method_glob: str = "*", *, status: int = 429, retry_after: int | None = 1,
            times: int | None = None, rate: float | None = None, until: float | None = None,
            error: str | None = None) -> FaultRule:
        """Add a rule. ``times=None`` fires without a count limit; ``until`` is seconds from now.

        Rules are tried in the order they were added; the first that fires wins.
        """
        with self._lock:
            rule = FaultRule(
                id=next(self._ids), method_glob=method_glob, status=int(status),
                retry_after=None if retry_after is None else int(retry_after),
                times=None if times is None else int(times),
                rate=None if rate is None else float(rate),
                until=None if until is None else self._clock() + float(until),
                error=error,
            )
            rule.validate()
            self._rules.append(rule)
            return rule

    def clear(self) -> None:
        """Drop every rule and restart the random sequence, so a run can repeat itself."""
        with self._lock:
            self._rules.clear()
            self._rng = random.Random(self._seed)

    def describe(self, rule: FaultRule) -> dict[str, Any]:
        with self._lock:
            return rule.to_json(self._clock())

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self._clock()
            return [rule.to_json(now) for rule in self._rules]

    def pick(self, method: str) -> FaultResponse | None:
        """The fault that answers this call, if one fires."""
        with self._lock:
            now = self._clock()
            for rule in self._rules:
                if not rule.live(now) or not fnmatch.fnmatchcase(method, rule.method_glob):
                    continue
                if rule.rate is not None and self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                return rule.response()
            return None
