"""The seeds' model gate in the action pipeline: a version put in service from Slack must score
0.90 on its golden set, or an approver overrides it, and the audit row says who and why.

A real worker on quick models (they score about 0.84 on their golden sets) and a real database.
Training stores each version's score, so a plan reads it from the worker's description of the
model; a version never scored is sent to the worker, for a short while only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import IncidentBotConfig
from bot.config.errors import ConfigError
from bot.config.severity import Severity
from bot.core import incidents
from bot.core.actions.apply import Executor
from bot.core.actions.errors import ActionDenied
from bot.core.actions.kinds import ActionKind, ActionState
from bot.core.actions.pipeline import ActionPipeline
from bot.core.actions.plans import NOT_SCORED_YET, ModelGate, Plan, Planner
from bot.core.actions.providers import ActionProviders
from bot.core.actions.rbac import Authorizer
from bot.core.actions.requests import ActionRequest
from bot.core.errors import InvalidInput
from bot.core.unit_of_work import Core
from bot.integrations.models import WorkerModelControl
from bot.integrations.worker import HttpWorkerClient
from inference.registry import LocalRegistry
from inference.scores import golden_key, read_stored
from sandbox.runner import ThreadedServer
from storage.models import AuditEntry, ResponseAction
from tests.inference.test_stored_scores import scorings, unscored_copy
from tests.inference.test_worker import start_worker

ALICE, EVAN = "U0ALICE", "U0EVAN"  # commander; approver


class _NoDirectory:
    async def usergroup_members(self, usergroup_id: str) -> list[str]:
        return []


def config(gate: float | None = 0.90) -> IncidentBotConfig:
    actions: dict[str, object] = {"verify_timeout": "60s", "verify_every": "1s",
                                  "model_accuracy_gate": False if gate is None else gate}
    return IncidentBotConfig.from_mapping({
        "services": {"multimodal-api": {"models": ["incident-text"]}},
        "rbac": {"roles": {"commander": {"users": [ALICE]}, "approver": {"users": [EVAN]}},
                 "actions": {"rollback": ["commander"]}, "approval_required": ["stop"]},
        "actions": actions,
    })


@pytest.fixture
def worker(trained_registry: Path, tmp_path: Path) -> Iterator[ThreadedServer]:
    server = start_worker(trained_registry, tmp_path)
    httpx.post(f"{server.url}/v1/models/incident-text/versions/v2:load", timeout=120).raise_for_status()
    yield server
    server.stop()


@pytest.fixture
async def client(worker: ThreadedServer) -> AsyncIterator[HttpWorkerClient]:
    async with HttpWorkerClient(worker.url, timeout=300) as http:
        yield http


def pipeline(settings: IncidentBotConfig, sessions: async_sessionmaker[AsyncSession],
             client: HttpWorkerClient) -> ActionPipeline:
    providers = ActionProviders(models=WorkerModelControl(client))
    return ActionPipeline(core=Core(sessions=sessions), config=settings,
                          planner=Planner(config=settings, providers=providers),
                          executor=Executor(config=settings, providers=providers),
                          authorizer=Authorizer(rbac=settings.rbac, directory=_NoDirectory()))


async def open_incident(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session, session.begin():
        incident = await incidents.declare(session, title="accuracy under 0.90", severity=Severity.P1,
                                           declared_by=ALICE, now=datetime.now(UTC), service="multimodal-api")
        return incident.id


async def finished(sessions: async_sessionmaker[AsyncSession], action_id: int) -> ResponseAction:
    async with asyncio.timeout(120):
        while True:
            async with sessions() as session:
                row = await session.get(ResponseAction, action_id)
                assert row is not None
                if ActionState(row.state).finished:
                    return row
            await asyncio.sleep(0.2)


async def audit(sessions: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessions() as session:
        return list((await session.scalars(select(AuditEntry).where(AuditEntry.action.like("action.%"))
                                           .order_by(AuditEntry.id))).all())


ROLLBACK = ActionRequest(ActionKind.ROLLBACK_MODEL, model="incident-text")


async def test_a_version_under_the_090_bar_waits_for_an_approver_who_overrides_it_audited(
        sessions: async_sessionmaker[AsyncSession], client: HttpWorkerClient) -> None:
    actions = pipeline(config(), sessions, client)
    try:
        incident_id = await open_incident(sessions)
        action = await actions.propose(actor=ALICE, incident_id=incident_id, request=ROLLBACK)
        gate = action.result["gate"]
        assert gate["version"] == "v1" and gate["bar"] == 0.90 and not gate["passed"] and gate["accuracy"] < 0.90
        # The message says the accuracy and the bar.
        line = action.result["notes"][0]
        assert f"v1 scores {gate['accuracy']:.1%}" in line and "under the 90% bar" in line and "approver" in line
        assert action.needs_approval  # rollback needs no approval in this config: the gate asks for it

        action = await actions.confirm(actor=ALICE, action_id=action.id)
        assert action.state == ActionState.AWAITING_APPROVAL.value
        with pytest.raises(ActionDenied):  # the requester cannot override their own request
            await actions.approve(actor=ALICE, action_id=action.id, reason="mine")
        assert (await client.model("incident-text"))["version"] == "v2"  # nothing happened yet

        with pytest.raises(InvalidInput, match="Say why"):  # an override without a reason is refused
            await actions.approve(actor=EVAN, action_id=action.id, reason="  \u200b ")
        async with sessions() as session:
            waiting = await session.get(ResponseAction, action.id)
            assert waiting is not None and waiting.state == ActionState.AWAITING_APPROVAL.value

        why = "v2 mislabels every outage; v1 is the lesser evil"
        await actions.approve(actor=EVAN, action_id=action.id, reason=why)
        row = await finished(sessions, action.id)
        assert row.state == ActionState.SUCCEEDED.value, row.result
        assert row.decided_by == EVAN and row.result["override"]["by"] == EVAN
        approved = [entry for entry in await audit(sessions) if entry.outcome == "approved"]
        assert len(approved) == 1 and approved[0].actor == EVAN
        note = approved[0].detail["note"]
        assert "overrode the model accuracy gate (v1: accuracy" in note and "bar 90%" in note
        assert "reason: v2 mislabels every outage; v1 is the lesser evil" in note
        override = approved[0].detail["result"]["override"]
        assert override["reason"].startswith("v2 mislabels") and override["accuracy"] == gate["accuracy"]
    finally:
        await actions.aclose()


async def test_a_version_that_passes_the_gate_runs_on_confirmation_alone(
        sessions: async_sessionmaker[AsyncSession], client: HttpWorkerClient) -> None:
    actions = pipeline(config(gate=0.5), sessions, client)
    try:
        incident_id = await open_incident(sessions)
        action = await actions.propose(actor=ALICE, incident_id=incident_id,
                                       request=ActionRequest(ActionKind.LOAD_MODEL, model="incident-text",
                                                             version="v1"))
        assert action.result["gate"]["passed"] and not action.needs_approval
        assert "at or above the 50% bar" in action.result["notes"][0]
        await actions.confirm(actor=ALICE, action_id=action.id)
        row = await finished(sessions, action.id)
        assert row.state == ActionState.SUCCEEDED.value, row.result
        assert "override" not in row.result
    finally:
        await actions.aclose()


def test_a_gate_that_could_not_be_checked_is_not_passed() -> None:
    unchecked = ModelGate(version="v4", bar=0.9, accuracy=None, why_unchecked="no golden set")
    assert not unchecked.passed and "could not be checked against the 90% bar (no golden set)" in unchecked.line
    assert ModelGate(version="v2", bar=0.9, accuracy=0.9, golden_version="v2", examples=10).passed


def test_the_gate_is_on_at_the_seeds_bar_unless_turned_off_and_the_bar_is_a_fraction() -> None:
    assert IncidentBotConfig.from_mapping({}).actions.model_accuracy_gate == 0.90
    off = IncidentBotConfig.from_mapping(yaml.safe_load("actions: {model_accuracy_gate: false}"))
    assert off.actions.model_accuracy_gate is None
    blank = IncidentBotConfig.from_mapping(yaml.safe_load("actions: {model_accuracy_gate: ~}"))
    assert blank.actions.model_accuracy_gate == 0.90  # a key with no value is the default, as everywhere
    for bad in (90, -0.1, "high", True):
        with pytest.raises(ConfigError, match="model_accuracy_gate"):
            IncidentBotConfig.from_mapping({"actions": {"model_accuracy_gate": bad}})


async def test_a_gate_that_is_off_asks_nothing(client: HttpWorkerClient) -> None:
    plan = await plan_rollback(client, config(gate=None), wait=NO_TIME)
    assert plan.gate is None and not plan.needs_override and not any("Accuracy gate" in n for n in plan.notes)


# No worker could score a version this fast: a gate with a score read it from the model's state.
NO_TIME = 1e-6
# Time enough for the request to reach the worker; a scoring (360 texts through MiniLM) takes longer.
FIRST_WAIT = 0.3


async def plan_rollback(client: HttpWorkerClient, settings: IncidentBotConfig, *, wait: float) -> Plan:
    planner = Planner(config=settings, providers=ActionProviders(models=WorkerModelControl(client)),
                      gate_wait_seconds=wait)
    return await planner.plan(ROLLBACK, incident_service="multimodal-api")


async def test_the_plan_reads_the_score_stored_at_training_and_scores_nothing(
        worker: ThreadedServer, client: HttpWorkerClient, trained_registry: Path) -> None:
    plan = await plan_rollback(client, config(), wait=NO_TIME)
    registry = LocalRegistry(trained_registry)
    key = golden_key(registry.manifest("incident-text", "v1"))
    assert key is not None
    stored = read_stored(registry, key)
    assert stored is not None and plan.gate is not None
    assert (plan.gate.accuracy, plan.gate.golden_version, plan.gate.examples) == (
        stored.result["accuracy"], "v1", stored.result["examples"])
    assert f"v1 scores {plan.gate.accuracy:.1%} on its golden set ({plan.gate.examples} examples)" in plan.gate.line
    assert scorings(worker.url) == 0


@pytest.fixture
def unscored_worker(trained_registry: Path, tmp_path: Path) -> Iterator[ThreadedServer]:
    server = start_worker(unscored_copy(trained_registry, tmp_path / "source"), tmp_path)
    httpx.post(f"{server.url}/v1/models/incident-text/versions/v2:load", timeout=120).raise_for_status()
    yield server
    server.stop()


async def test_a_version_never_scored_is_not_checked_in_time_and_is_scored_for_the_next_plan(
        unscored_worker: ThreadedServer) -> None:
    async with HttpWorkerClient(unscored_worker.url, timeout=300) as client:
        started = asyncio.get_running_loop().time()
        first = await plan_rollback(client, config(), wait=FIRST_WAIT)
        assert asyncio.get_running_loop().time() - started < FIRST_WAIT + 5  # the plan did not wait for the scoring
        assert first.gate is not None and first.gate.accuracy is None and first.needs_override
        assert first.gate.why_unchecked == NOT_SCORED_YET and "An approver must override" in first.gate.line

        # The worker goes on scoring after the plan stopped waiting, and keeps the score.
        stored = await stored_score(client, "v1")
        second = await plan_rollback(client, config(), wait=NO_TIME)
        assert second.gate is not None and second.gate.accuracy is not None and second.gate.golden_version == "v1"
        assert second.needs_override == (second.gate.accuracy < 0.90)
        assert second.gate.accuracy == stored["accuracy"] and scorings(unscored_worker.url) == 1


async def stored_score(client: HttpWorkerClient, version: str) -> dict[str, object]:
    async with asyncio.timeout(120):
        while True:
            versions = (await client.model("incident-text"))["versions"]
            score = next((v["golden_score"] for v in versions if v["version"] == version), None)
            if score:
                return dict(score)
            await asyncio.sleep(0.2)
