"""Planning a provider failover or restore (seed 003): the routing now, every provider's health,
and where the traffic goes.

- Failover moves all the traffic to a backup: the one named, or the first healthy one in the
  config's order. A backup that is down, or whose health cannot be read, is refused: moving
  traffic onto it would turn a partial outage into a full one.
- Restore moves the traffic back to the primary once it is healthy again: in the config's
  canary shares (10% → 50% → 100%) when the switch takes weights, else in one step, and the
  plan says so.
"""

from __future__ import annotations

from typing import Any

from bot.config.models import ServiceConfig
from bot.config.providers import PROVIDER_NAME, ProvidersConfig
from bot.core.actions.errors import ActionInputError, ActionUnavailable
from bot.core.actions.planned import Planned
from bot.core.actions.providers import ActionProviders
from bot.core.clock import Clock, utc_now
from bot.core.failover.health import HealthReader, ProviderHealth
from bot.core.failover.routing import UNKNOWN, Routing, RoutingControl, RoutingUnavailable


def routing_target(service: str) -> str:
    """One routing change at a time per service: a failover and a restore share the target."""
    return f"providers:{service}"


class FailoverPlanner:
    def __init__(self, *, routing: RoutingControl, health: HealthReader) -> None:
        self._routing = routing
        self._health = health

    async def failover(self, name: str, service: ServiceConfig, *, requested: str) -> Planned:
        providers = _providers(name, service)
        wanted = requested.strip().lower()
        if wanted == providers.primary.name:
            raise ActionInputError(f"{wanted} is {name}'s primary: move traffic back to it with "
                                   f"`/incident failover restore {name}`, which restores it gradually.")
        if wanted and wanted not in providers.names:
            raise ActionInputError(f"`{_shown(requested)}` isn't a provider of {name}. Its backups: "
                                   f"{_choices(p.name for p in providers.backups)}.")
        routing, health = await self._read(providers)
        target = wanted or self._first_usable_backup(providers, routing, health, name)
        if target == routing.active and routing.share_of(target) == 100:
            raise ActionInputError(f"{name} already sends all its traffic to {target}.")
        reading = health[target]
        if not reading.state.usable:
            usable = [p.name for p in providers.backups if health[p.name].state.usable and p.name != routing.active]
            also = f" Healthy backups: {_choices(usable)}." if usable else " No backup is healthy now."
            raise ActionInputError(f"{target} is {reading.state.value} ({reading.detail}), so traffic will not be "
                                   f"moved to it.{also}")
        notes = self._notes(providers, routing, health, name)
        active = health.get(routing.active)
        if active is not None and active.state.usable:
            notes = (f"⚠️ {routing.active} looks {active.state.value}: make sure it is the provider at fault.", *notes)
        return Planned(
            target=routing_target(name), target_label=f"{name} providers",
            before=_before(routing, health), after=_after(providers, target, routing, shares=(100,)),
            change=f"traffic {_from(routing)} → {target} (100%)", notes=notes)

    async def restore(self, name: str, service: ServiceConfig) -> Planned:
        providers = _providers(name, service)
        primary = providers.primary.name
        routing, health = await self._read(providers)
        if routing.active == primary and routing.share_of(primary) == 100:
            raise ActionInputError(f"{name} already sends all its traffic to its primary, {primary}.")
        reading = health[primary]
        if reading.state.value != "healthy":
            raise ActionInputError(f"The primary, {primary}, is {reading.state.value} ({reading.detail}): restore "
                                   "once its health check is healthy again (seed 003: test the provider's "
                                   "connectivity before restoring traffic).")
        fallback = routing.active if routing.active not in (UNKNOWN, primary) else providers.backups[0].name
        weighted = providers.switch.weighted
        shares = tuple(s for s in providers.restore_shares if s > routing.share_of(primary)) if weighted else (100,)
        how = (f"in canary steps {' → '.join(f'{s}%' for s in shares)}, each watched for "
               f"{_span(providers.restore_hold.total_seconds())} before the next" if len(shares) > 1
               else "in one step")
        notes = [f"Restores {how}; a step whose primary goes down or fails more than "
                 f"{providers.max_error_rate:.0%} of its requests moves the traffic back to {fallback}."]
        if not weighted:
            notes.append(f"The {providers.switch.mechanism} switch names one provider and takes no weights, so the "
                         "traffic moves back all at once, after the primary's health check passed.")
        return Planned(
            target=routing_target(name), target_label=f"{name} providers",
            before=_before(routing, health), after=_after(providers, primary, routing, shares=shares,
                                                          fallback=fallback),
            change=f"traffic {_from(routing)} → {primary} ({' → '.join(f'{s}%' for s in shares)})",
            notes=(*notes, *self._notes(providers, routing, health, name)))

    async def _read(self, providers: ProvidersConfig) -> tuple[Routing, dict[str, ProviderHealth]]:
        try:
            routing = await self._routing.read(providers)
        except RoutingUnavailable as exc:
            raise ActionUnavailable(f"Provider actions are not set up on this bot: {exc}. Nothing was changed.") \
                from exc
        return routing, await self._health.read_all(providers)

    @staticmethod
    def _first_usable_backup(providers: ProvidersConfig, routing: Routing, health: dict[str, ProviderHealth],
                             name: str) -> str:
        for backup in providers.backups:
            if backup.name != routing.active and health[backup.name].state.usable:
                return backup.name
        lines = "; ".join(health[b.name].line for b in providers.backups)
        raise ActionInputError(f"No backup of {name} is healthy, so there is nowhere safe to fail over to: {lines}.")

    @staticmethod
    def _notes(providers: ProvidersConfig, routing: Routing, health: dict[str, ProviderHealth],
               name: str) -> tuple[str, ...]:
        notes = [reading.line for reading in health.values()]
        if routing.active == UNKNOWN:
            notes.append(f"The switch does not say which provider {name} uses now.")
        elif routing.active not in providers.names:
            notes.append(f"The switch names {routing.active}, which isn't one of {name}'s configured providers.")
        return tuple(notes)


def _providers(name: str, service: ServiceConfig) -> ProvidersConfig:
    providers = service.providers
    assert providers is not None  # the planner chose a service that has them
    if providers.switch.ssm is not None and providers.switch.ssm.redeploy and service.ecs is None:
        raise ActionInputError(f"{name}'s provider switch redeploys the service, but {name} has no `ecs:` in the "
                               "config. Add it, or set `redeploy: false`.")
    return providers


def _before(routing: Routing, health: dict[str, ProviderHealth]) -> dict[str, Any]:
    return {**routing.as_dict(), "health": {name: reading.state.value for name, reading in health.items()}}


def _after(providers: ProvidersConfig, target: str, routing: Routing, *, shares: tuple[int, ...],
           fallback: str | None = None) -> dict[str, Any]:
    return {"provider": target, "from": routing.active, "fallback": fallback or routing.active,
            "shares": list(shares), "mechanism": providers.switch.mechanism}


def _from(routing: Routing) -> str:
    if routing.shares and len([s for s in routing.shares.values() if s]) > 1:
        return " + ".join(f"{n} {s}%" for n, s in routing.shares.items() if s)
    return routing.active


def _choices(names: Any) -> str:
    listed = [f"`{n}`" for n in names]
    return ", ".join(listed) if listed else "none"


def _shown(text: str) -> str:
    """A name someone typed, safe to show: a real provider name as is, anything else cut and quoted."""
    text = text.strip()
    if PROVIDER_NAME.fullmatch(text):
        return text
    return text[:40].replace("`", "'").replace("<", "‹").replace(">", "›").replace("&", "＆") + \
        ("…" if len(text) > 40 else "")


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"



def failover_planner(providers: ActionProviders, clock: Clock = utc_now) -> FailoverPlanner:
    """The planner over the action providers (their parameters, admin API, probe and metrics)."""
    return FailoverPlanner(
        routing=RoutingControl(parameters=providers.parameters, admin=providers.provider_admin),
        health=HealthReader(probe=providers.probe, metrics=providers.metrics, clock=clock))
