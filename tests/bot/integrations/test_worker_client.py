"""The bot's worker client against a real worker, and against nothing at all."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.ports.worker import WorkerRejected, WorkerUnavailable
from bot.integrations.worker import HttpWorkerClient
from runbooks.classes import RUNBOOK_CLASSES
from tests.inference.test_worker import start_worker
from tests.loopback_http import Answer, LoopbackHttp, json_answer


@pytest.fixture
def worker(trained_registry, tmp_path):
    server = start_worker(trained_registry, tmp_path)
    yield server
    server.stop()


async def test_client_round_trip(worker) -> None:
    async with HttpWorkerClient(worker.url) as client:
        assert await client.ready()
        statuses = {m.name: m for m in await client.models()}
        assert statuses["incident-text"].ready and statuses["incident-text"].version == "v1"
        prediction = await client.classify_text("checkout p99 at 3s, upstream timeouts")
        assert prediction.label in RUNBOOK_CLASSES and prediction.model_version == "v1"
        assert await client.load_version("incident-text", "v2") == "v2"
        assert await client.rollback("incident-text") == "v1"
        # The client is the bot's: its predictions are probes, kept out of the production log.
        assert await client.recent_predictions("incident-text") == []
        await client.predict("incident-text", [{"text": "disk full on the feature store"}], probe=False)
        assert len(await client.recent_predictions("incident-text")) == 1
        with pytest.raises(WorkerRejected) as info:
            await client.classify_text("   ")
        assert info.value.code == "DOC_001" and info.value.status == 400
        with pytest.raises(WorkerRejected) as missing:
            await client.classify_text("x", model="nope")
        assert missing.value.status == 404


async def test_an_absent_worker_is_unavailable_not_a_crash() -> None:
    async with HttpWorkerClient("http://127.0.0.1:1", timeout=2) as client:
        assert not await client.ready()
        with pytest.raises(WorkerUnavailable, match="unreachable"):
            await client.classify_text("anything")


async def test_an_evaluation_may_take_longer_than_the_clients_other_calls() -> None:
    # Scoring a version takes longer than any other call; its callers bound it themselves.
    score = {"version": "v2", "golden_version": "v2", "accuracy": 0.9, "macro_f1": 0.88, "examples": 40}
    with LoopbackHttp() as worker:
        worker.answers["/v1/models"] = Answer(status=200, body=b'{"models": []}', delay=1.0)
        worker.answers["/v1/models/incident-text/versions/v2:evaluate"] = replace(json_answer(score), delay=1.0)
        async with HttpWorkerClient(worker.base_url, timeout=0.3) as client:
            with pytest.raises(WorkerUnavailable, match="did not answer in time"):
                await client.models()
            assert await client.evaluate("incident-text", "v2") == score
