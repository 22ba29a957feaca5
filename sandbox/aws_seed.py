"""Seeds a local AWS stand-in (a moto server) with what the runbooks' production looks like.

The provider tests and ``incident-bot demo`` need the multimodal suite's production to act on:
the ECS service ``multimodal-api`` in cluster ``multimodal-prod``, three revisions of its task
definition to roll back through, and the feature flags under ``/multimodal/prod/`` with some
history. This module puts them there over plain boto3, so it works against any moto server.

It expects an empty server (fresh, or reset through ``POST /moto-api/reset``): every call
registers three more task-definition revisions and writes new parameter versions.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

CLUSTER = "multimodal-prod"
SERVICE = "multimodal-api"
FAMILY = "multimodal-api"
IMAGES = ("multimodal-api:1.4.0", "multimodal-api:1.5.0", "multimodal-api:1.6.0")
DESIRED_COUNT = 4
PARAMETER_PREFIX = "/multimodal/prod/"
# Each name's values in the order written: the last is current, the earlier ones its history.
PARAMETER_VALUES: dict[str, tuple[str, ...]] = {
    "AUTO_APPLY_ENABLED": ("false", "true"),
    "max_batch_size": ("16", "32"),
    "rate_limit_rpm": ("600",),
    # Seed 000 versions the document classifier here; the deployment-failure runbook rolls it back.
    "document_classifier_version": ("v2.3.0", "v2.4.0"),
}
# The other demo services' parameters: seed 004's version-locked weights file and seed 003's
# active model, which the outage runbook's failover step switches to the backup.
OTHER_SERVICES_PARAMETERS: dict[str, tuple[str, ...]] = {
    "/scoring/prod/weights.yaml": ("weights-2026-11-30", "weights-2026-12-05"),
    "/orchestrator/prod/active_model": ("primary-model",),
}
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class SeededProduction:
    cluster: str
    service: str
    family: str
    task_definitions: tuple[str, str, str]  # ARNs of revisions 1, 2 and 3; the service runs 3
    parameters: tuple[str, ...]  # full names, e.g. /multimodal/prod/AUTO_APPLY_ENABLED

    @property
    def current_task_definition(self) -> str:
        return self.task_definitions[-1]


def seed_production(endpoint_url: str, *, region: str = "us-east-1") -> SeededProduction:
    """Create the cluster, task definitions, service and parameters on ``endpoint_url``."""
    ecs = _client("ecs", endpoint_url, region)
    ecs.create_cluster(clusterName=CLUSTER)
    arns = tuple(_register_task_definition(ecs, image) for image in IMAGES)
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=arns[-1],
                       desiredCount=DESIRED_COUNT, launchType="EC2")

    ssm = _client("ssm", endpoint_url, region)
    names = []
    for short_name, values in PARAMETER_VALUES.items():
        name = f"{PARAMETER_PREFIX}{short_name}"
        for value in values:
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        names.append(name)
    for name, values in OTHER_SERVICES_PARAMETERS.items():
        for value in values:
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    first, second, third = arns
    return SeededProduction(cluster=CLUSTER, service=SERVICE, family=FAMILY,
                            task_definitions=(first, second, third), parameters=tuple(names))


def _register_task_definition(ecs: Any, image: str) -> str:
    answer = ecs.register_task_definition(
        family=FAMILY,
        requiresCompatibilities=["EC2"],
        cpu="1024",
        memory="2048",
        containerDefinitions=[{
            "name": "api",
            "image": image,
            "cpu": 1024,
            "memory": 2048,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        }],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, **DUMMY_CREDENTIALS)


@dataclass(frozen=True)
class MetricStep:
    """A metric that sat at ``before`` and stepped to ``after`` some minutes ago: what an alarm saw."""

    namespace: str
    name: str
    dimensions: dict[str, str]
    before: float
    after: float
    stepped_minutes_ago: int
    unit: str = "None"


# The seeds' two pictures: P95 latency after the v1.6.0 deploy (seed 000), and a ticket
# classifier whose accuracy fell when a new model version went out (seed 001).
LATENCY_AFTER_DEPLOY = MetricStep("AWS/ApplicationELB", "TargetResponseTime", {"ServiceName": SERVICE},
                                  before=0.38, after=1.42, stepped_minutes_ago=40, unit="Seconds")
ACCURACY_AFTER_MODEL = MetricStep("Multimodal/Prod", "classification_accuracy_7d", {"ServiceName": SERVICE},
                                  before=0.93, after=0.78, stepped_minutes_ago=30)


def _datapoints(step: MetricStep, now: datetime, hours: int, hours_ahead: int) -> Iterator[dict[str, Any]]:
    for minute in range(hours * 60, -hours_ahead * 60, -1):
        # A little wobble, so the chart looks like a dashboard and not a drawing.
        value = step.after if minute <= step.stepped_minutes_ago else step.before
        value *= 1 + 0.04 * ((minute * 7919) % 11 - 5) / 5
        yield {"MetricName": step.name, "Dimensions": [{"Name": k, "Value": v} for k, v in step.dimensions.items()],
               "Timestamp": now - timedelta(minutes=minute), "Value": round(value, 4), "Unit": step.unit}


def seed_metrics(endpoint_url: str, *, now: datetime, steps: tuple[MetricStep, ...] = (
        LATENCY_AFTER_DEPLOY, ACCURACY_AFTER_MODEL), hours: int = 3, hours_ahead: int = 8,
        region: str = "us-east-1") -> None:
    """Minute datapoints for the last ``hours`` of each metric, with its step, on CloudWatch.

    The demo seeds once, at start, and its scenarios raise their alarms whenever a person clicks
    them: the metric goes on at its stepped level for ``hours_ahead`` more, already written, so a
    chart drawn later has data up to its alarm and after it. Reads end at "now", so nothing from
    the future shows before its time.
    """
    cloudwatch = _client("cloudwatch", endpoint_url, region)
    for step in steps:
        points = list(_datapoints(step, now, hours, hours_ahead))
        for start in range(0, len(points), 20):
            cloudwatch.put_metric_data(Namespace=step.namespace, MetricData=points[start:start + 20])


# --- what the investigations find: logs, stopped tasks, target health ------------------------

LOG_GROUP = "/aws/ecs/multimodal-prod"
LOG_STREAM = "multimodal-api/api/0f3c9d2e"
TARGET_GROUP = "multimodal-api"
SCORING_SERVICE = "scoring-api"
SCORING_LOG_GROUP = "/aws/ecs/scoring-prod"
SCORING_LOG_STREAM = "scoring-api/api/7b1e44a0"
# The seeds' error codes (seed 000's section 4.2), in the order the outage logs them, over and over:
# corrupt PDFs most, then out-of-memory, a corrupt image and a rate limit now and then.
ERROR_CODES = ("DOC_001", "SYS_001", "DOC_001", "IMG_001", "DOC_001", "SYS_001", "DOC_001", "RATE_001")
ERROR_MESSAGES = {"DOC_001": "corrupt PDF: could not parse document", "SYS_001": "out of memory loading model",
                  "IMG_001": "corrupt image: cannot identify image file", "RATE_001": "rate limit exceeded"}
# Stopped tasks: two died (seed 000's deployment failure), one was scaled in on purpose.
SCORING_ERROR_CODES = ("SYS_001", "SYS_001", "RATE_001", "SYS_001")
STOP_REASONS = ("Essential container in task exited",
                f"Task failed ELB health checks in (target-group {TARGET_GROUP})",
                "Scaling activity initiated by (deployment ecs-svc/5037295891726340000)")


@dataclass(frozen=True)
class SeededInvestigations:
    log_group: str
    target_group_arn: str
    stopped_tasks: tuple[str, ...]  # ARNs, in STOP_REASONS order
    unhealthy_targets: tuple[str, ...]  # instance ids
    correlation_id: str  # carried by the ERROR line of four minutes before ``now``


def log_lines(now: datetime, *, minutes: int = 90, minutes_ahead: int = 110, codes: tuple[str, ...] = ERROR_CODES,
              service: str = SERVICE) -> list[dict[str, Any]]:
    """Seed 000/004-style JSON lines: a request line a minute, an ERROR line every other minute
    (the codes of ERROR_CODES in turn), and a plain-text crash line.

    Lines go ``minutes_ahead`` into the future too (CloudWatch takes up to two hours ahead), so a
    scenario started later in the demo still finds errors in its window; reads end at "now".
    """
    events = []
    for minute in range(minutes, -minutes_ahead, -1):
        at = now - timedelta(minutes=minute)
        events.append(_json_line(at, service=service, level="INFO", message="POST /classify completed",
                                 status_code=200,
                                 correlation_id=f"{minute & 0xFFFF:04x}8400-e29b-41d4-a716-446655440000"))
        if minute % 2 == 0:
            code = codes[(minute // 2) % len(codes)]
            events.append(_json_line(at + timedelta(seconds=17), service=service, level="ERROR", error_code=code,
                                     message=ERROR_MESSAGES[code], status_code=500,
                                     correlation_id=f"{minute & 0xFFFF:04x}e400-e29b-41d4-a716-446655440000"))
    events.append({"timestamp": int((now - timedelta(minutes=3)).timestamp() * 1000),
                   "message": "Traceback (most recent call last): ERROR worker crashed with SYS_001"})
    return sorted(events, key=lambda e: e["timestamp"])


def _json_line(at: datetime, *, service: str, **fields: Any) -> dict[str, Any]:
    body = {"timestamp": at.isoformat(), "service": service, **fields}
    return {"timestamp": int(at.timestamp() * 1000), "message": json.dumps(body)}


def _put_log_lines(logs: Any, group: str, stream: str, lines: list[dict[str, Any]]) -> None:
    # moto keeps its state per process, so a second demo run in one process finds them made.
    with _already_there_is_fine():
        logs.create_log_group(logGroupName=group)
    with _already_there_is_fine():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    for start in range(0, len(lines), 500):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=lines[start:start + 500])


# The ERROR line of four minutes before the seeding carries this correlation id (see log_lines).
CORRELATION_ID = f"{4:04x}e400-e29b-41d4-a716-446655440000"


def seed_investigations(endpoint_url: str, production: SeededProduction, *, now: datetime,
                        region: str = "us-east-1") -> SeededInvestigations:
    """The log group with JSON lines, the feature metrics (see seed_data_quality), stopped tasks with
    reasons, and a target group with a target down."""
    logs = _client("logs", endpoint_url, region)
    _put_log_lines(logs, LOG_GROUP, LOG_STREAM, log_lines(now))
    # The scoring API's outage (the PagerDuty scenario): out-of-memory crashes and the rate limiter.
    _put_log_lines(logs, SCORING_LOG_GROUP, SCORING_LOG_STREAM,
                   log_lines(now, codes=SCORING_ERROR_CODES, service=SCORING_SERVICE))
    seed_data_quality(endpoint_url, now=now, region=region)
    seed_health(endpoint_url, now=now, region=region)

    ecs = _client("ecs", endpoint_url, region)
    # Fargate, because moto places EC2 tasks only on registered container instances.
    ran = ecs.run_task(cluster=production.cluster, taskDefinition=production.current_task_definition,
                       count=len(STOP_REASONS), launchType="FARGATE", group=f"service:{production.service}")
    stopped = []
    for task, reason in zip(ran["tasks"], STOP_REASONS, strict=True):
        ecs.stop_task(cluster=production.cluster, task=task["taskArn"], reason=reason)
        stopped.append(str(task["taskArn"]))

    elb = _client("elbv2", endpoint_url, region)
    existing = elb.describe_target_groups()["TargetGroups"]
    seeded = next((g["TargetGroupArn"] for g in existing if g["TargetGroupName"] == TARGET_GROUP), None)
    if seeded is not None:
        health = elb.describe_target_health(TargetGroupArn=seeded)["TargetHealthDescriptions"]
        down = tuple(h["Target"]["Id"] for h in health if h["TargetHealth"]["State"] != "healthy")
        return SeededInvestigations(log_group=LOG_GROUP, target_group_arn=str(seeded), stopped_tasks=tuple(stopped),
                                    unhealthy_targets=down, correlation_id=CORRELATION_ID)
    ec2 = _client("ec2", endpoint_url, region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    instances = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=3, MaxCount=3,
                                                            InstanceType="t3.medium")["Instances"]]
    group = elb.create_target_group(Name=TARGET_GROUP, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance",
                                    HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": i, "Port": 8080} for i in instances])
    # moto reports a registered target "healthy" unless its instance is stopped ("unused", Target.InvalidState).
    ec2.stop_instances(InstanceIds=instances[:1])
    return SeededInvestigations(log_group=LOG_GROUP, target_group_arn=str(group), stopped_tasks=tuple(stopped),
                                unhealthy_targets=tuple(instances[:1]), correlation_id=CORRELATION_ID)


# --- what the Data quality investigation finds: each feature's freshness and null rate ------

FEATURE_NAMESPACE = "FeatureStore/Prod"
FRESHNESS_METRIC = "feature_age_seconds"  # seconds since the feature was last materialized
NULL_RATE_METRIC = "feature_null_rate"  # the share of null values, 0 to 1
FEATURE_DIMENSION = "Feature"
DATA_QUALITY_SERVICE = "scoring-api"  # seed 004's scoring engine, whose inputs these are
MATERIALIZE_EVERY = timedelta(minutes=15)
FEATURE_POINT_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class FeatureSeed:
    name: str
    null_rate: float
    stalled_minutes_ago: int | None = None  # its materialization job stopped this long before the seeding


# One feature's materialization stopped three hours ago (seed 002's "materialize features if
# stale"), and one has 8% nulls, over seed 002's 5%; the others are fresh and complete.
FEATURES = (FeatureSeed("company_size", 0.004), FeatureSeed("revenue_growth", 0.012),
            FeatureSeed("tech_adoption", 0.083), FeatureSeed("digital_presence", 0.006, stalled_minutes_ago=180))
STALE_FEATURE = "digital_presence"
NULL_HEAVY_FEATURE = "tech_adoption"


def feature_points(feature: FeatureSeed, now: datetime, *, hours: int = 3,
                   hours_ahead: int = 8) -> Iterator[dict[str, Any]]:
    """A point every five minutes: the age since the last 15-minute materialization (or since the
    job stopped), and the null rate. Points go ``hours_ahead`` into the future, as in seed_metrics."""
    dimensions = [{"Name": "ServiceName", "Value": DATA_QUALITY_SERVICE},
                  {"Name": FEATURE_DIMENSION, "Value": feature.name}]
    stalled = now - timedelta(minutes=feature.stalled_minutes_ago) if feature.stalled_minutes_ago else None
    step = int(FEATURE_POINT_EVERY.total_seconds())
    for seconds in range(-hours * 3600, hours_ahead * 3600 + 1, step):
        at = now + timedelta(seconds=seconds)
        cycle = MATERIALIZE_EVERY.total_seconds()
        last = at - timedelta(seconds=at.timestamp() % cycle)
        if stalled is not None and stalled < last:
            last = stalled
        yield {"MetricName": FRESHNESS_METRIC, "Dimensions": dimensions, "Timestamp": at,
               "Value": round((at - last).total_seconds()), "Unit": "Seconds"}
        yield {"MetricName": NULL_RATE_METRIC, "Dimensions": dimensions, "Timestamp": at,
               "Value": feature.null_rate, "Unit": "None"}


def seed_data_quality(endpoint_url: str, *, now: datetime, region: str = "us-east-1") -> None:
    """Feature freshness and null-rate metrics for ``FEATURES``, with one stale feature."""
    cloudwatch = _client("cloudwatch", endpoint_url, region)
    points = [point for feature in FEATURES for point in feature_points(feature, now)]
    for start in range(0, len(points), 20):
        cloudwatch.put_metric_data(Namespace=FEATURE_NAMESPACE, MetricData=points[start:start + 20])


# --- what the Metrics and Canary investigations find: the service's health, and a bad canary ---

# Seed 000's own metric names (its Prometheus metrics, exported to CloudWatch with their
# percentiles computed, as histogram_quantile does), per service and per version.
HEALTH_NAMESPACE = "Multimodal/Prod"
HEALTH_DIMENSIONS = {"ServiceName": SERVICE}
VERSION_DIMENSION = "Version"  # the canary's dimension: which release answered
CANARY_VERSION, STABLE_VERSION = "1.6.0", "1.5.0"  # IMAGES' last two: 1.6.0 went out as a canary
HEALTH_METRIC_NAMES = {"requests": "inference_requests_total", "errors": "error_count_total",
                       "latency_p95": "inference_latency_p95_seconds", "latency_p99": "inference_latency_p99_seconds",
                       "cpu": "cpu_utilization_percent", "memory": "memory_used_bytes",
                       "gpu": "gpu_utilization_percent"}
CANARY_STEPPED_MINUTES_AGO = 40  # as LATENCY_AFTER_DEPLOY: the deploy that raised latency


@dataclass(frozen=True)
class HealthSeries:
    """One metric per minute: ``before`` until the canary went out, ``after`` since (None: no data)."""

    role: str  # a key of HEALTH_METRIC_NAMES
    before: float | None
    after: float
    version: str | None = None  # the Version dimension's value; None for the whole service


# The canary (1.6.0, a tenth of the traffic since the deploy) answers slowly and fails 4% of its
# requests; stable (1.5.0) stays at 0.2% and under 400 ms, so Canary says roll back. The service
# as a whole: p95 over 1 s (critical), 5xx near 0.6% (over the 0.5% objective), CPU climbing.
HEALTH_SERIES = (
    HealthSeries("requests", 1200, 1200), HealthSeries("errors", 2.4, 7.0),
    HealthSeries("latency_p95", 0.38, 1.21), HealthSeries("latency_p99", 0.55, 2.1),
    HealthSeries("cpu", 46, 81), HealthSeries("memory", 1.25 * 2**30, 1.7 * 2**30), HealthSeries("gpu", 38, 57),
    HealthSeries("requests", None, 120, CANARY_VERSION), HealthSeries("errors", None, 4.8, CANARY_VERSION),
    HealthSeries("latency_p95", None, 1.45, CANARY_VERSION), HealthSeries("latency_p99", None, 2.3, CANARY_VERSION),
    HealthSeries("requests", 1200, 1080, STABLE_VERSION), HealthSeries("errors", 2.4, 2.2, STABLE_VERSION),
    HealthSeries("latency_p95", 0.38, 0.39, STABLE_VERSION), HealthSeries("latency_p99", 0.55, 0.57, STABLE_VERSION),
)
HEALTH_UNITS = {"requests": "Count", "errors": "Count", "latency_p95": "Seconds", "latency_p99": "Seconds",
                "cpu": "Percent", "memory": "Bytes", "gpu": "Percent"}


def health_points(series: HealthSeries, now: datetime, *, minutes: int = 90,
                  minutes_ahead: int = 110) -> Iterator[dict[str, Any]]:
    """A point a minute with a little wobble, reaching ``minutes_ahead`` into the future as the logs do."""
    dimensions = {**HEALTH_DIMENSIONS, **({VERSION_DIMENSION: series.version} if series.version else {})}
    for minute in range(minutes, -minutes_ahead, -1):
        value = series.after if minute <= CANARY_STEPPED_MINUTES_AGO else series.before
        if value is None:
            continue
        value *= 1 + 0.04 * ((minute * 7919) % 11 - 5) / 5
        yield {"MetricName": HEALTH_METRIC_NAMES[series.role], "Timestamp": now - timedelta(minutes=minute),
               "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
               "Value": round(value, 4), "Unit": HEALTH_UNITS[series.role]}


def seed_health(endpoint_url: str, *, now: datetime, region: str = "us-east-1") -> None:
    """The service's health metrics, and its canary's and stable version's, on CloudWatch."""
    cloudwatch = _client("cloudwatch", endpoint_url, region)
    points = [point for series in HEALTH_SERIES for point in health_points(series, now)]
    for start in range(0, len(points), 500):
        cloudwatch.put_metric_data(Namespace=HEALTH_NAMESPACE, MetricData=points[start:start + 500])


@contextlib.contextmanager
def _already_there_is_fine() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
            raise


# Seeds 002 and 003's leaked credential: an IAM user whose access key leaked, a secret to rotate,
# and the bucket that "Preserve evidence" writes to.
SECURITY_KEY_USER = "ci-deployer"
SECURITY_SECRET_NAME = "prod/scoring/api-key"
EVIDENCE_BUCKET = "incident-evidence"


@dataclass(frozen=True)
class SeededSecurity:
    key_user: str
    leaked_key_id: str
    secret_name: str
    secret_value: str
    bucket: str


def seed_security(endpoint_url: str, *, region: str = "us-east-1") -> SeededSecurity:
    """The leaked key's IAM user with one active key, the secret, and the evidence bucket.

    Seeding a server that already holds them (moto keeps its state per process, and the demo
    restarts on the same one) keeps what is there: the user's first key, the secret's value.
    """
    iam = _client("iam", endpoint_url, region)
    value = "scoring-api-key-0001"  # a stand-in: the demo's secret holds nothing real
    with _exists_is_fine("EntityAlreadyExists"):
        iam.create_user(UserName=SECURITY_KEY_USER)
    keys = iam.list_access_keys(UserName=SECURITY_KEY_USER)["AccessKeyMetadata"]
    key_id = str(keys[0]["AccessKeyId"] if keys else
                 iam.create_access_key(UserName=SECURITY_KEY_USER)["AccessKey"]["AccessKeyId"])
    with _exists_is_fine("ResourceExistsException"):
        _client("secretsmanager", endpoint_url, region).create_secret(Name=SECURITY_SECRET_NAME, SecretString=value)
    with _exists_is_fine("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        _client("s3", endpoint_url, region).create_bucket(Bucket=EVIDENCE_BUCKET)
    return SeededSecurity(key_user=SECURITY_KEY_USER, leaked_key_id=key_id, secret_name=SECURITY_SECRET_NAME,
                          secret_value=value, bucket=EVIDENCE_BUCKET)


@contextlib.contextmanager
def _exists_is_fine(*codes: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in codes:
            raise
