"""The bot's calls carry its correlation id to the worker (`X-Request-Id`), which logs its side
of the call under the same id: a prediction is found from the alert that asked for it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.integrations.worker import HttpWorkerClient
from observability import correlation
from observability.logs import LogSettings, configure_logging
from tests.inference.test_worker import start_worker


@pytest.fixture
def json_log(restore_logging):
    out = io.StringIO()
    configure_logging(LogSettings(log_format="json", log_level="INFO"), out)
    return out


async def test_a_prediction_the_bot_asks_for_is_logged_under_the_bots_id(trained_registry: Path, tmp_path: Path,
                                                                          json_log: io.StringIO) -> None:
    server = start_worker(trained_registry, tmp_path)
    try:
        async with HttpWorkerClient(server.url) as client:
            with correlation.bound("pagerduty:QCORR1"):
                prediction = await client.classify_text("p99 latency doubled after the deploy")
            await client.ready()  # outside any work: the worker does not log it
    finally:
        server.stop()
    assert prediction.label
    worker_lines = [json.loads(line) for line in json_log.getvalue().splitlines()
                    if json.loads(line)["logger"] == "inference.http"]
    assert [line["correlation_id"] for line in worker_lines] == ["pagerduty:QCORR1"]
    assert worker_lines[0]["message"].startswith("POST /v1/models/incident-text:predict 200 in ")
