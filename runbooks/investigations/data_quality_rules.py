"""Data quality's rules: each feature against its limits, and the feature store from its health URL.

Seed 002's data-quality alerts: "Feature null rate > 5%: WARNING", "Feature store unavailable:
CRITICAL"; its branch for a feature store outage raises the incident to P1. A feature is stale
past its maximum age, and critical past ``CRITICAL_AGE_FACTOR`` times it: by then the model has
run on old data for several refresh cycles, not just missed one. A freshness datapoint ages
too: the age is what it reported plus the time since it reported.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config.models import DataQualityConfig
from bot.core.ports.errors import ProviderError
from bot.core.ports.http_probe import ProbeAnswer
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.stats_page import NormalizationContext

CRITICAL_AGE_FACTOR = 4
# A freshness past this is read as this: a unit mix-up or a placeholder, and no timedelta holds 1e108 s.
LONGEST_AGE = timedelta(days=3650)
# A health page whose JSON "status" says one of these reports the store down, whatever its HTTP status.
DOWN_WORDS = frozenset({"down", "fail", "failed", "failing", "unhealthy", "error", "critical", "unavailable"})
FEATURE_STORE_DOWN_SEVERITY = "P1"


@dataclass(frozen=True)
class Reading:
    value: float
    at: datetime


@dataclass(frozen=True)
class FeatureReadings:
    name: str
    freshness: Reading | None = None
    null_rate: Reading | None = None


@dataclass(frozen=True)
class Limits:
    max_age: timedelta
    max_null_rate: float
    max_context_age: timedelta

    @classmethod
    def of(cls, config: DataQualityConfig) -> Limits:
        return cls(config.max_age, config.max_null_rate, config.max_context_age)

    @property
    def critical_age(self) -> timedelta:
        return self.max_age * CRITICAL_AGE_FACTOR


@dataclass(frozen=True)
class FeatureState:
    """One feature judged against the limits: its age at the window's end, its null rate, its problems."""

    name: str
    age: timedelta | None
    null_rate: float | None
    verdict: Verdict
    problems: tuple[str, ...] = ()  # "stale", "nulls", "no freshness data", "no null-rate data", "bad null rate"

    @property
    def stale(self) -> bool:
        return "stale" in self.problems


def judge_feature(readings: FeatureReadings, *, limits: Limits, end: datetime, reads_freshness: bool,
                  reads_null_rate: bool) -> FeatureState:
    problems: list[str] = []
    verdict = Verdict.OK
    age = None
    if readings.freshness is not None and math.isfinite(readings.freshness.value):
        reported = timedelta(seconds=min(max(readings.freshness.value, 0.0), LONGEST_AGE.total_seconds()))
        age = reported + max(end - readings.freshness.at, timedelta(0))
        if age > limits.max_age:
            problems.append("stale")
            verdict = Verdict.CRITICAL if age > limits.critical_age else Verdict.WARNING
    elif reads_freshness:
        problems.append("no freshness data")
    null_rate = readings.null_rate.value if readings.null_rate is not None else None
    if null_rate is not None and not 0.0 <= null_rate <= 1.0:  # NaN too; a percentage (7.5) is not a share
        problems.append("bad null rate")
        null_rate = None
    elif null_rate is not None and null_rate > limits.max_null_rate:
        problems.append("nulls")
    elif null_rate is None and reads_null_rate:
        problems.append("no null-rate data")
    if problems and verdict == Verdict.OK:
        verdict = Verdict.WARNING
    return FeatureState(readings.name, age, null_rate, verdict, tuple(problems))


@dataclass(frozen=True)
class StoreHealth:
    url: str
    up: bool | None  # None: the answer says nothing about the store (a 4xx, a redirect elsewhere)
    detail: str  # "HTTP 503 in 0.02 s", "no answer within 5 s"
    status: int | None = None

    @property
    def down(self) -> bool:
        return self.up is False


def store_health(url: str, answer: ProbeAnswer | None, error: ProviderError | None) -> StoreHealth:
    """The feature store's state from its health URL's answer, or from why there was none."""
    if answer is None:
        status = getattr(error, "status", None)
        message = error.message if error is not None else "no answer"
        # A refusal to follow (another host, too many redirects) is the probe's problem, not the store's.
        return StoreHealth(url, None if status is not None else False, message, status)
    took = f"HTTP {answer.status} in {answer.seconds:.2f} s"
    if answer.status >= 500:
        return StoreHealth(url, False, took, answer.status)
    if not answer.ok:
        return StoreHealth(url, None, f"{took}: check probe_url", answer.status)
    said = _health_status(answer.body)
    if said in DOWN_WORDS:
        return StoreHealth(url, False, f'{took}, status "{said}"', answer.status)
    return StoreHealth(url, True, took, answer.status)


def _health_status(body: bytes) -> str | None:
    try:
        page = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None  # a health page need not be JSON: "OK" is an answer
    status = page.get("status") if isinstance(page, dict) else None
    return status.strip().lower()[:40] if isinstance(status, str) else None


@dataclass(frozen=True)
class ContextState:
    url: str
    context: NormalizationContext | None
    problem: str | None = None  # why the page could not be read

    def stale(self, limits: Limits) -> bool:
        return self.context is not None and self.context.age > limits.max_context_age
