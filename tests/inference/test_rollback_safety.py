"""Rollbacks and loads never happen half-way: a refusal leaves the served model and the registry
as they were; and a caller's stale view of the served version is a 409, not a second rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.core.ports.worker import WorkerConflict, WorkerRejected
from bot.integrations.worker import HttpWorkerClient
from inference.registry import LocalRegistry
from sandbox.runner import ThreadedServer
from tests.inference.test_worker import predict, start_worker

TEXT = "incident-text"


@pytest.fixture
def worker(trained_registry: Path, tmp_path: Path) -> Iterator[ThreadedServer]:
    server = start_worker(trained_registry, tmp_path)  # serves a copy in tmp_path / "registry"
    yield server
    server.stop()


@pytest.fixture
def registry(worker: ThreadedServer, tmp_path: Path) -> LocalRegistry:
    return LocalRegistry(tmp_path / "registry")


@pytest.fixture(scope="module")
def untouched_worker(trained_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    """One worker for the tests that must change nothing."""
    server = start_worker(trained_registry, tmp_path_factory.mktemp("untouched"))
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def served(http: httpx.Client, url: str) -> str:
    return http.get(f"{url}/model/version").json()["models"][TEXT]


def corrupt(path: Path) -> None:
    path.write_bytes(b"not the weights the manifest promised")


def delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("damage", [corrupt, delete], ids=["corrupt", "deleted"])
def test_a_rollback_whose_target_cannot_load_changes_nothing(worker, registry, http,
                                                             damage: Callable[[Path], None]) -> None:
    loaded = http.post(f"{worker.url}/v1/models/{TEXT}/versions/v2:load", json={"expect": "v1", "actor": "U1"})
    assert loaded.status_code == 200 and served(http, worker.url) == "v2"
    before = (registry.current(TEXT), registry.deploy_log(TEXT))
    for file_name in registry.manifest(TEXT, "v1").files:
        damage(registry.root / TEXT / "v1" / file_name)

    answer = http.post(f"{worker.url}/v1/models/{TEXT}:rollback", json={"steps": 1, "expect": "v2", "actor": "U2"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "MODEL_422" and "v1" in answer.json()["error"]
    assert served(http, worker.url) == "v2"
    assert predict(http, worker.url, "disk full on the scorer").json()["model_version"] == "v2"
    assert (registry.current(TEXT), registry.deploy_log(TEXT)) == before


def test_a_load_that_cannot_load_changes_nothing(worker, registry, http) -> None:
    before = (registry.current(TEXT), registry.deploy_log(TEXT))
    for file_name in registry.manifest(TEXT, "v2").files:
        corrupt(registry.root / TEXT / "v2" / file_name)
    answer = http.post(f"{worker.url}/v1/models/{TEXT}/versions/v2:load")
    assert answer.status_code == 422 and answer.json()["code"] == "MODEL_422"
    assert served(http, worker.url) == "v1"
    assert (registry.current(TEXT), registry.deploy_log(TEXT)) == before


async def test_a_stale_expect_is_409_and_the_deploy_log_is_shown(worker, registry) -> None:
    async with HttpWorkerClient(worker.url, timeout=60) as client:
        assert await client.load_version(TEXT, "v2", expect="v1", actor="U1") == "v2"
        before = registry.deploy_log(TEXT)
        with pytest.raises(WorkerConflict) as rollback:
            await client.rollback(TEXT, expect="v1", actor="U2")
        assert rollback.value.status == 409 and rollback.value.code == "VERSION_CHANGED"
        assert "v1" in str(rollback.value) and "v2" in str(rollback.value)
        with pytest.raises(WorkerConflict):
            await client.load_version(TEXT, "v1", expect="v1", actor="U2")
        assert registry.deploy_log(TEXT) == before

        info = await client.model(TEXT)
        assert info["version"] == "v2" and [v["version"] for v in info["versions"]] == ["v2", "v1"]
        assert [(d["version"], d["actor"], d["action"], d["steps"]) for d in info["deploys"]] == [
            ("v1", "test", "promote", 0), ("v2", "U1", "promote", 0)]
        assert all(d["deployed_at"] for d in info["deploys"]) and info["serving_history"] == ["v1", "v2"]

        assert await client.rollback(TEXT, 1, expect="v2", actor="U2") == "v1"
        assert (await client.model(TEXT))["serving_history"] == ["v1"]
        with pytest.raises(WorkerRejected) as nothing_earlier:
            await client.rollback(TEXT, expect="v1")
        assert nothing_earlier.value.status == 422 and not isinstance(nothing_earlier.value, WorkerConflict)
        assert registry.current(TEXT) == "v1"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/v1/models/{TEXT}:rollback", {"steps": 1, "expect": 2}),
        (f"/v1/models/{TEXT}:rollback", {"steps": 1, "expect": ""}),
        (f"/v1/models/{TEXT}:rollback", {"steps": 1, "actor": ["U1"]}),
        (f"/v1/models/{TEXT}:rollback", {"steps": 1, "actor": " "}),
        (f"/v1/models/{TEXT}:rollback", ["steps", 1]),
        (f"/v1/models/{TEXT}/versions/v2:load", {"expect": False}),
        (f"/v1/models/{TEXT}/versions/v2:load", {"actor": "x" * 201}),
        (f"/v1/models/{TEXT}/versions/v2:load", "v1"),
    ],
)
def test_guards_of_the_wrong_type_are_400(untouched_worker, http, path: str, body: object) -> None:
    answer = http.post(f"{untouched_worker.url}{path}", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "REQ_001"
    assert served(http, untouched_worker.url) == "v1"
