"""The model worker as a provider: a real worker on quick models, over real HTTP."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.ports.errors import (
    ProviderConflict,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.core.ports.models import GoldenScore, ModelControl, ModelState, ModelVersionInfo
from bot.integrations.models import WorkerModelControl, parse_model_state
from bot.integrations.worker import HttpWorkerClient
from inference.registry import LocalRegistry
from sandbox.runner import ThreadedServer
from tests.inference.test_worker import start_worker

TEXT = "incident-text"


@pytest.fixture
def worker(trained_registry: Path, tmp_path: Path) -> Iterator[ThreadedServer]:
    server = start_worker(trained_registry, tmp_path)  # serves a copy in tmp_path / "registry"
    yield server
    server.stop()


@pytest.fixture
def registry(worker: ThreadedServer, tmp_path: Path) -> LocalRegistry:
    return LocalRegistry(tmp_path / "registry")


@pytest.fixture
async def control(worker: ThreadedServer) -> AsyncIterator[ModelControl]:
    async with HttpWorkerClient(worker.url, timeout=60) as client:
        yield WorkerModelControl(client)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deploys(registry: LocalRegistry) -> list[tuple[str, str, str, int]]:
    return [(r.version, r.actor, r.action, r.steps) for r in registry.deploy_log(TEXT)]


async def test_state_lists_versions_newest_first_with_their_records(control: ModelControl) -> None:
    state = await control.state(TEXT)
    assert (state.name, state.serving, state.ready) == (TEXT, "v1", True)
    assert [info.version for info in state.versions] == ["v2", "v1"]
    newer, serving = state.versions
    assert serving.serving and not newer.serving
    for info in state.versions:
        assert info.accuracy is not None and 0 < info.accuracy <= 1
        assert info.macro_f1 is not None and 0 < info.macro_f1 <= 1
        assert info.created_at is not None and info.created_at.tzinfo is not None
    assert newer.created_at > serving.created_at
    for info in state.versions:  # training stored each version's score on its own golden set
        assert info.golden is not None and info.golden.golden_version == info.version
        assert info.golden.examples > 0 and 0 < info.golden.accuracy <= 1
    assert serving.deployed_at is not None and newer.deployed_at is None
    assert state.serving_history == ("v1",) and state.rollback_target() is None
    assert state.version("v2") == newer and state.version("v9") is None
    assert serving.listing_line() == (
        f"v1 · accuracy {serving.accuracy:.1%} · "
        f"{serving.deployed_at.astimezone(UTC):deployed %Y-%m-%d %H:%M UTC} (serving)")
    assert await control.answering_version(TEXT) == "v1"


async def test_load_then_roll_back_records_who_did_it(control: ModelControl, registry: LocalRegistry) -> None:
    assert await control.load(TEXT, version="v2", expect="v1", actor="U123") == "v2"
    assert await control.answering_version(TEXT) == "v2"
    state = await control.state(TEXT)
    assert state.serving == "v2" and state.serving_history == ("v1", "v2")
    assert state.rollback_target() == "v1" and state.rollback_target(2) is None
    loaded = state.version("v2")
    assert loaded is not None and loaded.serving and loaded.deployed_at is not None

    assert await control.rollback(TEXT, steps=1, expect="v2", actor="U456") == "v1"
    assert await control.answering_version(TEXT) == "v1"
    assert deploys(registry) == [("v1", "test", "promote", 0), ("v2", "U123", "promote", 0),
                                 ("v1", "U456", "rollback", 1)]
    state = await control.state(TEXT)
    rolled_back = state.version("v1")
    assert state.serving_history == ("v1",) and rolled_back is not None
    assert rolled_back.deployed_at is not None and loaded.deployed_at is not None
    assert rolled_back.deployed_at >= loaded.deployed_at  # the rollback put v1 back in service


async def test_a_stale_expect_is_a_conflict_and_changes_nothing(control: ModelControl,
                                                                registry: LocalRegistry) -> None:
    await control.load(TEXT, version="v2", expect="v1", actor="U123")
    before = deploys(registry)
    with pytest.raises(ProviderConflict) as conflict:
        await control.rollback(TEXT, steps=1, expect="v1", actor="U456")
    assert conflict.value.status == 409 and conflict.value.provider == "worker"
    assert "v1" in conflict.value.message and "v2" in conflict.value.message
    with pytest.raises(ProviderConflict):
        await control.load(TEXT, version="v1", expect="v1", actor="U456")
    assert await control.answering_version(TEXT) == "v2"
    assert deploys(registry) == before and registry.current(TEXT) == "v2"


async def test_refusals_name_what_was_refused(control: ModelControl, registry: LocalRegistry) -> None:
    with pytest.raises(ProviderRejected) as unknown:
        await control.state("no-such-model")
    assert unknown.value.status == 404 and "no-such-model" in unknown.value.message
    assert not isinstance(unknown.value, ProviderConflict)
    with pytest.raises(ProviderRejected) as missing:
        await control.answering_version("no-such-model")
    assert missing.value.status == 404
    with pytest.raises(ProviderRejected) as no_version:
        await control.load(TEXT, version="v9", expect="v1", actor="U1")
    assert no_version.value.status == 404 and "v9" in no_version.value.message
    with pytest.raises(ProviderRejected) as nothing_earlier:
        await control.rollback(TEXT, steps=1, expect="v1", actor="U1")
    assert nothing_earlier.value.status == 422 and "nothing was changed" in nothing_earlier.value.message
    assert await control.answering_version(TEXT) == "v1"
    assert deploys(registry) == [("v1", "test", "promote", 0)]


async def test_a_worker_that_is_not_running_is_unavailable() -> None:
    async with HttpWorkerClient(f"http://127.0.0.1:{unused_port()}", timeout=2) as client:
        control = WorkerModelControl(client)
        with pytest.raises(ProviderUnavailable) as rollback:
            await control.rollback(TEXT, steps=1, expect="v2", actor="U1")
        assert rollback.value.provider == "worker"
        assert "unreachable" in rollback.value.message and "nothing was changed" in rollback.value.message
        for read in (control.state(TEXT), control.answering_version(TEXT)):
            with pytest.raises(ProviderUnavailable, match="unreachable"):
                await read


def test_listing_lines_and_rollback_targets_from_plain_data() -> None:
    deployed = datetime(2026, 11, 20, 14, 2, 59, tzinfo=UTC)
    serving = ModelVersionInfo(version="v3", created_at=None, deployed_at=deployed, accuracy=0.9412,
                               macro_f1=0.9, serving=True, notes="")
    fresh = ModelVersionInfo(version="v4", created_at=None, deployed_at=None, accuracy=None, macro_f1=None,
                             serving=False, notes="")
    assert serving.listing_line() == "v3 · accuracy 94.1% · deployed 2026-11-20 14:02 UTC (serving)"
    assert fresh.listing_line() == "v4 · accuracy unknown · never deployed"
    state = ModelState(name=TEXT, serving="v3", ready=True, versions=(fresh, serving),
                       serving_history=("v1", "v2", "v3"))
    assert [state.rollback_target(steps) for steps in (0, 1, 2, 3)] == [None, "v2", "v1", None]
    assert state.version("v3") is serving


def test_a_stored_score_is_read_from_the_description_and_a_hostile_one_is_ignored() -> None:
    good = {"golden_version": "v1", "accuracy": 0.84, "macro_f1": 0.83, "examples": 360, "scored_at": "x"}
    hostile: list[object] = [None, "0.9", [], {"accuracy": 0.9}, {**good, "accuracy": 1.5},
                             {**good, "accuracy": float("nan")}, {**good, "accuracy": True}, {**good, "examples": 0},
                             {**good, "examples": "360"}, {**good, "golden_version": ""},
                             {**good, "golden_version": 3}]
    body = {"version": "v2", "ready": True, "serving_history": ["v2"],
            "versions": [{"version": "v2", "golden_score": good},
                         *({"version": f"v{i + 3}", "golden_score": score} for i, score in enumerate(hostile))]}
    state = parse_model_state(TEXT, body)
    assert state.version("v2") is not None and state.version("v2").golden == GoldenScore(  # type: ignore[union-attr]
        version="v2", golden_version="v1", accuracy=0.84, macro_f1=0.83, examples=360)
    assert [info.golden for info in state.versions if info.version != "v2"] == [None] * len(hostile)
