"""A service's upstream AI providers (seed 003): which one is primary, the backups in order, how
each one's health is read, how traffic is switched between them, and how the bot sees it move.

    providers:
      primary: {name: openai, health_url: http://orchestrator.internal/providers/openai/health}
      backups:
        - {name: anthropic, health_url: http://orchestrator.internal/providers/anthropic/health}
      switch:
        ssm: {parameter: /orchestrator/prod/active_provider, redeploy: true}
        # or: http: {url: ..., method: PUT, body: {provider: "{provider}"}, token_env: ADMIN_TOKEN,
        #            state_url: ..., weights: true}
      verify:  # optional: the traffic itself, per provider
        metric: {namespace: AI/Orchestrator, name: Requests, dimension: Provider}

The token of an admin API is never in the file: ``token_env`` names the environment variable
that holds it, read when the call is made.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, Strict, model_validator
from pydantic_core import PydanticCustomError

from bot.config.base import ConfigModel
from bot.config.errors import NestedProblems
from bot.config.fields import Name, PositiveDuration
from bot.config.http_url import HttpUrl

__all__ = [
    "PROVIDER_NAME",
    "HttpSwitch",
    "ProviderConfig",
    "ProviderHealthMetric",
    "ProvidersConfig",
    "SsmSwitch",
    "SwitchConfig",
    "TrafficMetric",
    "TrafficVerify",
]

# A provider's name goes into Slack, a Parameter Store value and an admin API's JSON body: plain
# lowercase words only, so no name can carry markup, a path or a template of its own.
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
MAX_BACKUPS = 8
# The seeds' canary restore: a tenth of the traffic, then half, then all of it.
DEFAULT_RESTORE_SHARES = (10, 50, 100)
# Placeholders an admin call's body may carry; each string that is exactly one is replaced whole.
BODY_PLACEHOLDERS = ("{provider}", "{share}", "{fallback}")


def _provider_name(value: str) -> str:
    if not PROVIDER_NAME.fullmatch(value):
        raise PydanticCustomError("provider_name", "a provider name is 1-63 lowercase letters, digits, '_', '.' "
                                                   "and '-', starting with a letter, e.g. openai")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise PydanticCustomError("env_name", "name the environment variable that holds the token (upper-case "
                                              "letters, digits and '_', e.g. ORCHESTRATOR_ADMIN_TOKEN), never "
                                              "the token itself")
    return value


def _parameter_path(value: str) -> str:
    if not value.startswith("/") or value.endswith("/") or "//" in value:
        raise PydanticCustomError("parameter", "a Parameter Store path such as /orchestrator/prod/active_provider")
    return value


ProviderName = Annotated[str, Strict(), AfterValidator(_provider_name)]


class ProviderHealthMetric(ConfigModel):
    """A CloudWatch metric that says a provider's health: unhealthy when its latest value is
    ``below`` (an availability) or ``above`` (an error rate, a latency) the threshold."""

    namespace: Name
    name: Name
    dimensions: dict[Name, str] = Field(default_factory=dict)
    stat: Name = "Average"
    threshold: Annotated[float, Strict(), Field(allow_inf_nan=False)]
    unhealthy_when: Literal["below", "above"] = "below"


class ProviderConfig(ConfigModel):
    """One provider: its name and how its health is read (a health URL, a metric, or both)."""

    name: ProviderName
    health_url: HttpUrl | None = None  # GET; 2xx is up, a 5xx or no answer is down
    health_metric: ProviderHealthMetric | None = None

    @model_validator(mode="after")
    def _has_a_health_check(self) -> ProviderConfig:
        if self.health_url is None and self.health_metric is None:
            raise NestedProblems([(("health_url",), "give health_url or health_metric (or both): a failover "
                                                    "must know whether the provider it moves traffic to is up")])
        return self


class SsmSwitch(ConfigModel):
    """The active provider's name in a Parameter Store parameter; with ``redeploy``, the service's
    ECS tasks are replaced afterwards so they read it (the service needs ``ecs:``)."""

    parameter: Annotated[Name, AfterValidator(_parameter_path)]
    redeploy: bool = False


def _check_body(body: dict[str, Any]) -> dict[str, Any]:
    if not any(_mentions(value, "{provider}") for value in body.values()):
        raise PydanticCustomError("body", 'the body must carry "{provider}" somewhere, e.g. {provider: "{provider}"}')
    return body


def _mentions(value: Any, placeholder: str) -> bool:
    if isinstance(value, str):
        return value == placeholder
    if isinstance(value, dict):
        return any(_mentions(v, placeholder) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, placeholder) for v in value)
    return False


class HttpSwitch(ConfigModel):
    """An admin API call that routes traffic: ``method url`` with ``body`` (JSON; a string that is
    exactly ``{provider}``, ``{share}`` or ``{fallback}`` is replaced by the provider's name, its
    percentage of the traffic, or the provider that keeps the rest). ``state_url`` answers the
    routing now (JSON: ``state_field`` names the active provider, ``weights_field`` the shares)."""

    url: HttpUrl
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    body: Annotated[dict[str, Any], AfterValidator(_check_body)] = Field(
        default_factory=lambda: {"provider": "{provider}"})
    token_env: Annotated[str, Strict(), AfterValidator(_env_name)] | None = None
    state_url: HttpUrl | None = None
    state_field: Name = "provider"
    weights_field: Name = "weights"
    # The API takes a share of the traffic ({share}), so a restore can go step by step.
    weights: bool = False

    @model_validator(mode="after")
    def _weights_need_a_share(self) -> HttpSwitch:
        if self.weights and not _mentions(self.body, "{share}"):
            raise NestedProblems([(("body",), 'weights: true needs "{share}" in the body, where the share goes')])
        return self


class SwitchConfig(ConfigModel):
    ssm: SsmSwitch | None = None
    http: HttpSwitch | None = None

    @model_validator(mode="after")
    def _one_mechanism(self) -> SwitchConfig:
        if (self.ssm is None) == (self.http is None):
            raise NestedProblems([(("ssm",), "give exactly one of ssm or http")])
        return self

    @property
    def mechanism(self) -> str:
        return "ssm" if self.ssm is not None else "http"

    @property
    def weighted(self) -> bool:
        return self.http is not None and self.http.weights


class TrafficMetric(ConfigModel):
    """Requests per provider in CloudWatch (``dimension`` set to each provider's name); with
    ``errors``, the failed requests of the same shape, for the error rate of a restore step."""

    namespace: Name
    name: Name
    dimension: Name = "Provider"
    dimensions: dict[Name, str] = Field(default_factory=dict)
    errors: Name | None = None
    period: Annotated[int, Strict(), Field(ge=1, le=3600)] = 60


class TrafficVerify(ConfigModel):
    metric: TrafficMetric | None = None


def _check_shares(shares: tuple[int, ...]) -> tuple[int, ...]:
    if not shares or shares[-1] != 100 or list(shares) != sorted(set(shares)) or shares[0] <= 0:
        raise PydanticCustomError("shares", "rising percentages that end at 100, e.g. [10, 50, 100]")
    return shares


class ProvidersConfig(ConfigModel):
    primary: ProviderConfig
    backups: Annotated[tuple[ProviderConfig, ...], Field(min_length=1, max_length=MAX_BACKUPS)]
    switch: SwitchConfig
    verify: TrafficVerify = Field(default_factory=TrafficVerify)
    # A health URL slower than this is "slow" (seed 003: P95 latency over 1.5 s is a warning).
    slow_after: PositiveDuration = timedelta(seconds=1.5)
    restore_shares: Annotated[tuple[Annotated[int, Strict()], ...], AfterValidator(_check_shares)] = \
        DEFAULT_RESTORE_SHARES
    # How long each restore step watches the primary before the next (scaled by time_scale).
    restore_hold: PositiveDuration = timedelta(minutes=1)
    # A restore step whose primary errors exceed this share of its requests goes back (seed 003: 2%).
    max_error_rate: Annotated[float, Strict(), Field(gt=0, le=1)] = 0.02

    @model_validator(mode="after")
    def _names_unique(self) -> ProvidersConfig:
        seen: set[str] = set()
        problems: list[tuple[tuple[Any, ...], str]] = []
        named: list[tuple[tuple[Any, ...], ProviderConfig]] = [(("primary",), self.primary)]
        named += [(("backups", i), backup) for i, backup in enumerate(self.backups)]
        for path, provider in named:
            if provider.name in seen:
                problems.append(((*path, "name"), f"{provider.name!r} is named twice"))
            seen.add(provider.name)
        if problems:
            raise NestedProblems(problems)
        return self

    @property
    def all(self) -> tuple[ProviderConfig, ...]:
        return (self.primary, *self.backups)

    def named(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.all if p.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.all)
