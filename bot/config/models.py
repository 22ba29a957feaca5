"""The typed configuration: one frozen pydantic model per section of the YAML file.

The format is agreed in `shared/config.example.yaml`; every key is optional and every model
forbids unknown keys, so a misspelt key fails at start-up instead of being silently ignored.
Checks that span several keys (role references, level order, alias clashes) raise
`NestedProblems` so each problem keeps its own key path.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.config.base import Audience, ConfigModel
from bot.config.budgets import BurnAlertsConfig, ErrorBudgetConfig
from bot.config.communication import CommunicationConfig
from bot.config.durations import format_duration
from bot.config.errors import (
    ConfigError,
    ConfigProblem,
    NestedProblems,
    problems_from_validation_error,
)
from bot.config.escalation_targets import (
    DEFAULT_RUNBOOK_DEADLINES,
    Deadline,
    LevelNotify,
    OncallConfig,
    RunbookDeadlines,
    Until,
)
from bot.config.fields import (
    KNOWN_ACTIONS,
    ChannelRef,
    Duration,
    Name,
    NonNegativeInt,
    PositiveDuration,
    PositiveNumber,
    RunbookName,
    SeverityKey,
    SeverityValue,
)
from bot.config.http_url import HttpUrl
from bot.config.providers import ProvidersConfig
from bot.config.security import SecurityConfig
from bot.config.severity import Severity


class ChannelsConfig(ConfigModel):
    announce: ChannelRef = Field(
        default="incidents",
        description="Where new incidents are announced; the bot joins it by itself.",
    )
    escalations: ChannelRef = Field(
        default="incident-escalations",
        description="Where managers follow escalations, one thread per incident.",
    )


class SeverityPolicy(ConfigModel):
    name: Name = Field(description="The severity's name, shown beside it (Critical).")
    respond_within: PositiveDuration = Field(description="Time to acknowledge an incident of this severity.")
    update_every: PositiveDuration = Field(description="How often the commander is reminded to post a status update.")
    # Keys this project adds (bot/config/escalation_targets.py): the mitigation and resolution
    # deadlines, beside the acknowledgement's; `false` means none.
    mitigate_within: Deadline = Field(
        default=None,
        description=(
            "Time to mitigate, counted from the trigger; false: none. A miss is said in the channel, the managers' "
            "thread and the timeline."
        ),
    )
    resolve_within: Deadline = Field(
        default=None,
        description="Time to resolve, counted from the trigger; false: none.",
    )


def _minutes(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def _policy(name: str, respond_within_minutes: int, update_every_minutes: int, *,
            mitigate_within_minutes: int | None = None, resolve_within_minutes: int | None = None) -> SeverityPolicy:
    return SeverityPolicy(
        name=name,
        respond_within=_minutes(respond_within_minutes),
        update_every=_minutes(update_every_minutes),
        mitigate_within=None if mitigate_within_minutes is None else _minutes(mitigate_within_minutes),
        resolve_within=None if resolve_within_minutes is None else _minutes(resolve_within_minutes),
    )


# Mitigation and resolution deadlines after seed 004 (Severity 1, 2, 3 as P0, P1, P2); the
# choice of each number is in docs/escalation.md.
DEFAULT_SEVERITIES: dict[Severity, SeverityPolicy] = {
    Severity.P0: _policy("Critical", 15, 30, mitigate_within_minutes=30, resolve_within_minutes=4 * 60),
    Severity.P1: _policy("High", 60, 30, mitigate_within_minutes=60, resolve_within_minutes=4 * 60),
    Severity.P2: _policy("Medium", 4 * 60, 2 * 60, resolve_within_minutes=24 * 60),
    Severity.P3: _policy("Low", 24 * 60, 24 * 60),
}


def _merge_severities(data: Any) -> Any:
    """Lay the configured severities over the defaults, field by field, per severity."""
    if not isinstance(data, Mapping):
        return data
    merged: dict[Any, Any] = {
        severity: policy.model_dump() for severity, policy in DEFAULT_SEVERITIES.items()
    }
    for key, given in data.items():
        try:
            severity: Any = Severity.parse(key)
        except ValueError:
            severity = key  # left as written, so validation reports it under its own name
        if given is None:
            given = {}
        if isinstance(given, Mapping):
            # A null field falls back to the default, as a null key does everywhere else.
            present = {field: value for field, value in given.items() if value is not None}
            merged[severity] = {**merged.get(severity, {}), **present}
        else:
            merged[severity] = given
    return merged


Severities = Annotated[dict[SeverityKey, SeverityPolicy], BeforeValidator(_merge_severities)]


class EcsConfig(ConfigModel):
    cluster: Name = Field(description="The ECS cluster the service runs in.")
    service: Name = Field(description="The ECS service's name.")
    min: NonNegativeInt = Field(description="The fewest tasks Scale may set.")
    max: NonNegativeInt = Field(description="The most tasks Scale may set; not less than min.")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> EcsConfig:
        if self.min > self.max:
            raise NestedProblems([(("min",), f"must not exceed max ({self.max})")])
        return self


def _check_flag_prefix(prefix: str) -> str:
    if not (prefix.startswith("/") and prefix.endswith("/")):
        raise PydanticCustomError("flag_prefix", "must start and end with '/', e.g. /service/prod/")
    return prefix


class FlagsConfig(ConfigModel):
    prefix: Annotated[Name, AfterValidator(_check_flag_prefix)] = Field(
        description="The Parameter Store path of the service's flags, starting and ending with / (/multimodal/prod/).",
    )
    names: tuple[Name, ...] = Field(
        default=(),
        description="The parameters under prefix that the Flags form shows and may change.",
    )


class MetricConfig(ConfigModel):
    namespace: Name = Field(description="The metric's CloudWatch namespace.")
    name: Name = Field(description="The metric's name.")
    dimensions: dict[Name, str] = Field(
        default_factory=dict,
        description="The metric's CloudWatch dimensions, name to value.",
    )


class LogsConfig(ConfigModel):
    group: Name = Field(
        description="The CloudWatch Logs group the Logs investigation reads (/aws/ecs/multimodal-prod).",
    )


class LoadBalancerConfig(ConfigModel):
    """The ALB target group whose target health the Targets investigation reads: its ARN or its name."""

    target_group_arn: Name | None = Field(
        default=None,
        description="The target group's ARN; give this or target_group.",
    )
    target_group: Name | None = Field(
        default=None,
        description="The target group's name, looked up in the bot's region, instead of its ARN.",
    )

    @model_validator(mode="after")
    def _one_target_group(self) -> LoadBalancerConfig:
        if (self.target_group_arn is None) == (self.target_group is None):
            raise NestedProblems([(("target_group_arn",), "give exactly one of target_group_arn or target_group")])
        return self

    @property
    def target_group_ref(self) -> str:
        return self.target_group_arn or self.target_group or ""


def _check_fraction(value: float) -> float:
    if value > 1:
        raise PydanticCustomError("fraction", "expected a fraction from 0 to 1, e.g. 0.05 for 5%")
    return value


# More features than this is a dashboard, not an investigation: each one is two CloudWatch reads.
MAX_DATA_QUALITY_FEATURES = 50


class DataQualityConfig(ConfigModel):
    """Where the Data quality investigation reads a service's data (seeds 002 and 004): each
    feature's freshness and null rate from CloudWatch, the feature store's health URL, and the
    normalization context in the service's ``GET /stats``. Each part is optional; one is needed."""

    namespace: Name | None = Field(
        default=None,
        description="The CloudWatch namespace of the freshness and null-rate metrics.",
    )
    freshness_metric: Name | None = Field(
        default=None,
        description="A metric of the seconds since each feature was last materialized.",
    )
    null_rate_metric: Name | None = Field(
        default=None,
        description="A metric of each feature's share of null values, 0 to 1.",
    )
    feature_dimension: Name = Field(default="Feature", description="The dimension whose value is the feature's name.")
    dimensions: dict[Name, str] = Field(
        default_factory=dict,
        description="The metrics' other dimensions ({ServiceName: scoring-api}).",
    )
    features: tuple[Name, ...] = Field(default=(), description="The features whose metrics are read, at most 50.")
    max_age: PositiveDuration = Field(
        default=timedelta(hours=1),
        description="A feature older than this is stale; older than four times this, critical.",
    )
    max_null_rate: Annotated[PositiveNumber, AfterValidator(_check_fraction)] = Field(
        default=0.05,
        description="A feature with a larger share of nulls warns (seed 002: 5%).",
    )
    probe_url: HttpUrl | None = Field(
        default=None,
        description="The feature store's health URL; down, a 5xx or no answer is critical.",
    )
    stats_url: HttpUrl | None = Field(
        default=None,
        description="The service's GET /stats, which carries its normalization context.",
    )
    max_context_age: PositiveDuration = Field(
        default=timedelta(hours=24),
        description="A normalization context older than this is stale (seed 004: 24 hours).",
    )

    @property
    def reads_metrics(self) -> bool:
        return bool(self.freshness_metric or self.null_rate_metric)

    @model_validator(mode="after")
    def _names_a_source(self) -> DataQualityConfig:
        problems: list[tuple[tuple[Any, ...], str]] = []
        if self.reads_metrics:
            if self.namespace is None:
                problems.append((("namespace",), "name the CloudWatch namespace of the feature metrics"))
            if not self.features:
                problems.append((("features",), "list the features whose metrics to read"))
        elif self.namespace is not None or self.features:
            problems.append((("freshness_metric",), "name freshness_metric or null_rate_metric (or both) "
                                                   "to read for these features"))
        elif self.probe_url is None and self.stats_url is None:
            problems.append(((), "name at least one source: freshness_metric or null_rate_metric (with "
                                 "namespace and features), probe_url, or stats_url"))
        if len(self.features) > MAX_DATA_QUALITY_FEATURES:
            problems.append((("features",), f"at most {MAX_DATA_QUALITY_FEATURES} features"))
        seen: set[str] = set()
        for index, feature in enumerate(self.features):
            if feature in seen:
                problems.append((("features", index), f"{feature!r} is listed twice"))
            seen.add(feature)
        if self.feature_dimension in self.dimensions:
            problems.append((("dimensions", self.feature_dimension),
                             "is the feature_dimension, which each feature's name fills"))
        if problems:
            raise NestedProblems(problems)
        return self


# Seed 004's "same input = same output, 100% deterministic": bounds on the inputs the Determinism
# investigation replays, so one run stays a few worker requests.
MAX_PINNED_INPUTS = 200
MAX_PINNED_TEXT_CHARS = 20_000  # the worker's own limit on one text
MAX_PINNED_IMAGE_B64 = 512 * 1024  # a chart, not a photograph
MODEL_NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,62}")  # the worker's registry names


def _model_name(value: str) -> str:
    if not MODEL_NAME_PATTERN.fullmatch(value):
        raise PydanticCustomError("model_name", "a model name is 1-63 lowercase letters, digits and '-', "
                                                "starting with a letter, e.g. incident-text")
    return value


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number", "expected a number, not true or false")
    return value


class PinnedInput(ConfigModel):
    """One replayed input, as the worker's predict takes it: a text, a chart (base64), or both (fusion).

    A bare string in the list is a text.
    """

    text: Annotated[str, Strict(), Field(min_length=1, max_length=MAX_PINNED_TEXT_CHARS)] | None = Field(
        default=None,
        description="A text to send, as an alert or a message reads; a bare string in the list is this.",
    )
    image_b64: Annotated[str, Strict(), Field(min_length=1, max_length=MAX_PINNED_IMAGE_B64)] | None = Field(
        default=None,
        description="A chart image, base64; with text as well, for fusion.",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_text(cls, data: Any) -> Any:
        return {"text": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _something_to_send(self) -> PinnedInput:
        if self.text is None and self.image_b64 is None:
            raise PydanticCustomError("pinned_input", "give text, image_b64 or both")
        if self.text is not None and not self.text.strip():
            raise NestedProblems([(("text",), "must not be blank")])
        if self.image_b64 is not None:
            try:
                base64.b64decode(self.image_b64, validate=True)
            except (binascii.Error, ValueError):
                raise NestedProblems([(("image_b64",), "is not valid base64")]) from None
        return self

    def instance(self) -> dict[str, str]:
        """The worker's predict instance for this input."""
        return {key: value for key, value in (("text", self.text), ("image_b64", self.image_b64)) if value is not None}


class DeterminismConfig(ConfigModel):
    """The Determinism investigation: pinned inputs replayed against the served ``model`` twice and
    against the outputs its version gave the first time (a section this project adds)."""

    model: Annotated[str, Strict(), AfterValidator(_model_name)] = Field(
        description="The worker's model the inputs are replayed against (incident-text).",
    )
    inputs: Annotated[tuple[PinnedInput, ...], Field(max_length=MAX_PINNED_INPUTS)] = Field(
        default=(),
        description="The pinned inputs: strings, or {text, image_b64}; give this or inputs_file.",
    )
    inputs_file: Annotated[str, Strict(), Field(min_length=1, max_length=1000)] | None = Field(
        default=None,
        description=(
            "A JSON Lines file of the inputs (one string or {text, image_b64} object a line), read at each run, "
            "relative to the bot's working folder."
        ),
    )
    # The largest per-class score difference still called identical. The worker rounds scores to
    # 6 decimals, so 1e-6 allows one rounding step of float noise (a batch padded differently).
    # Not strict: YAML reads `1e-6` (no dot) as a string, which pydantic parses as a number.
    tolerance: Annotated[float, BeforeValidator(_not_a_bool), Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        default=1e-6,
        description="The largest per-class score difference that still counts as the same output.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DeterminismConfig:
        if bool(self.inputs) == (self.inputs_file is not None):
            raise NestedProblems([(("inputs",), "give exactly one of inputs (a non-empty list) or inputs_file")])
        return self


# CloudWatch's statistics: the five plain ones, or a percentile/trimmed form such as p95, p99.9, tm90.
_STATISTIC = re.compile(r"SampleCount|Average|Sum|Minimum|Maximum|IQM|p100|(p|tm|wm|tc|ts)\d{1,2}(\.\d{1,3})?")


def _check_statistic(value: str) -> str:
    if not _STATISTIC.fullmatch(value):
        raise PydanticCustomError("statistic", "expected a CloudWatch statistic: Average, Sum, Minimum, Maximum, "
                                               "SampleCount, or a percentile such as p95")
    return value


class MetricUnit(StrEnum):
    """CloudWatch's unit names, for a metric whose name does not say what its values are in."""

    SECONDS = "Seconds"
    MILLISECONDS = "Milliseconds"
    MICROSECONDS = "Microseconds"
    PERCENT = "Percent"
    COUNT = "Count"
    BYTES = "Bytes"


class HealthMetricConfig(MetricConfig):
    """One metric the Metrics and Canary investigations read; ``stat`` replaces its role's default
    (Average for cpu, memory, gpu and the published percentiles; Sum for requests and errors)."""

    stat: Annotated[Name, AfterValidator(_check_statistic)] | None = Field(
        default=None,
        description=(
            "The CloudWatch statistic read (Average, Sum, p95); unset: Sum for requests and errors, Average for the "
            "rest."
        ),
    )
    unit: MetricUnit | None = Field(
        default=None,
        description="The values' unit, when the metric's name does not say (API Gateway's Latency is in Milliseconds).",
    )


class HealthMetricsConfig(ConfigModel):
    """The service's health on CloudWatch, by role (a section this project adds to the format)."""

    cpu: HealthMetricConfig | None = Field(default=None, description="CPU utilization, in percent.")
    memory: HealthMetricConfig | None = Field(default=None, description="Memory utilization, in percent.")
    gpu: HealthMetricConfig | None = Field(default=None, description="GPU utilization, in percent.")
    requests: HealthMetricConfig | None = Field(
        default=None,
        description="The number of requests: the error rate's denominator, and needed by Canary.",
    )
    errors: HealthMetricConfig | None = Field(
        default=None,
        description="The number of 5xx responses; the error rate is errors / requests, so requests is needed too.",
    )
    latency: HealthMetricConfig | None = Field(
        default=None,
        description="Response time, read as CloudWatch's p95 and p99 of it; leave its stat out.",
    )
    # Percentiles the service publishes as metrics of their own (a Prometheus histogram_quantile
    # exported to CloudWatch); each replaces that percentile of ``latency``.
    latency_p95: HealthMetricConfig | None = Field(
        default=None,
        description="A p95 latency the service publishes as a metric of its own, instead of latency's p95.",
    )
    latency_p99: HealthMetricConfig | None = Field(
        default=None,
        description="A p99 latency the service publishes as a metric of its own, instead of latency's p99.",
    )

    @model_validator(mode="after")
    def _readable(self) -> HealthMetricsConfig:
        problems: list[tuple[tuple[Any, ...], str]] = []
        if not self.model_dump(exclude_none=True):
            problems.append(((), "name at least one of " + ", ".join(type(self).model_fields)))
        if self.errors is not None and self.requests is None:
            problems.append((("errors",), "needs requests too: the error rate is errors / requests"))
        if self.latency is not None and self.latency.stat is not None:
            problems.append((("latency", "stat"), "latency is read as p95 and p99; leave stat out (or name "
                                                  "latency_p95 / latency_p99 metrics of their own)"))
        if problems:
            raise NestedProblems(problems)
        return self


def _check_error_rate(value: float) -> float:
    # 0.5 is far more often a misread "0.5%" than an objective of half the requests failing.
    if value > 0.25:
        raise PydanticCustomError("error_rate", "expected a fraction of requests, e.g. 0.005 for 0.5%")
    return value


def _check_availability(value: float) -> float:
    if not 0.5 <= value < 1:
        raise PydanticCustomError("availability", "expected a fraction below 1, e.g. 0.995 for 99.5%")
    return value


class ServiceObjectives(ConfigModel):
    """The service's SLOs, what Metrics and Canary judge against (a section this project adds).

    Only the objectives given are judged; a service with no ``slo:`` gets the multimodal suite's
    (seed 000: P95 under 600 ms, errors under 0.5%, availability over 99.5%).
    """

    p95_ms: PositiveNumber | None = Field(default=None, description="The P95 latency objective, in milliseconds.")
    p99_ms: PositiveNumber | None = Field(default=None, description="The P99 latency objective, in milliseconds.")
    error_rate: Annotated[PositiveNumber, AfterValidator(_check_error_rate)] | None = Field(
        default=None,
        description="The share of requests that may answer 5xx, at most 0.25 (0.005 for 0.5%).",
    )
    availability: Annotated[PositiveNumber, AfterValidator(_check_availability)] | None = Field(
        default=None,
        description="The availability objective, from 0.5 to below 1 (0.995 for 99.5%).",
    )

    @model_validator(mode="after")
    def _names_an_objective(self) -> ServiceObjectives:
        if not self.model_dump(exclude_none=True):
            raise PydanticCustomError("empty_slo", "name at least one of " + ", ".join(type(self).model_fields))
        return self


DEFAULT_OBJECTIVES = ServiceObjectives(p95_ms=600, error_rate=0.005, availability=0.995)


class CanaryConfig(ConfigModel):
    """Where the canary's (or green's) and the stable (blue) version's traffic is told apart: the
    service's ``health_metrics`` requests, errors and latency with ``dimension`` set to each
    version's value (added when a metric lacks it), e.g. an ALB's two target groups."""

    dimension: Name = Field(
        description=(
            "The dimension that tells the two versions apart, set on the requests, errors and latency metrics "
            "(TargetGroup)."
        ),
    )
    canary: Annotated[str, Strict(), Field(min_length=1, max_length=1024)] = Field(
        description="The dimension's value for the canary (green) version.",
    )
    stable: Annotated[str, Strict(), Field(min_length=1, max_length=1024)] = Field(
        description="The dimension's value for the stable (blue) version.",
    )
    min_requests: NonNegativeInt | None = Field(
        default=None,
        description="Fewer canary requests than this: no verdict yet; unset: 1 / error_rate (200 at 0.5%), else 100.",
    )

    @model_validator(mode="after")
    def _two_versions(self) -> CanaryConfig:
        if self.canary == self.stable:
            raise NestedProblems([(("stable",), "must differ from canary")])
        return self


class ServiceConfig(ConfigModel):
    """One service: which alerts are its own, and what its actions and investigations may touch."""

    aliases: tuple[Name, ...] = Field(
        default=(),
        description="Other names for the service in commands and alerts, matched in any case.",
    )
    pagerduty_service_ids: tuple[Name, ...] = Field(
        default=(),
        description="PagerDuty services whose incidents are this service's alerts.",
    )
    alarms: tuple[Name, ...] = Field(
        default=(),
        description="Globs of CloudWatch alarm names that are this service's alerts (multimodal-prod-*).",
    )
    ecs: EcsConfig | None = Field(
        default=None,
        description=(
            "The ECS service that Scale, the deployment rollback and the emergency stop act on, and Scale's bounds."
        ),
    )
    models: tuple[Name, ...] = Field(
        default=(),
        description="The worker's models this service serves, which its actions and Diagnose may touch.",
    )
    flags: FlagsConfig | None = Field(
        default=None,
        description="The service's flags in Parameter Store, for the Flags form.",
    )
    metric: MetricConfig | None = Field(default=None, description="The metric Diagnose charts when no alarm names one.")
    logs: LogsConfig | None = Field(default=None, description="The CloudWatch Logs group the Logs investigation reads.")
    load_balancer: LoadBalancerConfig | None = Field(
        default=None,
        description="The ALB target group whose target health the Targets investigation reads.",
    )
    slo: ServiceObjectives | None = Field(
        default=None,
        description=(
            "The objectives Metrics and Canary judge; unset: seed 000's P95 under 600 ms, errors under 0.5% and "
            "availability over 99.5%."
        ),
    )
    health_metrics: HealthMetricsConfig | None = Field(
        default=None,
        description="The service's CloudWatch metrics by role, for the Metrics and Canary investigations.",
    )
    canary: CanaryConfig | None = Field(
        default=None,
        description="How the canary's traffic is told from the stable version's, for the Canary investigation.",
    )
    determinism: DeterminismConfig | None = Field(
        default=None,
        description="Pinned inputs the Determinism investigation replays against one of the worker's models.",
    )
    data_quality: DataQualityConfig | None = Field(
        default=None,
        description=(
            "Where the Data quality investigation reads feature freshness, null rates and the normalization context."
        ),
    )
    error_budget: ErrorBudgetConfig | None = Field(
        default=None,
        description="The service's availability SLO counted in requests, for the burn alerts and the daily digest.",
    )
    providers: ProvidersConfig | None = Field(
        default=None,
        description="The service's AI providers, for Diagnose's providers check and the guarded failover and restore.",
    )

    @model_validator(mode="after")
    def _canary_reads_health_metrics(self) -> ServiceConfig:
        if self.canary is None:
            return self
        health = self.health_metrics
        missing = [role for role, given in (
            ("requests", health and health.requests), ("errors", health and health.errors),
            ("latency", health and (health.latency or health.latency_p95 or health.latency_p99)))
            if not given]
        if missing:
            raise NestedProblems([(("canary",), "compares the versions' health_metrics: add "
                                                + ", ".join(missing) + " to health_metrics")])
        return self


def _check_service_names(services: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
    """Service names and aliases are matched case-insensitively, so each must be unique."""
    owners: dict[str, str] = {name.casefold(): name for name in services}
    problems = []
    for name, service in services.items():
        for index, alias in enumerate(service.aliases):
            owner = owners.setdefault(alias.casefold(), name)
            if owner != name:
                message = f"{alias!r} already names service {owner!r}"
                problems.append(((name, "aliases", index), message))
    if problems:
        raise NestedProblems(problems)
    return services


Services = Annotated[dict[Name, ServiceConfig], AfterValidator(_check_service_names)]


class RouteMatch(ConfigModel):
    alarm: Name | None = Field(
        default=None,
        description="A glob on the CloudWatch alarm's name (a PagerDuty incident's title).",
    )
    metric: Name | None = Field(default=None, description="A glob on the alarm's metric name.")
    service: Name | None = Field(default=None, description="A glob on the incident's service.")
    pagerduty_service: Name | None = Field(default=None, description="A glob on a PagerDuty incident's service.")
    text_class: Name | None = Field(
        default=None,
        description="A glob on the runbook class the incident-text model reads in the alert.",
    )
    # Matches alarms whose own threshold is at least this (the seeds: P95 latency over 1 s is
    # critical, over 600 ms a warning). A key this project adds to the format.
    threshold_at_least: float | None = Field(
        default=None,
        description="Only alarms whose own threshold is at least this (P95 latency over 1 s: critical).",
    )

    @model_validator(mode="after")
    def _names_something(self) -> RouteMatch:
        if not self.model_dump(exclude_none=True):
            raise PydanticCustomError(
                "empty_match", "must name at least one of " + ", ".join(type(self).model_fields)
            )
        return self


class RoutingRule(ConfigModel):
    match: RouteMatch = Field(description="What the alert must match: every key given.")
    runbook: RunbookName | None = Field(default=None, description="The runbook class of a matching alert's incident.")
    severity: SeverityValue | None = Field(default=None, description="The severity of a matching alert's incident.")


class UrgencyDefault(ConfigModel):
    high: SeverityValue = Field(
        default=Severity.P1,
        description="The severity of a high-urgency PagerDuty incident whose priority is not in priority_map.",
    )
    low: SeverityValue = Field(
        default=Severity.P3,
        description="The severity of a low-urgency PagerDuty incident whose priority is not in priority_map.",
    )


DEFAULT_PRIORITY_MAP: dict[str, Severity] = {
    "P1": Severity.P0,
    "P2": Severity.P1,
    "P3": Severity.P2,
    "P4": Severity.P3,
    "P5": Severity.P3,
}


class PagerDutyConfig(ConfigModel):
    # A given priority_map replaces the default whole: PagerDuty accounts name priorities freely.
    priority_map: dict[Name, SeverityValue] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_MAP),
        description="PagerDuty priority names to severities; a given map replaces the default whole.",
    )
    urgency_default: UrgencyDefault = Field(
        default_factory=UrgencyDefault,
        description="Severities by PagerDuty urgency, for an incident whose priority is not mapped.",
    )


class EscalationLevel(ConfigModel):
    after: Duration = Field(description="When the level fires, counted from declaration (or from reopening).")
    notify: LevelNotify = Field(
        default_factory=LevelNotify,
        description="Who the level pages: Slack users and user groups, and PagerDuty schedules' on-call.",
    )
    # A key this project adds: page this level through PagerDuty's Events API v2 as well.
    routing_key: Name | None = Field(
        default=None,
        description="A PagerDuty Events API v2 routing key: the level pages through PagerDuty as well.",
    )
    # Also added: the level fires only while the incident has not reached this status.
    until: Until = Field(
        default=Until.ACKNOWLEDGED,
        description="The level fires only while the incident has not reached this status.",
    )

    @model_validator(mode="after")
    def _reaches_someone(self) -> EscalationLevel:
        if not self.notify and self.routing_key is None:
            raise PydanticCustomError(
                "nobody_to_notify",
                "this level notifies nobody: give notify.users, notify.usergroups, notify.schedules or routing_key",
            )
        return self


def _check_level_order(levels: tuple[EscalationLevel, ...]) -> tuple[EscalationLevel, ...]:
    problems = []
    for index in range(1, len(levels)):
        before = levels[index - 1].after
        if levels[index].after < before:
            shown = format_duration(before, max_units=None)
            message = f"must not be earlier than level {index - 1} ({shown})"
            problems.append(((index, "after"), message))
    if problems:
        raise NestedProblems(problems)
    return levels


EscalationLevels = Annotated[tuple[EscalationLevel, ...], AfterValidator(_check_level_order)]


class EscalationConfig(ConfigModel):
    """Who is paged, and when, while an incident is not yet handled (each level's ``until``).

    The levels for an incident are its runbook's (``by_runbook``: security pages the security
    team at once) if it has them, else its severity's (``by_severity``), else ``default``, except
    for P3, a notice whatever its runbook: only ``by_severity.P3``'s levels, and none without them.
    """

    default: EscalationLevels = Field(
        default=(),
        description="The levels of an incident whose runbook class and severity have none of their own.",
    )
    by_severity: dict[SeverityKey, EscalationLevels] = Field(
        default_factory=dict,
        description="A severity's own levels; a P3 pages nobody unless it has levels here.",
    )
    by_runbook: dict[RunbookName, EscalationLevels] = Field(
        default_factory=dict,
        description="A runbook class's own levels, which come before the severity's (except for a P3).",
    )
    pagerduty_routing_keys: dict[NonNegativeInt, Name] = Field(
        default_factory=dict,
        description=(
            "Events API v2 routing keys by level index (0 is the first level), for levels without a routing_key of "
            "their own."
        ),
    )
    # A key this project adds: a runbook class's own deadlines (seed 001's 15 minutes for a
    # regression). A given mapping replaces the default whole.
    runbook_deadlines: dict[RunbookName, RunbookDeadlines] = Field(
        default_factory=lambda: dict(DEFAULT_RUNBOOK_DEADLINES),
        description="A runbook class's own deadlines; a given mapping replaces the default whole.",
    )

    @model_validator(mode="after")
    def _routing_keys_name_levels(self) -> EscalationConfig:
        longest = max((len(levels) for levels in (self.default, *self.by_severity.values(),
                                                   *self.by_runbook.values())), default=0)
        problems = [
            (("pagerduty_routing_keys", index), f"there is no level {index} (the longest policy has {longest})")
            for index in self.pagerduty_routing_keys
            if index >= longest
        ]
        if problems:
            raise NestedProblems(problems)
        return self

    def levels_for(self, *, severity: Severity | None, runbook: str | None) -> tuple[EscalationLevel, ...]:
        if severity == Severity.P3:
            # A P3 is a notice (the seeds' warnings: "Slack notification", no page), whatever its
            # runbook class: its channel and announcement only, unless `by_severity.P3` names levels.
            return self.by_severity.get(Severity.P3, ())
        if runbook is not None and runbook in self.by_runbook:
            return self.by_runbook[runbook]
        if severity is not None and severity in self.by_severity:
            return self.by_severity[severity]
        return self.default

    def routing_key(self, levels: tuple[EscalationLevel, ...], index: int) -> str | None:
        """A level's own routing key, else the one ``pagerduty_routing_keys`` gives its index."""
        if not 0 <= index < len(levels):
            return None
        return levels[index].routing_key or self.pagerduty_routing_keys.get(index)


# Permissions checked by RBAC that are not guarded actions, so no approval can be asked for them.
UNAPPROVABLE_ACTIONS = frozenset({"assign_role"})


class RbacConfig(ConfigModel):
    roles: dict[Name, Audience] = Field(
        default_factory=dict,
        description=(
            "Roles and who holds them. The approver role approves two-person actions; an incident's commander also "
            "holds commander."
        ),
    )
    # Besides the actions, `assign_role` (a key this project adds) names who may give incident
    # roles; left out, it is [commander], which the incident's own commander also holds.
    actions: dict[Name, tuple[Name, ...]] = Field(
        default_factory=dict,
        description=(
            "The roles each action needs (scale, rollback, flag, stop, failover, security, publish_notice, evidence, "
            "assign_role); an action no role is listed for is refused, except assign_role and evidence, which default "
            "to [commander]."
        ),
    )
    approval_required: tuple[Name, ...] = Field(
        default=("stop",),
        description="Actions that also need a second person with the approver role.",
    )
    approval_ttl: PositiveDuration = Field(
        default=_minutes(10),
        description="How long a request waits for its approval before it expires and nothing happens.",
    )

    @model_validator(mode="after")
    def _references_exist(self) -> RbacConfig:
        problems = [*self._unknown_roles(), *self._unknown_approval_actions(), *self._unapprovable_actions()]
        if problems:
            raise NestedProblems(problems)
        return self

    def _unknown_roles(self) -> list[tuple[tuple[Any, ...], str]]:
        known = ", ".join(sorted(self.roles)) or "none are defined in rbac.roles"
        return [
            (("actions", action, index), f"unknown role {role!r} (known roles: {known})")
            for action, roles in self.actions.items()
            for index, role in enumerate(roles)
            if role not in self.roles
        ]

    def _unapprovable_actions(self) -> list[tuple[tuple[Any, ...], str]]:
        # Listing one would read as a second-person check that never happens: refuse it instead.
        return [
            (("approval_required", index), f"{action!r} has no approval step: only who may do it "
                                            f"can be set (rbac.actions.{action})")
            for index, action in enumerate(self.approval_required)
            if action in UNAPPROVABLE_ACTIONS
        ]

    def _unknown_approval_actions(self) -> list[tuple[tuple[Any, ...], str]]:
        known = sorted(set(KNOWN_ACTIONS) | set(self.actions))
        listed = ", ".join(known)
        return [
            (("approval_required", index), f"unknown action {action!r} (known actions: {listed})")
            for index, action in enumerate(self.approval_required)
            if action not in known
        ]


def _false_turns_off(value: Any) -> Any:
    if value is True:
        raise PydanticCustomError("gate", "expected a fraction from 0 to 1, or false to turn the gate off")
    return None if value is False else value


class ActionsConfig(ConfigModel):
    dry_run: bool = Field(default=False, description="Run every step of an action except the change itself.")
    # Keys this project adds: how long to wait for a change to show (ECS deployments take
    # minutes) and how often to look while waiting.
    verify_timeout: PositiveDuration = Field(
        default=_minutes(10),
        description="How long to wait for a change to show (ECS deployments take minutes).",
    )
    verify_every: PositiveDuration = Field(
        default=timedelta(seconds=5),
        description="How often to look while waiting for a change to show.",
    )
    # The seeds' model gate ("--min-accuracy 0.90"): a model version put in service from Slack
    # (load or rollback) must score this on its golden set, or an approver overrides it. On by
    # default at the seeds' 0.90 (`false` turns it off; null, as everywhere, means the default):
    # the worker stores each version's score, so the gate reads it instead of waiting for a scoring.
    model_accuracy_gate: Annotated[float | None, BeforeValidator(_false_turns_off)] = Field(
        default=0.90, ge=0, le=1,
        description=(
            "The golden-set accuracy a model version put in service from Slack must score, or an approver "
            "overrides the gate; false turns it off."
        ),
    )


class AlertsConfig(ConfigModel):
    """How incoming alerts group into incidents (a key this project adds to the format)."""

    group_window: PositiveDuration = Field(
        default=timedelta(minutes=30),
        description=(
            "An alert for a service whose open incident heard from an alert this recently attaches to it instead of "
            "opening another."
        ),
    )
    summary_every: PositiveDuration = Field(
        default=timedelta(seconds=5),
        description="Alerts that attach to an incident are summarised in its channel at most this often.",
    )


class UnfilledPrompts(StrEnum):
    """What approving a draft whose [bracketed prompts] are still unfilled does."""

    WARN = "warn"  # the Approve button asks "N prompts are still unfilled. Approve anyway?"
    BLOCK = "block"  # approval is refused while any prompt is left, naming how many and where
    ALLOW = "allow"  # approved without asking (the count still shows on the draft's message)


class PostmortemsConfig(ConfigModel):
    """Postmortem drafts and their review (a section this project adds to the format)."""

    # A folder of jinja2 templates (postmortem.md.j2, postmortem.html.j2) that replace the
    # bundled ones of the same name; templates it lacks fall back to the bundled ones.
    template_dir: Name | None = Field(
        default=None,
        description=(
            "A folder of jinja2 templates (postmortem.md.j2, postmortem.html.j2) that replace the bundled ones of the "
            "same name."
        ),
    )
    # The seeds: a post-incident review within 48 hours of resolution.
    review_within: PositiveDuration = Field(
        default=timedelta(hours=48),
        description="A reminder follows in the channel if the draft is not approved this long after resolution.",
    )
    approvals_required: Annotated[int, Field(ge=1, le=10)] = Field(
        default=1,
        description="Approvals of the current draft that approve the postmortem.",
    )
    approvers: tuple[Name, ...] = Field(
        default=(),
        description="Roles from rbac.roles whose members may approve; empty: anyone in the channel.",
    )
    related_max: Annotated[int, Field(ge=0, le=10)] = Field(
        default=3,
        description="Past incidents listed as related, nearest first.",
    )
    related_min_score: Annotated[float, Field(ge=-1, le=1)] = Field(
        default=0.35,
        description="How alike (cosine of incident-text embeddings) a past incident must be to be listed.",
    )
    unfilled_prompts: UnfilledPrompts = Field(
        default=UnfilledPrompts.WARN,
        description="Approving a draft with [prompts] left: warn (asks to confirm), block or allow.",
    )


class RunbooksConfig(ConfigModel):
    """How an incident's runbook is chosen (a section this project adds to the format)."""

    # The incident-text model chooses the runbook only this sure or surer; below it, the
    # checklist message shows the model's guess and asks a person to pick.
    min_confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.5,
        description="The incident-text model chooses the runbook only this sure or surer; below it, a person picks.",
    )
    predict_timeout: Annotated[float, Field(gt=0, le=60)] = Field(
        default=5.0,
        description="Seconds to wait for the model worker's answer before asking a person instead.",
    )


class IncidentBotConfig(ConfigModel):
    """The whole YAML file. Build it with `load_config` or `from_mapping`."""

    channels: ChannelsConfig = Field(
        default_factory=ChannelsConfig,
        description="The channels where incidents and escalations are announced.",
    )
    oncall: OncallConfig = Field(
        default_factory=OncallConfig,
        description="The primary on-call, invited to every new incident channel, and the backup.",
    )
    severities: Severities = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITIES),
        description="The severities P0 to P3: names, reminders and deadlines, laid over the defaults key by key.",
    )
    services: Services = Field(
        default_factory=dict,
        description=(
            "The services incidents are about: where their alerts come from, and what actions and investigations may "
            "touch."
        ),
    )
    routing: tuple[RoutingRule, ...] = Field(
        default=(),
        description="Rules that set an alert's runbook class and severity; the first match wins.",
    )
    pagerduty: PagerDutyConfig = Field(
        default_factory=PagerDutyConfig,
        description="How a PagerDuty incident's priority or urgency becomes a severity.",
    )
    escalation: EscalationConfig = Field(
        default_factory=EscalationConfig,
        description="Who is paged, and when, while an incident is not handled.",
    )
    rbac: RbacConfig = Field(
        default_factory=RbacConfig,
        description="Who may do what: roles, the roles each action needs, and two-person approval.",
    )
    actions: ActionsConfig = Field(
        default_factory=ActionsConfig,
        description="How the guarded actions run: dry run, verification and the model accuracy gate.",
    )
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="How incoming alerts group into incidents.")
    postmortems: PostmortemsConfig = Field(
        default_factory=PostmortemsConfig,
        description="Postmortem drafts and their review.",
    )
    runbooks: RunbooksConfig = Field(default_factory=RunbooksConfig, description="How an incident's runbook is chosen.")
    communication: CommunicationConfig = Field(
        default_factory=CommunicationConfig,
        description="Named audiences for status updates and the resolution notice.",
    )
    security: SecurityConfig = Field(
        default_factory=SecurityConfig,
        description="Confidential incidents and the two-person security actions.",
    )
    error_budgets: BurnAlertsConfig = Field(
        default_factory=BurnAlertsConfig,
        description="Burn alerts and the daily digest, for the services with an error_budget.",
    )
    time_scale: PositiveNumber = Field(
        default=1.0,
        description="Runs the clock faster, for demos and tests: 60 makes a configured minute pass in a second.",
    )

    @model_validator(mode="after")
    def _approver_roles_exist(self) -> IncidentBotConfig:
        known = ", ".join(sorted(self.rbac.roles)) or "none are defined in rbac.roles"
        problems = [
            (("postmortems", "approvers", index), f"unknown role {role!r} (known roles: {known})")
            for index, role in enumerate(self.postmortems.approvers)
            if role not in self.rbac.roles
        ]
        if problems:
            raise NestedProblems(problems)
        return self

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, *, source: str = "<config>"
    ) -> IncidentBotConfig:
        """Validate already-parsed data (a mapping, or None for an empty document).

        Raises `ConfigError` naming `source` and each bad key.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            kind = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r:.40}"
            problem = ConfigProblem("", f"the top level must be a mapping of settings, got {kind}")
            raise ConfigError(source, [problem])
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(source, problems_from_validation_error(exc, data, cls)) from None
        except RecursionError:
            raise ConfigError(source, [ConfigProblem("", "the document is nested too deeply")]) from None

    def severity_policy(self, severity: Severity | str) -> SeverityPolicy:
        return self.severities[Severity.parse(severity)]

    def service_name(self, name_or_alias: str) -> str | None:
        """The configured name of a service, given its name or any alias, in any case."""
        wanted = name_or_alias.casefold()
        for name, service in self.services.items():
            if wanted in {name.casefold(), *(alias.casefold() for alias in service.aliases)}:
                return name
        return None

    def service(self, name_or_alias: str) -> ServiceConfig | None:
        name = self.service_name(name_or_alias)
        return None if name is None else self.services[name]

    def service_for_alarm(self, alarm_name: str) -> str | None:
        """The first service (in file order) with an alarm glob matching this CloudWatch alarm."""
        for name, service in self.services.items():
            if any(fnmatchcase(alarm_name, pattern) for pattern in service.alarms):
                return name
        return None

    def service_for_pagerduty(self, pagerduty_service_id: str) -> str | None:
        for name, service in self.services.items():
            if pagerduty_service_id in service.pagerduty_service_ids:
                return name
        return None

    def escalation_levels(self, runbook: str | None = None,
                          severity: Severity | str | None = None) -> tuple[EscalationLevel, ...]:
        """The runbook's own escalation levels, else the severity's, else the default ones."""
        parsed = Severity.parse(severity) if severity is not None else None
        levels = self.escalation.levels_for(severity=parsed, runbook=runbook)
        return (*levels, *self._compliance_level(levels, runbook))

    def _compliance_level(self, levels: tuple[EscalationLevel, ...],
                          runbook: str | None) -> tuple[EscalationLevel, ...]:
        """A confidential incident's compliance officer (`security.compliance`), as a last level."""
        compliance = self.security.compliance
        if runbook not in self.security.runbooks or not compliance:
            return ()
        named_users = {user for level in levels for user in level.notify.users}
        named_groups = {group for level in levels for group in level.notify.usergroups}
        if set(compliance.users) <= named_users and set(compliance.usergroups) <= named_groups:
            return ()
        return (EscalationLevel(after=self.security.compliance_after, until=Until.RESOLVED,
                                notify=LevelNotify(users=compliance.users, usergroups=compliance.usergroups)),)

    def scaled(self, duration: timedelta) -> timedelta:
        """A configured duration in real time: with `time_scale: 60` a minute lasts a second."""
        return duration / self.time_scale
