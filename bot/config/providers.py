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

    namespace: Name = Field(description="The metric's CloudWatch namespace.")
    name: Name = Field(description="The metric's name.")
    dimensions: dict[Name, str] = Field(
        default_factory=dict,
        description="The metric's CloudWatch dimensions, name to value.",
    )
    stat: Name = Field(default="Average", description="The CloudWatch statistic read.")
    threshold: Annotated[float, Strict(), Field(allow_inf_nan=False)] = Field(
        description="The value the latest datapoint is compared with.",
    )
    unhealthy_when: Literal["below", "above"] = Field(
        default="below",
        description=(
            "Down when the value is below the threshold (an availability) or above it (an error rate, a latency)."
        ),
    )


class ProviderConfig(ConfigModel):
    """One provider: its name and how its health is read (a health URL, a metric, or both)."""

    name: ProviderName = Field(description="The provider's name: lowercase letters, digits, '_', '.' and '-' (openai).")
    health_url: HttpUrl | None = Field(
        default=None,
        description="A URL to GET: a 2xx is up; a 5xx, a JSON status such as down, or no answer within 5s is down.",
    )
    health_metric: ProviderHealthMetric | None = Field(
        default=None,
        description="A CloudWatch metric that says whether the provider is down.",
    )

    @model_validator(mode="after")
    def _has_a_health_check(self) -> ProviderConfig:
        if self.health_url is None and self.health_metric is None:
            raise NestedProblems([(("health_url",), "give health_url or health_metric (or both): a failover "
                                                    "must know whether the provider it moves traffic to is up")])
        return self


class SsmSwitch(ConfigModel):
    """The active provider's name in a Parameter Store parameter; with ``redeploy``, the service's
    ECS tasks are replaced afterwards so they read it (the service needs ``ecs:``)."""

    parameter: Annotated[Name, AfterValidator(_parameter_path)] = Field(
        description="The Parameter Store path whose value is the active provider's name.",
    )
    redeploy: bool = Field(
        default=False,
        description="Replace the service's ECS tasks after the switch so they read it (the service needs ecs).",
    )


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

    url: HttpUrl = Field(description="The admin API that routes the traffic.")
    method: Literal["POST", "PUT", "PATCH"] = Field(default="POST", description="The call's HTTP method.")
    body: Annotated[dict[str, Any], AfterValidator(_check_body)] = Field(
        default_factory=lambda: {"provider": "{provider}"},
        description=(
            "The call's JSON body; a string that is exactly {provider}, {share} or {fallback} is replaced, and "
            "{provider} must appear."
        ),
    )
    token_env: Annotated[str, Strict(), AfterValidator(_env_name)] | None = Field(
        default=None,
        description="The environment variable that holds the admin API's bearer token, never the token itself.",
    )
    state_url: HttpUrl | None = Field(default=None, description="A URL that answers the routing now, as JSON.")
    state_field: Name = Field(
        default="provider",
        description="The field of state_url's answer that names the active provider.",
    )
    weights_field: Name = Field(default="weights", description="The field of state_url's answer that holds the shares.")
    weights: bool = Field(
        default=False,
        description="The API takes a share of the traffic ({share}), so a restore can go step by step.",
    )

    @model_validator(mode="after")
    def _weights_need_a_share(self) -> HttpSwitch:
        if self.weights and not _mentions(self.body, "{share}"):
            raise NestedProblems([(("body",), 'weights: true needs "{share}" in the body, where the share goes')])
        return self


class SwitchConfig(ConfigModel):
    ssm: SsmSwitch | None = Field(
        default=None,
        description="Switch by writing a Parameter Store parameter; give this or http.",
    )
    http: HttpSwitch | None = Field(default=None, description="Switch by calling an admin API; give this or ssm.")

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

    namespace: Name = Field(description="The metric's CloudWatch namespace.")
    name: Name = Field(description="The metric that counts requests.")
    dimension: Name = Field(default="Provider", description="The dimension whose value is each provider's name.")
    dimensions: dict[Name, str] = Field(
        default_factory=dict,
        description="The metric's other dimensions, name to value.",
    )
    errors: Name | None = Field(
        default=None,
        description="A metric of the same shape that counts failed requests, for a restore step's error rate.",
    )
    period: Annotated[int, Strict(), Field(ge=1, le=3600)] = Field(default=60, description="Seconds per datapoint.")


class TrafficVerify(ConfigModel):
    metric: TrafficMetric | None = Field(
        default=None,
        description="Requests per provider in CloudWatch, to see the traffic move.",
    )


def _check_shares(shares: tuple[int, ...]) -> tuple[int, ...]:
    if not shares or shares[-1] != 100 or list(shares) != sorted(set(shares)) or shares[0] <= 0:
        raise PydanticCustomError("shares", "rising percentages that end at 100, e.g. [10, 50, 100]")
    return shares


class ProvidersConfig(ConfigModel):
    primary: ProviderConfig = Field(description="The provider that normally takes the traffic.")
    backups: Annotated[tuple[ProviderConfig, ...], Field(min_length=1, max_length=MAX_BACKUPS)] = Field(
        description="The providers a failover may move the traffic to, in the order it tries them.",
    )
    switch: SwitchConfig = Field(description="How the traffic is moved: exactly one of ssm or http.")
    verify: TrafficVerify = Field(
        default_factory=TrafficVerify,
        description="How the bot sees the traffic move (optional).",
    )
    # A health URL slower than this is "slow" (seed 003: P95 latency over 1.5 s is a warning).
    slow_after: PositiveDuration = Field(
        default=timedelta(seconds=1.5),
        description="A health URL slower than this is slow (seed 003: a P95 over 1.5 s is a warning).",
    )
    restore_shares: Annotated[tuple[Annotated[int, Strict()], ...], AfterValidator(_check_shares)] = Field(
        default=DEFAULT_RESTORE_SHARES,
        description=(
            "The canary restore's steps: rising percentages of the traffic, ending at 100 (with a weighted http "
            "switch)."
        ),
    )
    restore_hold: PositiveDuration = Field(
        default=timedelta(minutes=1),
        description="How long each restore step watches the primary before the next (scaled by time_scale).",
    )
    # A restore step whose primary errors exceed this share of its requests goes back (seed 003: 2%).
    max_error_rate: Annotated[float, Strict(), Field(gt=0, le=1)] = Field(
        default=0.02,
        description="A restore step whose primary fails more than this share of its requests goes back.",
    )

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
