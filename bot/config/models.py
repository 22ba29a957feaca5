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
    announce: ChannelRef = "incidents"
    escalations: ChannelRef = "incident-escalations"


class SeverityPolicy(ConfigModel):
    name: Name
    respond_within: PositiveDuration
    update_every: PositiveDuration
    # Keys this project adds (bot/config/escalation_targets.py): the mitigation and resolution
    # deadlines, beside the acknowledgement's; `false` means none.
    mitigate_within: Deadline = None
    resolve_within: Deadline = None


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
    cluster: Name
    service: Name
    min: NonNegativeInt
    max: NonNegativeInt

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
    prefix: Annotated[Name, AfterValidator(_check_flag_prefix)]
    names: tuple[Name, ...] = ()


class MetricConfig(ConfigModel):
    namespace: Name
    name: Name
    dimensions: dict[Name, str] = Field(default_factory=dict)


class LogsConfig(ConfigModel):
    group: Name  # the CloudWatch Logs group, e.g. /aws/ecs/multimodal-prod


class LoadBalancerConfig(ConfigModel):
    """The ALB target group whose target health the Targets investigation reads: its ARN or its name."""

    target_group_arn: Name | None = None
    target_group: Name | None = None  # a name, looked up in the bot's region

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

    namespace: Name | None = None  # the CloudWatch namespace of the two metrics
    freshness_metric: Name | None = None  # seconds since the feature was last materialized
    null_rate_metric: Name | None = None  # the share of null values, 0 to 1
    feature_dimension: Name = "Feature"  # the dimension whose value is the feature's name
    dimensions: dict[Name, str] = Field(default_factory=dict)  # the other dimensions, e.g. {ServiceName: x}
    features: tuple[Name, ...] = ()
    max_age: PositiveDuration = timedelta(hours=1)
    max_null_rate: Annotated[PositiveNumber, AfterValidator(_check_fraction)] = 0.05  # seed 002: > 5% warns
    probe_url: HttpUrl | None = None  # the feature store's health URL; down, slow or 5xx is critical
    stats_url: HttpUrl | None = None  # the service's GET /stats, with its normalization context
    max_context_age: PositiveDuration = timedelta(hours=24)  # seed 004: "normalization context < 24h old"

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

    text: Annotated[str, Strict(), Field(min_length=1, max_length=MAX_PINNED_TEXT_CHARS)] | None = None
    image_b64: Annotated[str, Strict(), Field(min_length=1, max_length=MAX_PINNED_IMAGE_B64)] | None = None

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

    model: Annotated[str, Strict(), AfterValidator(_model_name)]
    inputs: Annotated[tuple[PinnedInput, ...], Field(max_length=MAX_PINNED_INPUTS)] = ()
    # Or a JSON Lines file of the same inputs (one string or {"text", "image_b64"} object a line),
    # read at each run, relative to the bot's working folder.
    inputs_file: Annotated[str, Strict(), Field(min_length=1, max_length=1000)] | None = None
    # The largest per-class score difference still called identical. The worker rounds scores to
    # 6 decimals, so 1e-6 allows one rounding step of float noise (a batch padded differently).
    # Not strict: YAML reads `1e-6` (no dot) as a string, which pydantic parses as a number.
    tolerance: Annotated[float, BeforeValidator(_not_a_bool), Field(ge=0, le=1, allow_inf_nan=False)] = 1e-6

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

    stat: Annotated[Name, AfterValidator(_check_statistic)] | None = None
    unit: MetricUnit | None = None  # when the name does not say (API Gateway's Latency is Milliseconds)


class HealthMetricsConfig(ConfigModel):
    """The service's health on CloudWatch, by role (a section this project adds to the format)."""

    cpu: HealthMetricConfig | None = None
    memory: HealthMetricConfig | None = None
    gpu: HealthMetricConfig | None = None
    requests: HealthMetricConfig | None = None
    errors: HealthMetricConfig | None = None  # 5xx responses; the error rate is errors / requests
    latency: HealthMetricConfig | None = None  # read twice, as CloudWatch's p95 and p99 of it
    # Percentiles the service publishes as metrics of their own (a Prometheus histogram_quantile
    # exported to CloudWatch); each replaces that percentile of ``latency``.
    latency_p95: HealthMetricConfig | None = None
    latency_p99: HealthMetricConfig | None = None

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

    p95_ms: PositiveNumber | None = None
    p99_ms: PositiveNumber | None = None
    error_rate: Annotated[PositiveNumber, AfterValidator(_check_error_rate)] | None = None  # share answered 5xx
    availability: Annotated[PositiveNumber, AfterValidator(_check_availability)] | None = None

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

    dimension: Name  # e.g. TargetGroup
    canary: Annotated[str, Strict(), Field(min_length=1, max_length=1024)]
    stable: Annotated[str, Strict(), Field(min_length=1, max_length=1024)]
    # Fewer canary requests than this in the window: hold. Unset: enough that one error is within
    # the error-rate objective (1 / error_rate: 200 at 0.5%), else 100.
    min_requests: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _two_versions(self) -> CanaryConfig:
        if self.canary == self.stable:
            raise NestedProblems([(("stable",), "must differ from canary")])
        return self


class ServiceConfig(ConfigModel):
    aliases: tuple[Name, ...] = ()
    pagerduty_service_ids: tuple[Name, ...] = ()
    alarms: tuple[Name, ...] = ()  # CloudWatch alarm-name globs
    ecs: EcsConfig | None = None
    models: tuple[Name, ...] = ()
    flags: FlagsConfig | None = None
    metric: MetricConfig | None = None
    logs: LogsConfig | None = None
    load_balancer: LoadBalancerConfig | None = None
    slo: ServiceObjectives | None = None  # unset: the multimodal suite's (DEFAULT_OBJECTIVES)
    health_metrics: HealthMetricsConfig | None = None
    canary: CanaryConfig | None = None
    determinism: DeterminismConfig | None = None
    data_quality: DataQualityConfig | None = None
    error_budget: ErrorBudgetConfig | None = None  # seed 004's SLO in events: see bot/config/budgets.py
    providers: ProvidersConfig | None = None  # seed 003's AI providers: failover and restore

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
    alarm: Name | None = None
    metric: Name | None = None
    service: Name | None = None
    pagerduty_service: Name | None = None
    text_class: Name | None = None
    # Matches alarms whose own threshold is at least this (the seeds: P95 latency over 1 s is
    # critical, over 600 ms a warning). A key this project adds to the format.
    threshold_at_least: float | None = None

    @model_validator(mode="after")
    def _names_something(self) -> RouteMatch:
        if not self.model_dump(exclude_none=True):
            raise PydanticCustomError(
                "empty_match", "must name at least one of " + ", ".join(type(self).model_fields)
            )
        return self


class RoutingRule(ConfigModel):
    match: RouteMatch
    runbook: RunbookName | None = None
    severity: SeverityValue | None = None


class UrgencyDefault(ConfigModel):
    high: SeverityValue = Severity.P1
    low: SeverityValue = Severity.P3


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
        default_factory=lambda: dict(DEFAULT_PRIORITY_MAP)
    )
    urgency_default: UrgencyDefault = Field(default_factory=UrgencyDefault)


class EscalationLevel(ConfigModel):
    after: Duration  # measured from declaration (or from reopening)
    notify: LevelNotify = Field(default_factory=LevelNotify)  # schedules: a key this project adds
    # A key this project adds: page this level through PagerDuty's Events API v2 as well.
    routing_key: Name | None = None
    # Also added: the level fires only while the incident has not reached this status.
    until: Until = Until.ACKNOWLEDGED

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

    default: EscalationLevels = ()
    by_severity: dict[SeverityKey, EscalationLevels] = Field(default_factory=dict)
    by_runbook: dict[RunbookName, EscalationLevels] = Field(default_factory=dict)
    pagerduty_routing_keys: dict[NonNegativeInt, Name] = Field(default_factory=dict)
    # A key this project adds: a runbook class's own deadlines (seed 001's 15 minutes for a
    # regression). A given mapping replaces the default whole.
    runbook_deadlines: dict[RunbookName, RunbookDeadlines] = Field(
        default_factory=lambda: dict(DEFAULT_RUNBOOK_DEADLINES)
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
    roles: dict[Name, Audience] = Field(default_factory=dict)
    # Besides the actions, `assign_role` (a key this project adds) names who may give incident
    # roles; left out, it is [commander], which the incident's own commander also holds.
    actions: dict[Name, tuple[Name, ...]] = Field(default_factory=dict)
    approval_required: tuple[Name, ...] = ("stop",)
    approval_ttl: PositiveDuration = _minutes(10)

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
    dry_run: bool = False
    # Keys this project adds: how long to wait for a change to show (ECS deployments take
    # minutes) and how often to look while waiting.
    verify_timeout: PositiveDuration = _minutes(10)
    verify_every: PositiveDuration = timedelta(seconds=5)
    # The seeds' model gate ("--min-accuracy 0.90"): a model version put in service from Slack
    # (load or rollback) must score this on its golden set, or an approver overrides it. On by
    # default at the seeds' 0.90 (`false` turns it off; null, as everywhere, means the default):
    # the worker stores each version's score, so the gate reads it instead of waiting for a scoring.
    model_accuracy_gate: Annotated[float | None, BeforeValidator(_false_turns_off)] = Field(default=0.90, ge=0, le=1)


class AlertsConfig(ConfigModel):
    """How incoming alerts group into incidents (a key this project adds to the format)."""

    # An alert for a service whose open incident saw an alert this recently attaches to it.
    group_window: PositiveDuration = timedelta(minutes=30)
    # Alerts that attach to an incident are summarised in its channel at most this often.
    summary_every: PositiveDuration = timedelta(seconds=5)


class UnfilledPrompts(StrEnum):
    """What approving a draft whose [bracketed prompts] are still unfilled does."""

    WARN = "warn"  # the Approve button asks "N prompts are still unfilled. Approve anyway?"
    BLOCK = "block"  # approval is refused while any prompt is left, naming how many and where
    ALLOW = "allow"  # approved without asking (the count still shows on the draft's message)


class PostmortemsConfig(ConfigModel):
    """Postmortem drafts and their review (a section this project adds to the format)."""

    # A folder of jinja2 templates (postmortem.md.j2, postmortem.html.j2) that replace the
    # bundled ones of the same name; templates it lacks fall back to the bundled ones.
    template_dir: Name | None = None
    # The seeds: a post-incident review within 48 hours of resolution.
    review_within: PositiveDuration = timedelta(hours=48)
    approvals_required: Annotated[int, Field(ge=1, le=10)] = 1
    # Roles from `rbac.roles` whose members may approve; empty: anyone in the channel.
    approvers: tuple[Name, ...] = ()
    related_max: Annotated[int, Field(ge=0, le=10)] = 3
    # Past incidents less alike than this (cosine of incident-text embeddings) are not listed.
    related_min_score: Annotated[float, Field(ge=-1, le=1)] = 0.35
    unfilled_prompts: UnfilledPrompts = UnfilledPrompts.WARN


class RunbooksConfig(ConfigModel):
    """How an incident's runbook is chosen (a section this project adds to the format)."""

    # The incident-text model chooses the runbook only this sure or surer; below it, the
    # checklist message shows the model's guess and asks a person to pick.
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    # Seconds to wait for the model worker's answer before asking a person instead.
    predict_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0


class IncidentBotConfig(ConfigModel):
    """The whole YAML file. Build it with `load_config` or `from_mapping`."""

    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    oncall: OncallConfig = Field(default_factory=OncallConfig)  # backup, backup_after: keys this project adds
    severities: Severities = Field(default_factory=lambda: dict(DEFAULT_SEVERITIES))
    services: Services = Field(default_factory=dict)
    routing: tuple[RoutingRule, ...] = ()
    pagerduty: PagerDutyConfig = Field(default_factory=PagerDutyConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    rbac: RbacConfig = Field(default_factory=RbacConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    postmortems: PostmortemsConfig = Field(default_factory=PostmortemsConfig)
    runbooks: RunbooksConfig = Field(default_factory=RunbooksConfig)
    communication: CommunicationConfig = Field(default_factory=CommunicationConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    error_budgets: BurnAlertsConfig = Field(default_factory=BurnAlertsConfig)  # burn alerts and the digest
    time_scale: PositiveNumber = 1.0

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
