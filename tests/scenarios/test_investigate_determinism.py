"""Determinism from Slack, end to end: the real app over HTTP, the local Slack server, and a real
worker with quick incident-text models (v1 serving, v2 published).

The first run records the serving version's reference, the second compares with it, and a run
after promoting v2 records v2's own.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from storage.models import ReplayReference, TimelineEvent
from tests.inference.test_worker import start_worker
from tests.scenarios.actions_support import ALICE, declare, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text
from tests.scenarios.test_investigate import finding, investigate_menu

PINNED = ["P95 latency 2.4s on the scoring API, requests timing out",
          "DOC_001 corrupt document uploads rejected at a high rate",
          "drift score 0.31 on the document classifier, confidence sliding",
          "accuracy dropped to 0.82 on the golden set after the new model version",
          "new ECS tasks keep failing ELB health checks during the rollout",
          "no healthy targets behind the load balancer, service completely down",
          "stolen API key used from an unknown IP",
          "normalization context older than 24h, same input producing different scores"]
CONFIG = "services:\n  multimodal-api:\n    models: [incident-text]\n    determinism:\n" \
         "      model: incident-text\n      tolerance: 1e-6\n      inputs:\n" \
         + "".join(f"        - {text}\n" for text in PINNED)


@pytest.fixture
def worker(trained_registry: Path, tmp_path: Path):
    server = start_worker(trained_registry, tmp_path)
    yield server
    server.stop()


def test_determinism_records_a_reference_per_version_and_compares_later_runs_with_it(
        bot_factory, worker, slack, http, db: Database, tmp_path: Path) -> None:
    config = tmp_path / "determinism.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), worker_url=worker.url)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title="same input producing different scores on the scoring engine")
    headline = slack.pins(channel)[0]
    assert "determinism" in [o["value"] for o in investigate_menu(headline)["options"]]

    def investigate(words: str):
        response = alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts,
                                block_id=BlockId.HEADLINE_ACTIONS, value="determinism")
        assert response.status_code == 200
        return all_text(wait_for(lambda: finding(slack, channel, words), timeout=60, what=f"finding: {words}"))

    first = investigate("reference recorded now (incident-text v1")
    assert "8/8 identical across two replays" in first and "weights" in first and "old)" in first
    with db.engine.connect() as conn:
        [reference] = conn.execute(select(ReplayReference)).all()
    assert (reference.model, reference.version, reference.input_count) == ("incident-text", "v1", 8)
    served = httpx.post(f"{worker.url}/v1/models/incident-text:predict",
                        json={"instances": [{"text": t} for t in PINNED]}, timeout=30).json()["predictions"]
    assert [o["label"] for o in reference.outputs] == [p["label"] for p in served]
    assert reference.outputs[0]["scores"] == served[0]["scores"], "the reference is what the worker answers"

    second = investigate("identical across two replays and the reference (incident-text v1")
    assert "8/8" in second and "Against the reference recorded" in second

    httpx.post(f"{worker.url}/v1/models/incident-text/versions/v2:load", timeout=60).raise_for_status()
    third = investigate("reference recorded now (incident-text v2")
    assert "serving since" in third

    with db.engine.connect() as conn:
        versions = conn.execute(select(ReplayReference.version).order_by(ReplayReference.id)).scalars().all()
        events = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")
                              .order_by(TimelineEvent.id)).all()
    assert versions == ["v1", "v2"]
    kept = [row.data for row in events if row.data.get("step") == "determinism"]
    assert [k["verdict"] for k in kept] == ["ok", "ok", "ok"]
    assert [k["data"]["reference"]["status"] for k in kept] == ["recorded_now", "compared", "recorded_now"]
    assert [k["data"]["version"] for k in kept] == ["v1", "v1", "v2"]
    replays = kept[1]["data"]["replays"]
    assert (replays["differ"], replays["label_changes"]) == (0, 0) and replays["max_diff"] <= 1e-6
    assert kept[1]["data"]["inputs"] == 8
