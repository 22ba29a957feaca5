"""Data quality from the headline's Investigate menu, end to end: the real app over HTTP, the local
Slack server, moto seeded with the demo's feature metrics (one stale feature, one with too many
nulls), and a feature store health URL and /stats page served on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from sandbox.aws_seed import (
    DATA_QUALITY_SERVICE,
    FEATURE_NAMESPACE,
    FEATURES,
    FRESHNESS_METRIC,
    NULL_HEAVY_FEATURE,
    NULL_RATE_METRIC,
    STALE_FEATURE,
    seed_data_quality,
)
from storage.models import TimelineEvent
from tests.loopback_http import Answer, LoopbackHttp, json_answer
from tests.scenarios.actions_support import ALICE, declare, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text
from tests.scenarios.test_investigate import finding, investigate_menu


def config_yaml(store: LoopbackHttp) -> str:
    return f"""
services:
  {DATA_QUALITY_SERVICE}:
    data_quality:
      namespace: {FEATURE_NAMESPACE}
      freshness_metric: {FRESHNESS_METRIC}
      null_rate_metric: {NULL_RATE_METRIC}
      dimensions: {{ServiceName: {DATA_QUALITY_SERVICE}}}
      features: [{", ".join(f.name for f in FEATURES)}]
      max_age: 1h
      probe_url: {store.url("/health")}
      stats_url: {store.url("/stats")}
"""


def test_data_quality_from_the_headline_names_the_stale_feature_and_keeps_the_numbers(
        bot_factory, aws_env: str, slack, http, db: Database, tmp_path: Path) -> None:
    seed_data_quality(aws_env, now=datetime.now(UTC))
    with LoopbackHttp() as store:
        store.answers["/health"] = json_answer({"status": "ok"})
        updated = datetime.now(UTC) - timedelta(hours=30)
        store.answers["/stats"] = json_answer({"normalization_context": {"version": "ctx-2024-06-01",
                                                                         "updated_at": updated.isoformat()}})
        config = tmp_path / "data-quality.yaml"
        config.write_text(config_yaml(store))
        bot = bot_factory(config_path=str(config), aws_endpoint_url=aws_env)
        alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
        channel = declare(alice, slack, db, title="feature freshness alarm on scoring-api")
        headline = slack.pins(channel)[0]
        assert [o["value"] for o in investigate_menu(headline)["options"]] == ["data_quality"]

        response = alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts,
                                block_id=BlockId.HEADLINE_ACTIONS, value="data_quality")
        assert response.status_code == 200
        message = wait_for(lambda: finding(slack, channel, "data quality:"), timeout=30,
                           what="the data quality finding")
        text = all_text(message)
        assert f"feature {STALE_FEATURE} is 3h" in text and "stale (limit 1h)" in text
        assert "1 feature over 5% nulls" in text and "normalization context 1d 6h old (limit 1d)" in text
        assert f"{NULL_HEAVY_FEATURE}" in text and "up (HTTP 200" in text and "ctx-2024-06-01" in text
        assert sorted(path for path, _ in store.requests) == ["/health", "/stats"]

        files = [m for m in slack.messages(channel) if m.files]
        assert files, "the per-feature table comes as a file"
        table = (slack.file_content(files[-1].files[0]["id"]) or b"").decode()
        assert all(f.name in table for f in FEATURES) and "feature" in table.splitlines()[2]

        # The feature store goes down: the next run is critical and says P1.
        store.answers["/health"] = Answer(status=503, body=b"no healthy replicas")
        alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts,
                     block_id=BlockId.HEADLINE_ACTIONS, value="data_quality")
        down = wait_for(lambda: finding(slack, channel, "feature store down"), timeout=30,
                        what="the finding with the feature store down")
        assert "raise the incident to P1 or above" in all_text(down)

    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")
                            .order_by(TimelineEvent.id)).all()
    kept = [row.data for row in rows if row.data.get("kind") == "investigation"]
    assert [row["step"] for row in kept] == ["data_quality", "data_quality"]
    first, second = kept
    assert first["verdict"] == "warning" and first["file_id"]
    assert first["data"]["worst_feature"] == STALE_FEATURE and first["data"]["over_null_rate"] == [NULL_HEAVY_FEATURE]
    stale = next(f for f in first["data"]["features"] if f["feature"] == STALE_FEATURE)
    assert stale["verdict"] == "warning" and stale["age_seconds"] >= 3 * 3600
    assert first["data"]["normalization_context"]["version"] == "ctx-2024-06-01"
    assert "suggested_severity" not in first["data"]
    assert second["verdict"] == "critical" and second["data"]["suggested_severity"] == "P1"
    assert second["data"]["feature_store"] == {"url": second["data"]["feature_store"]["url"], "up": False,
                                               "status": 503, "detail": second["data"]["feature_store"]["detail"]}
