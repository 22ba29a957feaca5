"""Is a provider up? Its health URL (read with the bounded same-host probe) and/or its metric.

- A health URL that answers 2xx is healthy, or slow when it took longer than ``slow_after``
  (seed 003: P95 over 1.5 s is a warning); a 2xx whose JSON ``status`` says down, a 5xx, or no
  answer within the probe's time limit is down. A 4xx or a redirect elsewhere says nothing about
  the provider: unknown, with a line to check the URL.
- A health metric's latest value on the wrong side of its threshold is down (seed 003:
  provider availability below 95% is critical); no datapoint in the last 15 minutes is unknown.

With both, the worse reading wins. Only healthy and slow providers take traffic.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.config.providers import ProviderConfig, ProviderHealthMetric, ProvidersConfig
from bot.core.ports.cloudwatch import MetricRef, MetricSource
from bot.core.ports.errors import ProviderError, ProviderUnavailable
from bot.core.ports.http_probe import HttpProbe, ProbeAnswer

METRIC_LOOKBACK = timedelta(minutes=15)
DOWN_WORDS = frozenset({"down", "unhealthy", "error", "fail", "failed", "failing", "outage", "unavailable"})


class ProviderState(StrEnum):
    HEALTHY = "healthy"
    SLOW = "slow"
    DOWN = "down"
    UNKNOWN = "unknown"  # the check could not say (no data, a 4xx, nothing set up to read it)

    @property
    def usable(self) -> bool:
        """Whether traffic may be moved to a provider in this state."""
        return self in (ProviderState.HEALTHY, ProviderState.SLOW)

    @property
    def emoji(self) -> str:
        return {"healthy": "🟢", "slow": "🟡", "down": "🔴", "unknown": "⚪"}[self.value]


_WORST_FIRST = (ProviderState.DOWN, ProviderState.UNKNOWN, ProviderState.SLOW, ProviderState.HEALTHY)


@dataclass(frozen=True)
class ProviderHealth:
    name: str
    state: ProviderState
    detail: str  # what the checks saw, one line
    seconds: float | None = None  # how long the health URL took

    @property
    def line(self) -> str:
        return f"{self.state.emoji} {self.name}: {self.state.value} ({self.detail})"


class HealthReader:
    def __init__(self, *, probe: HttpProbe | None, metrics: MetricSource | None,
                 clock: Callable[[], datetime]) -> None:
        self._probe = probe
        self._metrics = metrics
        self._clock = clock

    async def read_all(self, providers: ProvidersConfig) -> dict[str, ProviderHealth]:
        """Every provider of a service, read at once, in config order (primary first)."""
        readings = await asyncio.gather(*(self.read(p, slow_after=providers.slow_after) for p in providers.all))
        return {reading.name: reading for reading in readings}

    async def read(self, provider: ProviderConfig, *, slow_after: timedelta) -> ProviderHealth:
        checks: list[tuple[ProviderState, str, float | None]] = []
        if provider.health_url is not None:
            checks.append(await self._url(provider.health_url, slow_after))
        if provider.health_metric is not None:
            state, detail = await self._metric(provider.health_metric)
            checks.append((state, detail, None))
        state = next(s for s in _WORST_FIRST if any(c[0] == s for c in checks))
        seconds = next((c[2] for c in checks if c[2] is not None), None)
        return ProviderHealth(provider.name, state, "; ".join(c[1] for c in checks), seconds)

    async def _url(self, url: str, slow_after: timedelta) -> tuple[ProviderState, str, float | None]:
        if self._probe is None:
            return ProviderState.UNKNOWN, "health URL: no HTTP client on this bot", None
        try:
            answer = await self._probe.get(url)
        except ProviderUnavailable as exc:
            return ProviderState.DOWN, f"health URL: {_short(exc.message)}", None
        except ProviderError as exc:
            return ProviderState.UNKNOWN, f"health URL: {_short(exc.message)}; check health_url", None
        return (*_judge_answer(answer, slow_after), answer.seconds)

    async def _metric(self, metric: ProviderHealthMetric) -> tuple[ProviderState, str]:
        ref = MetricRef(metric.namespace, metric.name, dict(metric.dimensions), stat=metric.stat)
        if self._metrics is None:
            return ProviderState.UNKNOWN, f"{metric.name}: CloudWatch is not set up on this bot"
        end = self._clock()
        try:
            series = await self._metrics.series(ref, start=end - METRIC_LOOKBACK, end=end)
        except ProviderError as exc:
            return ProviderState.UNKNOWN, f"{metric.name}: {_short(exc.message)}"
        if series.empty:
            return ProviderState.UNKNOWN, f"{metric.name}: no datapoint in the last {METRIC_LOOKBACK.seconds // 60} min"
        value = series.points[-1][1]
        bad = value < metric.threshold if metric.unhealthy_when == "below" else value > metric.threshold
        side = "under" if metric.unhealthy_when == "below" else "over"
        if bad:
            return ProviderState.DOWN, f"{metric.name} {value:g}, {side} {metric.threshold:g}"
        return ProviderState.HEALTHY, f"{metric.name} {value:g}"


def _judge_answer(answer: ProbeAnswer, slow_after: timedelta) -> tuple[ProviderState, str]:
    took = f"{answer.seconds * 1000:.0f} ms"
    if answer.status >= 500:
        return ProviderState.DOWN, f"health URL answered {answer.status} in {took}"
    if not answer.ok:
        return ProviderState.UNKNOWN, f"health URL answered {answer.status}; check health_url"
    said = _status_word(answer.body)
    if said in DOWN_WORDS:
        return ProviderState.DOWN, f"health URL answered {answer.status} with status {said!r}"
    if answer.seconds > slow_after.total_seconds():
        return ProviderState.SLOW, f"health URL took {took}, over {slow_after.total_seconds():g} s"
    return ProviderState.HEALTHY, f"health URL answered {answer.status} in {took}"


def _status_word(body: bytes) -> str:
    try:
        value = json.loads(body)
    except ValueError:
        return ""
    status = value.get("status") if isinstance(value, dict) else None
    return status.strip().lower()[:40] if isinstance(status, str) else ""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
