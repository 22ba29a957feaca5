"""Investigate from Slack, end to end: the real app over HTTP, the local Slack server, and moto
seeded with the demo's log group, stopped tasks and target group."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from sandbox.aws_seed import LOG_GROUP, SeededProduction, seed_investigations
from storage.models import TimelineEvent
from tests.scenarios.actions_support import ALICE, declare, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text

CONFIG = f"""
services:
  multimodal-api:
    ecs: {{cluster: multimodal-prod, service: multimodal-api, min: 1, max: 8}}
    logs: {{group: {LOG_GROUP}}}
    load_balancer: {{target_group: no-such-target-group}}
"""


def investigate_menu(message) -> dict:
    block = next(b for b in message.blocks or [] if b.get("block_id") == BlockId.HEADLINE_ACTIONS.value)
    return next(e for e in block["elements"] if e.get("action_id") == ActionId.INVESTIGATE.value)


def finding(slack, channel: str, words: str):
    return next((m for m in slack.messages(channel)
                 if "Investigation for incident" in all_text(m) and words in all_text(m)), None)


def test_investigate_logs_posts_the_error_codes_and_a_bad_target_group_degrades_one_choice(
        bot_factory, production: SeededProduction, aws_env: str, slack, http, db: Database, tmp_path: Path) -> None:
    seeded = seed_investigations(aws_env, production, now=datetime.now(UTC))
    config = tmp_path / "investigate.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), aws_endpoint_url=aws_env)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title="5xx errors on multimodal-api")
    headline = slack.pins(channel)[0]
    menu = investigate_menu(headline)
    assert [o["value"] for o in menu["options"]] == ["logs", "tasks", "targets"]

    response = alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts,
                            block_id=BlockId.HEADLINE_ACTIONS, value="logs")
    assert response.status_code == 200
    message = wait_for(lambda: finding(slack, channel, "ERROR lines"), timeout=30, what="the logs finding")
    text = all_text(message)
    assert "DOC_001" in text and "SYS_001" in text and "By error code" in text
    assert [version for version in message.history if "Investigating incident" in all_text(version)], \
        "the finding replaces the message that said it was looking"
    files = [m for m in slack.messages(channel) if m.files]
    assert files, "the ERROR lines come as a file"
    assert b"DOC_001" in (slack.file_content(files[-1].files[0]["id"]) or b"")

    # A target group that does not exist: that one choice says so; the others still work.
    alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts,
                 block_id=BlockId.HEADLINE_ACTIONS, value="targets")
    failed = wait_for(lambda: finding(slack, channel, "targets: refused (404)"), timeout=30,
                      what="the targets finding")
    assert "no-such-target-group" in all_text(failed) or "TargetGroupNotFound" in all_text(failed)
    alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts,
                 block_id=BlockId.HEADLINE_ACTIONS, value="tasks")
    tasks = wait_for(lambda: finding(slack, channel, "tasks:"), timeout=30, what="the tasks finding")
    assert "Essential container in task exited" in all_text(tasks)

    # Each finding is on the timeline, where the postmortem reads Diagnose's checks.
    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")
                            .order_by(TimelineEvent.id)).all()
    kept = {row.data["step"]: row for row in rows if row.data.get("kind") == "investigation"}
    assert set(kept) == {"logs", "targets", "tasks"}
    assert kept["logs"].data["data"]["by_code"]["DOC_001"] > 0 and kept["logs"].data["file_id"]
    assert kept["targets"].data["verdict"] == "unavailable"
    assert seeded.log_group == LOG_GROUP


def test_a_choice_the_service_is_not_configured_for_is_refused_with_a_message(
        bot_factory, aws_env: str, slack, http, db: Database, tmp_path: Path) -> None:
    config = tmp_path / "investigate.yaml"
    config.write_text("services:\n  multimodal-api:\n    models: [incident-text]\n")
    bot = bot_factory(config_path=str(config), aws_endpoint_url=aws_env)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db)
    headline = slack.pins(channel)[0]
    block = next(b for b in headline.blocks or [] if b.get("block_id") == BlockId.HEADLINE_ACTIONS.value)
    assert ActionId.INVESTIGATE.value not in [e.get("action_id") for e in block["elements"]]
    for value, said in (("logs", "not configured for the logs investigation"),
                        ("nonsense", "not one the bot knows")):
        response = alice.choose(ActionId.INVESTIGATE, channel=channel, message_ts=headline.ts,
                                block_id=BlockId.HEADLINE_ACTIONS, value=value)
        assert response.status_code == 200
        wait_for(lambda said=said: any(said in a.get("text", "") for a in alice.responses()),
                 what=f"the answer to {value}")


def test_a_runbook_step_bound_to_an_investigation_runs_it_and_ticks(
        bot_factory, production: SeededProduction, aws_env: str, slack, http, db: Database, tmp_path: Path) -> None:
    seed_investigations(aws_env, production, now=datetime.now(UTC))
    config = tmp_path / "investigate.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), aws_endpoint_url=aws_env)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title="new tasks keep stopping on multimodal-api")
    alice.choose(ActionId.RUNBOOK_PICK, channel=channel, message_ts=slack.pins(channel)[0].ts,
                 block_id=BlockId.RUNBOOK_PICK, value="deployment_failure")
    step_id = "check-stopped-tasks"
    block_id = f"{BlockId.RUNBOOK_STEP.value}-{step_id}"

    def step_block():
        for message in slack.pins(channel):
            block = next((b for b in message.blocks or [] if b.get("block_id") == block_id), None)
            if block is not None:
                return message, block
        return None

    pinned, block = wait_for(step_block, what="the deployment-failure checklist")
    assert block["accessory"]["text"]["text"] == "Investigate tasks"
    alice.click(ActionId.RUNBOOK_STEP, channel=channel, message_ts=pinned.ts, value=step_id, block_id=block_id)
    found = wait_for(lambda: finding(slack, channel, "tasks:"), timeout=30, what="the tasks finding")
    assert "Task failed ELB health checks" in all_text(found)
    wait_for(lambda: "✅" in step_block()[1]["text"]["text"], what="the step to tick")
