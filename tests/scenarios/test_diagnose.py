"""Diagnose end to end: the local Slack server, moto with a latency step, and a real worker with
quick models (incident-text v1 and v2, chart-vit, fusion)."""

from __future__ import annotations

import asyncio
import io
import random
import shutil
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from bot.slack.gateway import SlackSdkGateway, build_web_client
from bot.slack.ids import ActionId, CallbackId
from inference.datasets.text import load_split
from inference.registry import LocalRegistry
from inference.training.run import train_text
from runbooks.diagnostics.metric_chart import ChartSpec, render_metric_chart
from storage.models import TimelineEvent
from tests.bot.integrations.test_cloudwatch import put_latency_step
from tests.inference.moto_server import moto_client
from tests.inference.test_worker import start_worker
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
OFF_TOPIC = ["what's for lunch in the canteen today", "the quarterly marketing offsite is moved to friday",
             "please water the office plants while I am away", "happy birthday to the whole design team"]


@pytest.fixture(scope="module")
def diagnose_registry(fusion_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fusion_registry plus incident-text v3, trained on a twentieth of the texts: clearly worse."""
    root = tmp_path_factory.mktemp("diagnose-registry")
    shutil.copytree(fusion_registry, root, dirs_exist_ok=True)
    manifest, _ = train_text(LocalRegistry(root), quick=True, seed=1, train_fraction=1 / 20)
    assert manifest.version == "v3"
    return root


@pytest.fixture
def worker(diagnose_registry: Path, tmp_path: Path):
    server = start_worker(diagnose_registry, tmp_path, timeout=180)
    # The worse v3 goes into service after v1: the golden set compares the two on the same data.
    httpx.post(f"{server.url}/v1/models/incident-text/versions/v3:load", timeout=60).raise_for_status()
    yield server
    server.stop()


@pytest.fixture
def diagnose_bot(bot_factory, aws_env: str, tmp_path: Path):
    config = tmp_path / "diagnose.yaml"
    config.write_text(CONFIG)
    put_latency_step(aws_env, end=datetime.now(UTC).replace(second=0, microsecond=0))

    def start(worker_url: str, diagnose_timeout_factor: float = 4.0):
        # Generous step limits by default: these tests read what each step found, and a busy CI
        # machine must not turn a slow golden-set evaluation into a timeout.
        return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, worker_url=worker_url,
                           diagnose_timeout_factor=diagnose_timeout_factor)

    return start


def diagnostics_messages(slack, channel: str) -> list:
    return [m for m in slack.messages(channel) if "Diagnostics for incident" in all_text(m)]


def finished(slack, channel: str, runs: int = 1):
    messages = diagnostics_messages(slack, channel)
    done = [m for m in messages if "done, overall" in all_text(m)]
    return done[-1] if len(done) >= runs else None


def send_traffic(worker_url: str, texts: list[str]) -> None:
    """Production traffic (not the bot's probes), which the worker logs for drift."""
    for start in range(0, len(texts), 50):
        httpx.post(f"{worker_url}/v1/models/incident-text:predict",
                   json={"instances": [{"text": t} for t in texts[start:start + 50]]}, timeout=60).raise_for_status()


def drift_verdicts(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")
                            .order_by(TimelineEvent.id)).all()
    return [row.data["verdict"] for row in rows if row.data["step"] == "drift"]


def test_diagnose_runs_every_check_and_shows_the_evidence(diagnose_bot, worker, slack, http, db: Database,
                                                          aws_env) -> None:
    bot = diagnose_bot(worker.url)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title="P95 latency above 1s on multimodal-api after deploy")
    held_out = load_split("heldout")
    send_traffic(worker.url, [e.text for e in random.Random(0).sample(held_out, 200)])

    alice.click(ActionId.DIAGNOSE, channel=channel, message_ts=slack.pins(channel)[0].ts)
    message = wait_for(lambda: finished(slack, channel), timeout=180, what="the diagnostics to finish")
    text = all_text(message)
    # One message, updated as each step finished.
    earlier = [all_text(version) for version in message.history]
    assert any(f"1/{STEPS}" in version for version in earlier) and any(f"3/{STEPS}" in version for version in earlier)
    assert "worker: serving" in text and "incident-text v3" in text
    # The deliberately worse v3 against v1, on v3's golden set.
    assert "incident-text v1: accuracy" in text and "on the same set" in text and "F1 drop over" in text
    assert "does worse than v1 on the same golden set: consider a model rollback" in text
    assert "chart-vit v1: accuracy" in text and "fusion v1: accuracy" in text  # every model with a golden set
    assert "drift: 0." in text and "latency:" in text and "batch 16" in text and "low confidence:" in text
    assert "chart-vit reads it as" in text and "triage:" in text and "mechanism" in text
    assert ActionId.OPEN_ROLLBACK.value in str(message.blocks)

    charts = [m for m in slack.messages(channel) if m.files]
    assert len(charts) == 1
    png = slack.file_content(charts[0].files[0]["id"])
    assert png is not None and Image.open(io.BytesIO(png)).format == "PNG"
    with db.engine.connect() as conn:
        steps = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")).all()
    assert sorted(e.data["step"] for e in steps) == sorted(
        ["worker", "golden", "drift", "latency", "low_confidence", "chart", "triage"])
    assert drift_verdicts(db) == ["ok"]
    published = moto_client(aws_env, "cloudwatch").list_metrics(Namespace="IncidentBot/Diagnostics")["Metrics"]
    assert [m["MetricName"] for m in published] == ["drift_score"]

    # A shifted batch of traffic: one class and text from nowhere near the training data.
    security = [e.text for e in held_out if e.label == "security"][:60]
    off_topic = [f"{t} #{i}" for i in range(15) for t in OFF_TOPIC]
    send_traffic(worker.url, security + off_topic)
    alice.command("diagnose", channel=channel)
    wait_for(lambda: finished(slack, channel, runs=2), timeout=180, what="the second run to finish")
    assert drift_verdicts(db)[0] == "ok" and drift_verdicts(db)[1] in ("warning", "critical")


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


class SilentServer:
    """A worker that accepts connections and never answers: hung, or far too slow."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._hold, daemon=True).start()

    def _hold(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)
            self.accepted += 1

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


def test_with_the_worker_hung_each_step_gives_up_in_its_time_and_the_rest_of_the_bot_works(
        diagnose_bot, slack, http, db: Database) -> None:
    silent = SilentServer()
    try:
        bot = diagnose_bot(silent.url, diagnose_timeout_factor=0.25)
        alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
        channel = declare(alice, slack, db)
        assert "Diagnosing" in alice.command("diagnose", channel=channel).json()["text"]
        # While every model step waits on the hung worker, people go on working.
        assert "Status update posted" in alice.command("status Looking at the worker", channel=channel).json()["text"]
        assert alice.click(ActionId.ACKNOWLEDGE, channel=channel, message_ts=db.incident(1).headline_ts
                           ).status_code == 200
        assert finished(slack, channel) is None, "the diagnostics were still running meanwhile"
        wait_for(lambda: db.incident(1).status == "acknowledged", what="the acknowledgement")

        message = wait_for(lambda: finished(slack, channel), timeout=90, what="the diagnostics to finish")
        text = all_text(message)
        for step in ("worker", "golden", "drift", "low_confidence", "triage"):
            assert f"{step}: no answer within" in text or f"{step}: the model worker could not answer" in text, text
        assert silent.accepted > 0, "the worker was asked"
    finally:
        silent.close()


def _gateway(slack) -> SlackSdkGateway:
    return SlackSdkGateway(build_web_client(token="xoxb-test-token", base_url=slack.base_url), post_interval=0)


def paste(slack, channel: str, text: str) -> dict:
    """A message in the channel that someone will run the shortcut on."""
    posted = asyncio.run(_gateway(slack).post(channel, text=text))
    return {"ts": posted.ts, "text": text}


def test_the_shortcut_reads_a_pasted_text_and_a_pasted_chart(diagnose_bot, worker, slack, http,
                                                             db: Database) -> None:
    bot = diagnose_bot(worker.url)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db)
    text = paste(slack, channel, "P95 latency is 2.4s on the scoring API since the deploy")
    assert alice.client.shortcut(CallbackId.DIAGNOSTIC_SHORTCUT, channel=channel, message=text).status_code == 200
    reply = wait_for(lambda: [m for m in slack.messages(channel) if "Diagnostic inference" in all_text(m)],
                     what="the threaded reading")[-1]
    assert reply.thread_ts == text["ts"] and "*incident-text* (v3): *" in all_text(reply)

    # A chart pasted with words: the image is fetched from Slack and read by chart-vit and fusion.
    png = render_metric_chart([(datetime(2026, 11, 23, 10, i, tzinfo=UTC), 0.3 if i < 40 else 1.4)
                               for i in range(60)], ChartSpec("p95 latency"))
    asyncio.run(_gateway(slack).upload_file(channel, filename="latency.png", content=png,
                                            comment="latency after deploy"))
    pasted = next(m for m in slack.messages(channel) if m.files)
    message = {"ts": pasted.ts, "text": pasted.text, "files": pasted.files}
    alice.client.shortcut(CallbackId.DIAGNOSTIC_SHORTCUT, channel=channel, message=message)
    reading = wait_for(lambda: [m for m in slack.messages(channel)
                                if m.thread_ts == pasted.ts and "chart-vit" in all_text(m)], what="the chart reading")
    body = all_text(reading[-1])
    assert "`latency.png`: *chart-vit* (v1): *" in body and "*fusion* (v1): *" in body and "mechanism" in body


def test_the_shortcut_with_the_worker_down_says_so_in_the_thread(diagnose_bot, slack, http, db: Database) -> None:
    bot = diagnose_bot("http://127.0.0.1:9")
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db)
    message = paste(slack, channel, "error rate 12% on /classify")
    alice.client.shortcut(CallbackId.DIAGNOSTIC_SHORTCUT, channel=channel, message=message)
    reply = wait_for(lambda: [m for m in slack.messages(channel) if "Diagnostic inference" in all_text(m)],
                     what="the threaded answer")[-1]
    assert "could not read the text" in all_text(reply) and "unreachable" in all_text(reply)
