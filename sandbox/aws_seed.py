"""Seeds a local AWS stand-in (a moto server) with what the runbooks' production looks like.

The provider tests and ``incident-bot demo`` need the multimodal suite's production to act on:
the ECS service ``multimodal-api`` in cluster ``multimodal-prod``, three revisions of its task
definition to roll back through, and the feature flags under ``/multimodal/prod/`` with some
history. This module puts them there over plain boto3, so it works against any moto server.

It expects an empty server (fresh, or reset through ``POST /moto-api/reset``): every call
registers three more task-definition revisions and writes new parameter versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3

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
