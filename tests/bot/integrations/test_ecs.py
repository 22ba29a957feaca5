"""The ECS provider against a real moto server, seeded with the multimodal suite's production."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.core.ports.ecs import (
    EcsDeployment,
    EcsProvider,
    EcsServiceState,
    family_and_revision,
    revision_label,
)
from bot.core.ports.errors import ProviderRejected
from bot.integrations.ecs import Boto3Ecs
from sandbox.aws_seed import SeededProduction, seed_production
from tests.inference.moto_server import moto_client


@pytest.fixture
def production(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> SeededProduction:
    # moto (in this process) reports this many running tasks for services created from now on;
    # without it a new service stays at 0 running, 4 pending, rollout IN_PROGRESS for ever.
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "4")
    return seed_production(aws_env)


@pytest.fixture
def ecs(aws_env: str) -> EcsProvider:
    return Boto3Ecs()  # finds moto through AWS_ENDPOINT_URL, as the bot does


async def test_describe_shows_the_seeded_service(ecs: EcsProvider, production: SeededProduction):
    state = await ecs.describe(cluster=production.cluster, service=production.service)

    assert (state.cluster, state.service, state.status) == ("multimodal-prod", "multimodal-api", "ACTIVE")
    assert (state.desired, state.running, state.pending) == (4, 4, 0)
    assert state.task_definition == production.task_definitions[2]
    assert state.revision_label == "multimodal-api:3"
    assert state.settled
    [deployment] = state.deployments
    assert deployment.status == "PRIMARY"
    assert deployment.rollout_state == "COMPLETED"
    assert deployment.task_definition == production.task_definitions[2]
    assert isinstance(deployment.updated_at, datetime)


async def test_a_service_with_pending_tasks_is_not_settled(aws_env: str, ecs: EcsProvider,
                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MOTO_ECS_SERVICE_RUNNING", raising=False)
    production = seed_production(aws_env)

    state = await ecs.describe(cluster=production.cluster, service=production.service)

    assert (state.desired, state.running, state.pending) == (4, 0, 4)
    assert state.deployments[0].rollout_state == "IN_PROGRESS"
    assert not state.settled


async def test_set_desired_count_scales_the_service(ecs: EcsProvider, production: SeededProduction):
    returned = await ecs.set_desired_count(cluster=production.cluster, service=production.service, count=6)
    described = await ecs.describe(cluster=production.cluster, service=production.service)

    assert returned.desired == 6
    assert (described.desired, described.running, described.pending) == (6, 6, 0)
    assert described.settled
    assert described.revision_label == "multimodal-api:3"


async def test_negative_desired_count_is_refused_before_asking_ecs(ecs: EcsProvider,
                                                                   production: SeededProduction):
    with pytest.raises(ValueError, match="negative"):
        await ecs.set_desired_count(cluster=production.cluster, service=production.service, count=-1)

    assert (await ecs.describe(cluster=production.cluster, service=production.service)).desired == 4


async def test_previous_task_definition_walks_back_one_revision(ecs: EcsProvider,
                                                                 production: SeededProduction):
    first, second, third = production.task_definitions

    assert await ecs.previous_task_definition(third) == second
    assert await ecs.previous_task_definition(second) == first
    assert await ecs.previous_task_definition(first) is None
    assert await ecs.previous_task_definition("multimodal-api:3") == second


async def test_previous_task_definition_skips_deregistered_revisions(aws_env: str, ecs: EcsProvider,
                                                                     production: SeededProduction):
    first, second, third = production.task_definitions
    moto_client(aws_env, "ecs").deregister_task_definition(taskDefinition=second)

    assert await ecs.previous_task_definition(third) == first


async def test_previous_task_definition_needs_a_revision(ecs: EcsProvider, production: SeededProduction):
    with pytest.raises(ValueError, match="family:revision"):
        await ecs.previous_task_definition("multimodal-api")


async def test_set_task_definition_rolls_the_service_back(ecs: EcsProvider, production: SeededProduction):
    second = production.task_definitions[1]

    returned = await ecs.set_task_definition(cluster=production.cluster, service=production.service,
                                             task_definition=second)
    described = await ecs.describe(cluster=production.cluster, service=production.service)

    assert returned.task_definition == second
    assert described.task_definition == second
    assert described.revision_label == "multimodal-api:2"


async def test_force_new_deployment_starts_a_new_deployment(ecs: EcsProvider, production: SeededProduction):
    before = await ecs.describe(cluster=production.cluster, service=production.service)

    returned = await ecs.force_new_deployment(cluster=production.cluster, service=production.service)
    after = await ecs.describe(cluster=production.cluster, service=production.service)

    assert returned.service == "multimodal-api"
    assert after.deployments[0].id != before.deployments[0].id
    assert after.revision_label == before.revision_label == "multimodal-api:3"
    assert after.desired == 4


async def test_describe_of_a_missing_service_is_a_404(ecs: EcsProvider, production: SeededProduction):
    with pytest.raises(ProviderRejected) as caught:
        await ecs.describe(cluster=production.cluster, service="no-such-api")

    assert caught.value.status == 404
    assert caught.value.provider == "ecs"
    assert "no-such-api" in caught.value.message and "multimodal-prod" in caught.value.message


async def test_describe_in_a_missing_cluster_is_a_404(ecs: EcsProvider, production: SeededProduction):
    with pytest.raises(ProviderRejected) as caught:
        await ecs.describe(cluster="no-such-cluster", service=production.service)

    assert caught.value.status == 404
    assert "no-such-cluster" in caught.value.message
    assert "ClusterNotFoundException" in caught.value.message


async def test_describe_of_a_deleted_service_is_a_404(aws_env: str, ecs: EcsProvider,
                                                      production: SeededProduction):
    moto_client(aws_env, "ecs").delete_service(cluster=production.cluster, service=production.service,
                                               force=True)

    with pytest.raises(ProviderRejected) as caught:
        await ecs.describe(cluster=production.cluster, service=production.service)

    assert caught.value.status == 404


async def test_scaling_a_missing_service_is_a_404(ecs: EcsProvider, production: SeededProduction):
    with pytest.raises(ProviderRejected) as caught:
        await ecs.set_desired_count(cluster=production.cluster, service="no-such-api", count=2)

    assert caught.value.status == 404
    assert caught.value.message.startswith("ECS refused to scale no-such-api to 2 in multimodal-prod")
    assert "ServiceNotFoundException" in caught.value.message


def test_revision_labels_come_from_arns():
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/multimodal-api:12"

    assert revision_label(arn) == "multimodal-api:12"
    assert revision_label("multimodal-api:12") == "multimodal-api:12"
    assert family_and_revision(arn) == ("multimodal-api", 12)
    with pytest.raises(ValueError):
        family_and_revision("arn:aws:ecs:us-east-1:123456789012:task-definition/multimodal-api")


def _deployment(**changes) -> EcsDeployment:
    fields = {"id": "ecs-svc/1", "status": "PRIMARY", "task_definition": "td/api:2", "desired": 4,
              "running": 4, "pending": 0, "rollout_state": "COMPLETED", "updated_at": None}
    return EcsDeployment(**{**fields, **changes})


def _state(*deployments: EcsDeployment, desired: int = 4, running: int = 4, pending: int = 0) -> EcsServiceState:
    return EcsServiceState(cluster="c", service="s", status="ACTIVE", desired=desired, running=running,
                           pending=pending, task_definition="td/api:2", deployments=deployments)


@pytest.mark.parametrize(
    ("state", "settled"),
    [
        (_state(_deployment()), True),
        (_state(), True),
        (_state(_deployment(rollout_state=None)), True),  # running == desired is enough
        (_state(_deployment(), running=3), False),
        (_state(_deployment(), pending=1, running=4), False),
        (_state(_deployment(rollout_state="IN_PROGRESS", running=2)), False),
        (_state(_deployment(), _deployment(status="ACTIVE", rollout_state="FAILED", running=0)), False),
    ],
    ids=["completed", "no-deployments", "no-rollout-state", "short", "pending", "rolling", "failed"],
)
def test_settled_means_at_rest(state: EcsServiceState, settled: bool):
    assert state.settled is settled
