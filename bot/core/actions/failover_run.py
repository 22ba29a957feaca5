"""Carrying out a confirmed provider failover or restore, and seeing the traffic move.

Both read the routing first: already where it was asked to go is "no change"; moved since the
plan is "stale", and nothing is done. The provider that traffic goes to is checked once more
just before the switch, since minutes may have passed since the plan.

- Failover sends all the traffic to the backup (redeploying the service after an ``ssm`` switch
  with ``redeploy``), then waits until it shows: the backup's share of the newest minute's
  requests in CloudWatch when ``verify.metric`` is set, else the switch reading back the backup.
- Restore moves the traffic back to the primary one share at a time. Each step is verified the
  same way, then watched for ``restore_hold``: the primary's health check, and its error rate
  when the traffic metric has ``errors``. A step that goes wrong sends all the traffic back to
  the backup and ends the action as failed, saying at which step and why.

Everything happens within the action's verification time; a restore that runs out of it stops
where it is and says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.config.models import ServiceConfig
from bot.config.providers import ProvidersConfig
from bot.core.actions.kinds import ActionState
from bot.core.actions.planned import Progress
from bot.core.actions.providers import ActionProviders
from bot.core.clock import Clock, utc_now
from bot.core.failover.health import HealthReader
from bot.core.failover.routing import Routing, RoutingControl
from bot.core.failover.traffic import error_rate, read_traffic
from bot.core.ports.cloudwatch import MetricSource
from bot.core.ports.ecs import EcsProvider

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RunResult:
    state: ActionState
    message: str
    observed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunTiming:
    timeout: timedelta  # the whole run, already scaled
    interval: float  # seconds between reads
    hold: Callable[[timedelta], timedelta]  # a configured duration in real time (time_scale)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    @property
    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())


class FailoverRunner:
    def __init__(self, *, routing: RoutingControl, health: HealthReader, metrics: MetricSource | None,
                 ecs: EcsProvider | None, clock: Callable[[], datetime], sleep: Sleep = asyncio.sleep) -> None:
        self._routing = routing
        self._health = health
        self._metrics = metrics
        self._ecs = ecs
        self._clock = clock
        self._sleep = sleep

    # --- failover ----------------------------------------------------------------------------

    async def failover(self, service_name: str, service: ServiceConfig, *, before: dict[str, Any],
                       after: dict[str, Any], timing: RunTiming, progress: Progress) -> RunResult:
        providers = _providers(service)
        target = str(after["provider"])
        deadline = _Deadline(timing.timeout.total_seconds())
        routing = await self._routing.read(providers)
        if routing.active == target and routing.share_of(target) == 100:
            return RunResult(ActionState.NO_CHANGE, f"{service_name} already sends all its traffic to {target}.",
                             routing.as_dict())
        if _moved_since(routing, before):
            return _stale(routing, before)
        health = await self._health.read(_named(providers, target), slow_after=providers.slow_after)
        if not health.state.usable:
            return RunResult(ActionState.FAILED, f"{target} is {health.state.value} now ({health.detail}), so "
                             "traffic was not moved to it. Nothing was changed.", {"health": health.state.value})
        await progress(f"Routing all of {service_name}'s traffic to {target} ({providers.switch.mechanism} switch)…")
        since = self._clock()
        await self._switch(service, providers, provider=target, share=100, fallback=routing.active,
                           progress=progress, deadline=deadline, timing=timing)
        moved, observed, evidence = await self._wait_moved(providers, target, 100, since=since, deadline=deadline,
                                                           timing=timing, progress=progress)
        if moved:
            return RunResult(ActionState.SUCCEEDED, f"Verified: {evidence}.", observed)
        return RunResult(ActionState.UNVERIFIED, f"Switched to {target}, but after {_span(timing.timeout)} the "
                         f"traffic has not shown moving ({evidence}). Check the service.", observed)

    # --- restore -----------------------------------------------------------------------------

    async def restore(self, service_name: str, service: ServiceConfig, *, before: dict[str, Any],
                      after: dict[str, Any], timing: RunTiming, progress: Progress) -> RunResult:
        providers = _providers(service)
        primary, fallback = str(after["provider"]), str(after["fallback"])
        shares = [int(s) for s in after["shares"]]
        deadline = _Deadline(timing.timeout.total_seconds())
        routing = await self._routing.read(providers)
        if routing.active == primary and routing.share_of(primary) == 100:
            return RunResult(ActionState.NO_CHANGE, f"{service_name} already sends all its traffic to {primary}.",
                             routing.as_dict())
        if _moved_since(routing, before):
            return _stale(routing, before)
        done: list[dict[str, Any]] = []
        for number, share in enumerate(shares, start=1):
            step = f"step {number}/{len(shares)} ({share}%)"
            health = await self._health.read(providers.primary, slow_after=providers.slow_after)
            if health.state.value != "healthy":
                return await self._back_off(service, providers, primary=primary, fallback=fallback, moved=done,
                                            why=f"{primary} was {health.state.value} before {step} "
                                                f"({health.detail})", progress=progress, deadline=deadline,
                                            timing=timing)
            await progress(f"Restore {step}: sending {share}% of {service_name}'s traffic to {primary}…")
            since = self._clock()
            await self._switch(service, providers, provider=primary, share=share, fallback=fallback,
                               progress=progress, deadline=deadline, timing=timing)
            moved, observed, evidence = await self._wait_moved(providers, primary, share, since=since,
                                                               deadline=deadline, timing=timing, progress=progress)
            done.append({"share": share, "verified": moved, "evidence": evidence})
            if not moved:
                return RunResult(ActionState.UNVERIFIED, f"Restore {step}: the traffic has not shown moving "
                                 f"({evidence}); it stays where it is. Check the service.",
                                 {**observed, "steps": done})
            problem = await self._hold(providers, primary, since=since, deadline=deadline, timing=timing,
                                       progress=progress, step=step)
            if problem:
                return await self._back_off(service, providers, primary=primary, fallback=fallback, moved=done,
                                            why=f"{problem} during {step}", progress=progress,
                                            deadline=deadline, timing=timing)
        held = _span(timing.hold(providers.restore_hold))
        steps = " → ".join(f"{s}%" for s in shares)
        return RunResult(ActionState.SUCCEEDED, f"Verified: {primary} takes all of {service_name}'s traffic again "
                         f"({steps}, each step healthy for {held}).", {"active": primary, "steps": done})

    async def _hold(self, providers: ProvidersConfig, primary: str, *, since: datetime, deadline: _Deadline,
                    timing: RunTiming, progress: Progress, step: str) -> str:
        """Watch the primary for ``restore_hold``; what went wrong, or "" when it held."""
        watch = _Deadline(min(timing.hold(providers.restore_hold).total_seconds(), deadline.left))
        await progress(f"Restore {step}: watching {primary}'s health and error rate…")
        while True:
            health = await self._health.read(providers.primary, slow_after=providers.slow_after)
            if health.state.value != "healthy":
                return f"{primary} turned {health.state.value} ({health.detail})"
            failing = await self._error_rate(providers, primary, since=since)
            if failing:
                return failing
            if watch.left <= 0:
                return ""
            await self._sleep(min(timing.interval, watch.left))

    async def _error_rate(self, providers: ProvidersConfig, primary: str, *, since: datetime) -> str:
        metric = providers.verify.metric
        if metric is None or self._metrics is None:
            return ""
        counts = await error_rate(self._metrics, metric, primary, since=since, now=self._clock())
        if counts is None or counts[1] <= 0:
            return ""
        failed, total = counts
        if failed / total > providers.max_error_rate:
            return (f"{primary} failed {failed:g} of {total:g} requests ({failed / total:.1%}, over "
                    f"{providers.max_error_rate:.0%})")
        return ""

    async def _back_off(self, service: ServiceConfig, providers: ProvidersConfig, *, primary: str, fallback: str,
                        moved: list[dict[str, Any]], why: str, progress: Progress, deadline: _Deadline,
                        timing: RunTiming) -> RunResult:
        if not moved:
            return RunResult(ActionState.FAILED, f"Not restored: {why}. Nothing was changed; the traffic stays on "
                             f"{fallback}.", {"steps": moved})
        await progress(f"{why}: sending all the traffic back to {fallback}…")
        await self._switch(service, providers, provider=fallback, share=100, fallback=primary, progress=progress,
                           deadline=deadline, timing=timing)
        routing = await self._routing.read(providers)
        return RunResult(ActionState.FAILED, f"Restore stopped: {why}. All the traffic was sent back to {fallback} "
                         f"(the switch now reads {routing.active}).", {**routing.as_dict(), "steps": moved})

    # --- the switch and its verification -----------------------------------------------------

    async def _switch(self, service: ServiceConfig, providers: ProvidersConfig, *, provider: str, share: int,
                      fallback: str, progress: Progress, deadline: _Deadline, timing: RunTiming) -> None:
        await self._routing.route(providers, provider=provider, share=share, fallback=fallback)
        ssm = providers.switch.ssm
        if ssm is None or not ssm.redeploy or service.ecs is None or self._ecs is None:
            return
        names = {"cluster": service.ecs.cluster, "service": service.ecs.service}
        old = await self._ecs.describe(**names)
        await progress(f"Redeploying {service.ecs.service} so its tasks read the new provider…")
        await self._ecs.force_new_deployment(**names)
        replacing = old.primary.id if old.primary else None
        while deadline.left > 0:
            now = await self._ecs.describe(**names)
            if now.settled and now.primary is not None and now.primary.id != replacing:
                return
            await self._sleep(min(timing.interval, deadline.left))

    async def _wait_moved(self, providers: ProvidersConfig, provider: str, share: int, *, since: datetime,
                          deadline: _Deadline, timing: RunTiming,
                          progress: Progress) -> tuple[bool, dict[str, Any], str]:
        last = ""
        while True:
            moved, observed, evidence = await self._moved(providers, provider, share, since=since)
            if moved or deadline.left <= 0:
                return moved, observed, evidence
            if evidence != last:
                await progress(f"Verifying: {evidence}")
                last = evidence
            await self._sleep(min(timing.interval, deadline.left))

    async def _moved(self, providers: ProvidersConfig, provider: str, share: int, *,
                     since: datetime) -> tuple[bool, dict[str, Any], str]:
        metric = providers.verify.metric
        if metric is not None and self._metrics is not None:
            reading = await read_traffic(self._metrics, metric, providers.names, since=since, now=self._clock())
            observed = {"traffic": reading.requests, "share": reading.share(provider)}
            return reading.moved(provider, share), observed, reading.line
        routing = await self._routing.read(providers)
        reads = f"the {providers.switch.mechanism} switch reads {_routing_words(routing)}"
        moved = routing.active == provider if share == 100 else routing.share_of(provider) >= share
        return moved, routing.as_dict(), reads


def _providers(service: ServiceConfig) -> ProvidersConfig:
    assert service.providers is not None
    return service.providers


def _named(providers: ProvidersConfig, name: str) -> Any:
    found = providers.named(name)
    assert found is not None, name
    return found


def _moved_since(routing: Routing, before: dict[str, Any]) -> bool:
    return routing.active != before.get("active") or dict(routing.shares) != dict(before.get("shares") or {})


def _stale(routing: Routing, before: dict[str, Any]) -> RunResult:
    return RunResult(ActionState.STALE, f"The routing changed since this was requested ({_routing_words(routing)} "
                     f"instead of {before.get('active')}), so nothing was done. Look at the providers and ask again "
                     "if it is still needed.", routing.as_dict())


def _routing_words(routing: Routing) -> str:
    if routing.shares:
        return ", ".join(f"{name} {share}%" for name, share in routing.shares.items() if share) or routing.active
    return routing.active


def _span(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"



def failover_runner(providers: ActionProviders, *, sleep: Sleep = asyncio.sleep,
                    clock: Clock = utc_now) -> FailoverRunner:
    """The runner over the action providers (parameters, admin API, ECS, probe and metrics)."""
    return FailoverRunner(routing=RoutingControl(parameters=providers.parameters, admin=providers.provider_admin),
                          health=HealthReader(probe=providers.probe, metrics=providers.metrics, clock=clock),
                          metrics=providers.metrics, ecs=providers.ecs, clock=clock, sleep=sleep)
