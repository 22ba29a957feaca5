"""Diagnose end to end: the local Slack server, moto with a latency step, and a real worker with
quick models (incident-text v1 and v2, chart-vit, fusion)."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from bot.sandbox.runner import ThreadedServer
from bot.slack.ids import ActionId
from inference.app import build_worker
from inference.settings import WorkerSettings
from storage.models import TimelineEvent
from tests.inference.moto_server import moto_client
from tests.scenarios.actions_support import ALICE, declare, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text

CONFIG = """
services:
  multimodal-api:
    models: [incident-text, chart-vit, fusion]
    metric:
      namespace: Multimodal/Prod
      name: inference_latency_seconds
      dimensions: {ServiceName: multimodal-api}
"""
STEPS = 7


def put_latency_step(endpoint: str) -> None:
    """An hour and a half of P95 latency, flat at 0.3 s, stepping up to 1.4 s for the last half hour."""
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    data = [{"MetricName": "inference_latency_seconds",
             "Dimensions": [{"Name": "ServiceName", "Value": "multimodal-api"}],
             "Timestamp": end - timedelta(minutes=90 - i), "Value": 0.3 if i < 60 else 1.4} for i in range(90)]
    cloudwatch = moto_client(endpoint, "cloudwatch")
    for start in range(0, len(data), 20):
        cloudwatch.put_metric_data(Namespace="Multimodal/Prod", MetricData=data[start:start + 20])


@pytest.fixture
def worker(fusion_registry: Path, tmp_path: Path):
    copy = tmp_path / "registry"
    shutil.copytree(fusion_registry, copy)
    server = ThreadedServer(build_worker(WorkerSettings(model_registry=str(copy),
                                                        model_cache_dir=str(tmp_path / "cache")))).start(timeout=180)
    # v2 serves and v1 served before it: the golden set compares the two.
    httpx.post(f"{server.url}/v1/models/incident-text/versions/v2:load", timeout=60).raise_for_status()
    yield server
    server.stop()


@pytest.fixture
def diagnose_bot(bot_factory, aws_env: str, tmp_path: Path):
    config = tmp_path / "diagnose.yaml"
    config.write_text(CONFIG)
    put_latency_step(aws_env)

    def start(worker_url: str):
        return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, worker_url=worker_url)

    return start


def diagnostics_message(slack, channel: str):
    return next((m for m in slack.messages(channel) if "Diagnostics for incident" in all_text(m)), None)


def finished(slack, channel: str):
    message = diagnostics_message(slack, channel)
    return message if message is not None and "done, overall" in all_text(message) else None


def test_diagnose_runs_every_check_and_shows_the_evidence(diagnose_bot, worker, slack, http, db: Database,
                                                          aws_env) -> None:
    bot = diagnose_bot(worker.url)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title="P95 latency above 1s on multimodal-api after deploy")
    headline = slack.pins(channel)[0]
    # Some traffic for drift and low-confidence to look at.
    texts = ["P95 latency is 2.4s on the scoring API", "error rate 12% on /classify", "model accuracy dropped"] * 12
    httpx.post(f"{worker.url}/v1/models/incident-text:predict",
               json={"instances": [{"text": t} for t in texts]}, timeout=60).raise_for_status()

    alice.click(ActionId.DIAGNOSE, channel=channel, message_ts=headline.ts)
    message = wait_for(lambda: finished(slack, channel), timeout=120, what="the diagnostics to finish")
    text = all_text(message)
    # One message, updated as each step finished.
    earlier = [all_text(version) for version in message.history]
    assert any(f"1/{STEPS}" in version for version in earlier) and any(f"3/{STEPS}" in version for version in earlier)
    assert "worker: serving" in text and "incident-text v2" in text
    assert "golden set:" in text and "incident-text v1: accuracy" in text and "Δ accuracy" in text
    assert "drift:" in text and "latency:" in text and "batch 16" in text and "low confidence:" in text
    assert "chart-vit reads it as" in text and "triage:" in text and "mechanism" in text

    charts = [m for m in slack.messages(channel) if m.files]
    assert len(charts) == 1
    png = slack.file_content(charts[0].files[0]["id"])
    assert png is not None and Image.open(io.BytesIO(png)).format == "PNG"

    with db.engine.connect() as conn:
        steps = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")).all()
    assert sorted(e.data["step"] for e in steps) == sorted(
        ["worker", "golden", "drift", "latency", "low_confidence", "chart", "triage"])
    published = moto_client(aws_env, "cloudwatch").list_metrics(Namespace="IncidentBot/Diagnostics")["Metrics"]
    drift_step = next(e for e in steps if e.data["step"] == "drift")
    assert drift_step.data["verdict"] == "unavailable" or [m["MetricName"] for m in published] == ["drift_score"]


def test_with_the_worker_down_the_model_steps_say_so_and_the_chart_still_comes(diagnose_bot, slack, http,
                                                                                db: Database) -> None:
    bot = diagnose_bot("http://127.0.0.1:9")
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db)
    assert "Diagnosing" in alice.command("diagnose", channel=channel).json()["text"]
    message = wait_for(lambda: finished(slack, channel), timeout=60, what="the diagnostics to finish")
    text = all_text(message)
    assert "worker: not ready or unreachable" in text
    assert text.count("the model worker could not answer") >= 3
    assert [m for m in slack.messages(channel) if m.files], "the chart comes from CloudWatch, not the worker"
