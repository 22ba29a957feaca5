"""Metrics and Canary from the headline's Investigate menu, end to end: the real app over HTTP,
the local Slack server, moto seeded with the service's health metrics and a canary that is
clearly worse than stable, and a worker on loopback that reads every chart as a step up."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from runbooks.diagnostics.metric_chart import HEIGHT, WIDTH
from sandbox.aws_seed import (
    CANARY_VERSION,
    HEALTH_METRIC_NAMES,
    HEALTH_NAMESPACE,
    STABLE_VERSION,
    VERSION_DIMENSION,
    SeededProduction,
    seed_investigations,
    seed_metrics,
)
from storage.models import TimelineEvent
from tests.scenarios.actions_support import ALICE, declare, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text
from tests.scenarios.test_investigate import finding, investigate_menu

HEALTH = "\n".join(
    f"      {role}: {{namespace: {HEALTH_NAMESPACE}, name: {name}, dimensions: {{ServiceName: multimodal-api}}}}"
    for role, name in HEALTH_METRIC_NAMES.items())
CONFIG = f"""
services:
  multimodal-api:
    ecs: {{cluster: multimodal-prod, service: multimodal-api, min: 1, max: 8}}
    models: [chart-vit]
    metric: {{namespace: AWS/ApplicationELB, name: TargetResponseTime, dimensions: {{ServiceName: multimodal-api}}}}
    health_metrics:
{HEALTH}
    canary: {{dimension: {VERSION_DIMENSION}, canary: "{CANARY_VERSION}", stable: "{STABLE_VERSION}"}}
"""


class ChartReader:
    """The worker's predict endpoint on 127.0.0.1: every chart reads as ``step_up``; the charts it got are kept."""

    def __init__(self) -> None:
        self.charts = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                if self.path != "/v1/models/chart-vit:predict":
                    self._answer(404, {"error": "no such model", "code": "MODEL_NOT_FOUND"})
                    return
                owner.charts += len(body["instances"])
                self._answer(200, {"model_version": "v7", "predictions": [
                    {"label": "step_up", "confidence": 0.87, "scores": {"step_up": 0.87}} for _ in body["instances"]]})

            def do_GET(self) -> None:
                self._answer(404, {"error": "not here"})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def chart_reader() -> Iterator[ChartReader]:
    reader = ChartReader()
    yield reader
    reader.close()


def test_metrics_and_canary_from_the_menu_post_their_verdicts_charts_and_timeline_data(
        bot_factory, production: SeededProduction, aws_env: str, slack, http, db: Database, tmp_path: Path,
        chart_reader: ChartReader) -> None:
    now = datetime.now(UTC)
    seed_metrics(aws_env, now=now)  # the service's own metric, charted beside the health metrics
    seed_investigations(aws_env, production, now=now)
    config = tmp_path / "metrics.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), aws_endpoint_url=aws_env, worker_url=chart_reader.url)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title="p95 latency over 1s on multimodal-api after the 1.6.0 canary")
    headline = slack.pins(channel)[0]
    assert [o["value"] for o in investigate_menu(headline)["options"]] == ["tasks", "metrics", "canary"]

    alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts, block_id=BlockId.HEADLINE_ACTIONS,
                 value="metrics")
    metrics = wait_for(lambda: finding(slack, channel, "metrics:"), timeout=60, what="the metrics finding")
    text = all_text(metrics)
    assert "SLOs missed" in text and "p95 latency" in text
    assert "over the critical line 1,000 ms" in text  # seed 000's P95 over 1 s
    assert "chart-vit reads" in text and "step_up" in text
    chart = wait_for(lambda: next((m for m in slack.messages(channel) if m.files
                                   and m.files[0].get("name", "").startswith("metrics-incident")), None),
                     what="the metrics chart set")
    png = slack.file_content(chart.files[0]["id"]) or b""
    with Image.open(io.BytesIO(png)) as image:
        # The service's metric, p95, p99, 5xx rate, requests, CPU, memory, GPU: two panels a row.
        assert image.format == "PNG" and image.size == (2 * WIDTH + 2, 4 * HEIGHT + 6)
    assert chart_reader.charts == 8

    alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts, block_id=BlockId.HEADLINE_ACTIONS,
                 value="canary")
    canary = wait_for(lambda: finding(slack, channel, "canary:"), timeout=60, what="the canary finding")
    text = all_text(canary)
    assert "canary: roll back" in text and "stable's" in text
    assert f"Canary (`{CANARY_VERSION}`)" in text and f"Stable (`{STABLE_VERSION}`)" in text

    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")
                            .order_by(TimelineEvent.id)).all()
    kept = {row.data["step"]: row.data for row in rows if row.data.get("kind") == "investigation"}
    assert set(kept) == {"metrics", "canary"}
    assert kept["metrics"]["verdict"] == "critical" and kept["metrics"]["file_id"]
    data = kept["metrics"]["data"]
    assert data["checks"]["p95_ms"]["state"] == "critical" and data["slo_met"] is False
    assert data["charts"]["p95"] == {"pattern": "step_up", "confidence": 0.87}
    assert data["panels"][0] == "alarm" and data["slo"]["source"] == "default"
    assert kept["canary"]["verdict"] == "critical" and kept["canary"]["data"]["decision"] == "roll_back"
    assert kept["canary"]["data"]["canary"]["p95_ms"] > 3 * kept["canary"]["data"]["stable"]["p95_ms"]
