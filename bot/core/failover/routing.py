"""Which provider a service's traffic goes to now, and changing it, through the configured switch.

- ``ssm``: a Parameter Store parameter holds the active provider's name; writing it is the switch,
  and with ``redeploy`` the service's ECS tasks are replaced so they read it. It holds one name,
  so it has no shares: the active provider takes all the traffic.
- ``http``: the admin API's call, its body filled in from the config's template; its
  ``state_url`` answers the routing now (the active provider, and the shares when it has weights).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.config.providers import PROVIDER_NAME, HttpSwitch, ProvidersConfig
from bot.core.ports.errors import ProviderError, ProviderRejected
from bot.core.ports.provider_admin import ProviderAdmin
from bot.core.ports.ssm import ParameterStore

UNKNOWN = "unknown"


class RoutingUnavailable(ProviderError):
    """The switch is not set up on this bot (no AWS access, no admin client); nothing was done."""

    def __init__(self, message: str) -> None:
        super().__init__(message, provider="routing")


@dataclass(frozen=True)
class Routing:
    active: str  # the provider taking the most traffic; UNKNOWN when the switch cannot say
    shares: Mapping[str, int] = field(default_factory=dict)  # percent per provider; empty: all to ``active``
    version: int | None = None  # the parameter's version, for the ssm switch

    def share_of(self, provider: str) -> int:
        if self.shares:
            return int(self.shares.get(provider, 0))
        return 100 if provider == self.active else 0

    def as_dict(self) -> dict[str, Any]:
        return {"active": self.active, "shares": dict(self.shares),
                **({"version": self.version} if self.version is not None else {})}


class RoutingControl:
    def __init__(self, *, parameters: ParameterStore | None, admin: ProviderAdmin | None) -> None:
        self._parameters = parameters
        self._admin = admin

    async def read(self, providers: ProvidersConfig) -> Routing:
        switch = providers.switch
        if switch.ssm is not None:
            current = await self._store().get(switch.ssm.parameter)
            return Routing(active=_name(current.value), version=current.version)
        assert switch.http is not None
        if switch.http.state_url is None:
            return Routing(active=UNKNOWN)
        answer = await self._api().call(method="GET", url=switch.http.state_url, token_env=switch.http.token_env)
        return _routing_from(answer.body, switch.http)

    async def route(self, providers: ProvidersConfig, *, provider: str, share: int, fallback: str) -> int | None:
        """Send ``share`` percent of the traffic to ``provider`` (the rest to ``fallback``, where the
        switch has weights). Returns the parameter's new version for the ssm switch."""
        switch = providers.switch
        if switch.ssm is not None:
            return await self._store().put(switch.ssm.parameter, provider)
        assert switch.http is not None
        body = fill_body(switch.http.body, provider=provider, share=share if switch.http.weights else 100,
                         fallback=fallback)
        await self._api().call(method=switch.http.method, url=switch.http.url, body=body,
                               token_env=switch.http.token_env)
        return None

    def _store(self) -> ParameterStore:
        if self._parameters is None:
            raise RoutingUnavailable("Parameter Store is not set up on this bot (no AWS access)")
        return self._parameters

    def _api(self) -> ProviderAdmin:
        if self._admin is None:
            raise RoutingUnavailable("the admin API client is not set up on this bot")
        return self._admin


def fill_body(template: Mapping[str, Any], *, provider: str, share: int, fallback: str) -> dict[str, Any]:
    """The admin call's JSON: each string that is exactly a placeholder becomes its value (the
    share as a number). Nothing else is interpolated, so a value can never build new JSON."""
    values: dict[str, Any] = {"{provider}": provider, "{share}": share, "{fallback}": fallback}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return values.get(value, value)
        if isinstance(value, Mapping):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return {key: fill(value) for key, value in template.items()}


def _routing_from(body: Any, http: HttpSwitch) -> Routing:
    if not isinstance(body, Mapping):
        raise ProviderRejected(f"{http.state_url} did not answer a JSON object", provider="provider-admin",
                               status=502)
    shares: dict[str, int] = {}
    raw_weights = body.get(http.weights_field)
    if isinstance(raw_weights, Mapping):
        for key, value in list(raw_weights.items())[:20]:
            if isinstance(key, str) and PROVIDER_NAME.fullmatch(key) and _is_share(value):
                shares[key] = int(value)
    active = _name(body.get(http.state_field))
    if active == UNKNOWN and shares:
        active = max(shares, key=lambda name: shares[name])
    return Routing(active=active, shares=shares)


def _is_share(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100


def _name(value: Any) -> str:
    """A provider's name as the switch holds it; anything that could not be one reads as unknown."""
    text = value.strip() if isinstance(value, str) else ""
    return text if PROVIDER_NAME.fullmatch(text) else UNKNOWN
