"""`/incident investigate` and a runbook step's investigation in the checklist's thread, end to end:
the real app over HTTP, the local Slack server, and moto seeded with the demo's logs and tasks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from sandbox.aws_seed import CORRELATION_ID, SeededProduction, seed_investigations
from storage.models import TimelineEvent
from tests.scenarios.actions_support import ALICE, declare, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text
from tests.scenarios.test_investigate import CONFIG


@pytest.fixture
def responder(bot_factory, production: SeededProduction, aws_env: str, slack, http, tmp_path: Path) -> SlackUser:
    seed_investigations(aws_env, production, now=datetime.now(UTC))
    config = tmp_path / "investigate.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), aws_endpoint_url=aws_env)
    return SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)


def finding_in(messages, words: str):
    return next((m for m in messages if "Investigation for incident" in all_text(m) and words in all_text(m)), None)


def test_a_steps_investigation_posts_in_the_checklists_thread_and_names_the_step(
        responder: SlackUser, slack, db: Database) -> None:
    channel = declare(responder, slack, db, title="new tasks keep stopping on multimodal-api")
    responder.choose(ActionId.RUNBOOK_PICK, channel=channel, message_ts=slack.pins(channel)[0].ts,
                 block_id=BlockId.RUNBOOK_PICK, value="deployment_failure")
    step_id = "check-deploy-logs"
    block_id = f"{BlockId.RUNBOOK_STEP.value}-{step_id}"

    def step_block():
        for message in slack.pins(channel):
            block = next((b for b in message.blocks or [] if b.get("block_id") == block_id), None)
            if block is not None:
                return message, block
        return None

    checklist, block = wait_for(step_block, what="the deployment-failure checklist")
    assert "posts in this message's thread" in block["text"]["text"]  # the step says where to look
    responder.click(ActionId.RUNBOOK_STEP, channel=channel, message_ts=checklist.ts, value=step_id, block_id=block_id)

    found = wait_for(lambda: finding_in(slack.thread_messages(channel, checklist.ts), "ERROR lines"),
                     timeout=30, what="the logs finding in the checklist's thread")
    assert found.thread_ts == checklist.ts
    assert "Read the new tasks' logs" in all_text(found)  # it names its step
    assert [v for v in found.history if "Read the new tasks" in all_text(v)], "the looking message named it too"
    files = [m for m in slack.thread_messages(channel, checklist.ts) if m.files]
    assert files and files[-1].thread_ts == checklist.ts, "the long output is in the thread as well"
    top_level = slack.messages(channel, include_replies=False)
    assert finding_in(top_level, "ERROR lines") is None and not [m for m in top_level if m.files]
    wait_for(lambda: "✅" in step_block()[1]["text"]["text"], what="the step to tick")


def test_a_steps_diagnose_checks_post_in_the_checklists_thread(responder: SlackUser, slack, db: Database) -> None:
    channel = declare(responder, slack, db, title="new tasks keep stopping on multimodal-api")
    responder.choose(ActionId.RUNBOOK_PICK, channel=channel, message_ts=slack.pins(channel)[0].ts,
                     block_id=BlockId.RUNBOOK_PICK, value="deployment_failure")
    step_id = "wait-for-stable"  # diagnose: {steps: [worker]}
    block_id = f"{BlockId.RUNBOOK_STEP.value}-{step_id}"

    def checklist():
        return next((m for m in slack.pins(channel)
                     if any(b.get("block_id") == block_id for b in m.blocks or [])), None)

    pinned = wait_for(checklist, what="the deployment-failure checklist")
    responder.click(ActionId.RUNBOOK_STEP, channel=channel, message_ts=pinned.ts, value=step_id, block_id=block_id)

    found = wait_for(lambda: next((m for m in slack.thread_messages(channel, pinned.ts)
                                   if "Diagnostics for incident" in all_text(m)), None),
                     timeout=30, what="the diagnostics in the checklist's thread")
    assert found.thread_ts == pinned.ts
    top_level = slack.messages(channel, include_replies=False)
    assert not [m for m in top_level if "Diagnostics for incident" in all_text(m)]


def test_investigate_with_no_kind_or_an_unknown_one_lists_what_the_service_offers(
        responder: SlackUser, slack, db: Database) -> None:
    channel = declare(responder, slack, db, title="5xx errors on multimodal-api")
    listed = responder.command("investigate", channel=channel).json()
    text = all_text(listed)
    for kind in ("logs [correlation-id]", "tasks", "targets"):
        assert f"/incident investigate {kind}" in text
    assert "metrics" not in text  # not configured for this service, so not offered
    unknown = all_text(responder.command("investigate nonsense", channel=channel).json())
    assert "`nonsense` isn't an investigation" in unknown and "/incident investigate tasks" in unknown
    unconfigured = all_text(responder.command("investigate metrics", channel=channel).json())
    assert "not configured for the metrics investigation" in unconfigured and "investigate logs" in unconfigured
    # Nothing ran.
    assert finding_in(slack.messages(channel), "") is None


def test_investigate_logs_with_a_correlation_id_finds_that_requests_lines(
        responder: SlackUser, slack, db: Database) -> None:
    channel = declare(responder, slack, db, title="5xx errors on multimodal-api")
    answer = responder.command(f"investigate logs {CORRELATION_ID}", channel=channel).json()
    assert "correlation id" in answer["text"] and "posts in the channel" in answer["text"]
    found = wait_for(lambda: finding_in(slack.messages(channel), f"correlation id {CORRELATION_ID}"),
                     timeout=30, what="the correlation finding")
    text = all_text(found)
    assert f"correlation id {CORRELATION_ID} in 1 line, 1 ERROR" in text
    assert "In the whole window" in text  # the window's counts follow as context
    files = [m for m in slack.messages(channel) if m.files]
    assert files, "the request's lines come as a file"
    content = (slack.file_content(files[-1].files[0]["id"]) or b"").decode()
    first_section = content.split("\n\n")[0]
    assert f"lines with correlation id {CORRELATION_ID} (1)" in first_section
    assert CORRELATION_ID in first_section.splitlines()[1]

    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "diagnostic")).all()
    kept = [row.data["data"] for row in rows if row.data.get("kind") == "investigation"]
    assert kept and kept[-1]["correlation_id"] == CORRELATION_ID and kept[-1]["correlation_matches"] == 1


@pytest.mark.parametrize(("args", "said"), [
    ("logs abc\"def", "not a correlation id"),
    ("logs <!channel>", "not a correlation id"),
    ("logs " + "a" * 129, "not a correlation id"),
    ("logs abc def", "at most one correlation id"),
    ("tasks 550e8400-e29b", "Only `logs` searches by correlation id"),
])
def test_hostile_arguments_get_the_usage_and_start_nothing(responder: SlackUser, slack, db: Database, args: str,
                                                           said: str) -> None:
    channel = declare(responder, slack, db)
    answer = responder.command(f"investigate {args}", channel=channel).json()
    assert said in answer["text"] and "Usage: `/incident investigate [kind] [correlation-id]`" in answer["text"]
    assert "<!channel>" not in answer["text"]  # what was typed is never echoed back as a mention
    assert finding_in(slack.messages(channel), "") is None


def test_investigate_outside_an_incident_channel_says_where_to_run_it(responder: SlackUser, slack) -> None:
    answer = responder.command("investigate logs", channel=slack.channel_id("general")).json()
    assert "incident channel" in answer["text"]
