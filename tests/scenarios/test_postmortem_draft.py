"""What a reviewing team reads in the postmortem draft posted to Slack: people by name (looked up
with users.info, the ids kept in the record), each action as what it did and how it ended, and
refusals apart from the actions taken. The real app, the local Slack server and a seeded moto."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from storage.models import AuditEntry, TimelineEvent
from tests.bot.integrations.test_cloudwatch import put_latency_step
from tests.scenarios.actions_support import (
    ALICE,
    BOB,
    CAROL,
    action_message,
    action_row,
    add_oncall_group,
    confirm,
    declare,
    propose,
    wait_finished,
    wait_for,
    write_config,
)
from tests.scenarios.harness import Database, SlackUser, all_text
from tests.scenarios.test_diagnose import CONFIG as DIAGNOSE_CONFIG
from tests.scenarios.test_diagnose import finished
from tests.scenarios.test_postmortem_review import draft_files, postmortem, reviews


@pytest.fixture
def action_bot(bot_factory, slack, production, aws_env, tmp_path: Path):
    add_oncall_group(slack)

    def start(**overrides):
        config = write_config(tmp_path, **{k: overrides.pop(k) for k in ("ttl",) if k in overrides})
        return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, worker_url="http://127.0.0.1:9",
                           **overrides)

    return start


def person(bot, slack, http, user_id: str) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id=user_id, http=http)


def section(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Time")]


def posted_draft(alice: SlackUser, slack, channel: str) -> str:
    alice.command("resolve scaled out and stopped the bad rollout", channel=channel)
    files = wait_for(lambda: draft_files(slack, channel), what="the draft file")
    return slack.file_content(files[-1]["id"]).decode()


def test_the_draft_names_people_and_shows_each_action_and_how_it_ended(action_bot, slack, http, db: Database,
                                                                       production, aws_env) -> None:
    bot = action_bot()
    alice, bob, carol = (person(bot, slack, http, who) for who in (ALICE, BOB, CAROL))
    channel = declare(alice, slack, db)
    assert "is now commander" in alice.command("role commander <@U0ALICE>", channel=channel).json()["text"]
    alice.command("note paged <@U0BOB|bob> to approve the stop", channel=channel)

    # Carol may not scale: a refusal, not an action taken.
    assert "🔒" in carol.command("scale multimodal-api 10", channel=channel).json()["text"]
    # Alice scales 4 → 10.
    scale_id, _ = propose(alice, "scale multimodal-api 10", channel)
    confirm(alice, channel, scale_id)
    assert wait_finished(db, scale_id).state == "succeeded"
    # Alice asks for an emergency stop, tries to approve it herself (refused), and Bob denies it.
    stop_id, _ = propose(alice, "stop multimodal-api", channel)
    confirm(alice, channel, stop_id)
    wait_for(lambda: action_row(db, stop_id).state == "awaiting_approval", what="the approval request")
    db.wait_outbox_drained()
    request = action_message(slack, channel, stop_id)
    alice.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(stop_id),
                block_id="action_buttons")
    wait_for(lambda: alice.responses(), what="the self-approval refusal")
    bob.click(ActionId.DENY, channel=channel, message_ts=request.ts, value=str(stop_id), block_id="action_buttons")
    assert wait_finished(db, stop_id).state == "denied"

    markdown = posted_draft(alice, slack, channel)

    # People by the names Slack gives them, never as ids or escaped mention markup.
    assert "**Commander:** Alice Adams" in markdown and "**Declared by:** Alice Adams" in markdown
    assert "Note: paged @Bob Brown to approve the stop" in markdown
    assert "U0ALICE" not in markdown and "U0BOB" not in markdown and "\\<@" not in markdown
    assert "@U0CAROL" in markdown  # not a person Slack knows: the id is all there is to show

    actions = table_rows(section(markdown, "Actions Taken"))
    assert len(actions) == 2, actions
    scale, stop = actions
    assert "| Scale multimodal-api (ECS multimodal-prod): desired 4 → 10 | Alice Adams | — | succeeded" in scale
    assert ("| Emergency stop multimodal-api (ECS multimodal-prod): desired 10 → 0 | Alice Adams | — "
            "| denied by @Bob Brown |") in stop
    assert "awaiting" not in section(markdown, "Actions Taken")
    refusals = section(markdown, "Actions Taken").split("Refused (each changed nothing)", 1)[1]
    assert "@U0CAROL" in refusals and "scale" in refusals.lower()
    assert "Alice Adams" in refusals and "approve their own request" in refusals
    assert "awaiting_approval" not in markdown

    # The record keeps the ids; only the draft shows names.
    with db.engine.connect() as conn:
        actors = set(conn.execute(select(AuditEntry.actor)).scalars())
        notes = conn.execute(select(TimelineEvent.text).where(TimelineEvent.kind == "note")).scalars().all()
    assert {ALICE, BOB, CAROL} <= actors
    assert notes == ["paged <@U0BOB|bob> to approve the stop"]
    # Each person is looked up once per draft, however often they appear.
    looked_up = [call.params.get("user") for call in slack.calls("users.info")]
    assert sorted(looked_up) == sorted(set(looked_up)) and ALICE in looked_up


def test_an_approval_nobody_gave_shows_as_expired(action_bot, slack, http, db: Database, production,
                                                  aws_env) -> None:
    bot = action_bot(ttl="1s", action_sweep_interval=0.2)
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    stop_id, _ = propose(alice, "stop multimodal-api", channel)
    confirm(alice, channel, stop_id)
    assert wait_finished(db, stop_id, timeout=10).state == "expired"
    markdown = posted_draft(alice, slack, channel)
    (stop,) = table_rows(section(markdown, "Actions Taken"))
    assert "| Emergency stop multimodal-api (ECS multimodal-prod): desired 4 → 0 | Alice Adams | — " \
           "| expired: nobody approved in time |" in stop


@pytest.fixture
def diagnose_bot(bot_factory, aws_env: str, tmp_path: Path):
    """A bot whose Diagnose has its metric in moto and no worker: the model checks say so, quickly."""
    config = tmp_path / "diagnose.yaml"
    config.write_text(DIAGNOSE_CONFIG)
    put_latency_step(aws_env, end=datetime.now(UTC).replace(second=0, microsecond=0))
    return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, worker_url="http://127.0.0.1:9",
                       diagnose_timeout_factor=4.0)


def test_each_diagnose_run_is_its_own_row_with_its_time_checks_and_findings(diagnose_bot, slack, http,
                                                                             db: Database) -> None:
    alice = person(diagnose_bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    for run in (1, 2):
        assert "Diagnosing" in alice.command("diagnose", channel=channel).json()["text"]
        wait_for(lambda run=run: finished(slack, channel, runs=run), timeout=60, what=f"Diagnose run {run}")
    with db.engine.connect() as conn:
        steps = conn.execute(select(TimelineEvent.data).where(TimelineEvent.kind == "diagnostic")
                             .order_by(TimelineEvent.id)).scalars().all()
    per_run = len(steps) // 2

    markdown = posted_draft(alice, slack, channel)
    timeline = [row for row in table_rows(section(markdown, "Timeline")) if "Diagnose" in row]
    assert len(timeline) == 2, timeline
    assert all(f"Diagnose ran {per_run} checks" in row and "| Alice Adams |" in row for row in timeline)
    diagnostics = section(markdown, "Diagnostics")
    assert "2 Diagnose runs:" in diagnostics
    runs = [row for row in table_rows(diagnostics) if row.startswith("| ") and "Alice Adams" in row]
    assert len(runs) == 2 and all(f"| {per_run}: " in row for row in runs)
    # Each step names its run, so runs of different checks back to back stay apart too.
    assert len({step.get("run") for step in steps[:per_run]}) == 1 and steps[0].get("run") != steps[-1].get("run")


@pytest.fixture
def review_bot(bot_factory, tmp_path: Path):
    def start(unfilled: str | None = None):
        path = tmp_path / "review.yaml"
        path.write_text("postmortems: {review_within: 1h" + (f", unfilled_prompts: {unfilled}" if unfilled else "")
                        + "}\n")
        return bot_factory(config_path=str(path), worker_url="http://127.0.0.1:9")

    return start


def resolved_with_draft(alice: SlackUser, slack, db: Database) -> tuple[str, Any, str, int]:
    """An incident resolved; its draft's message, the Approve button, and the prompts in its file."""
    channel = declare(alice, slack, db)
    markdown = posted_draft(alice, slack, channel)
    prompts = len(re.findall(r"(?<!\\)\[[^\]\n]+\](?!\()", markdown.split("\n## ", 1)[1]))
    assert prompts > 5  # a bare incident leaves most of the review to the team
    message = wait_for(lambda: [m for m in slack.messages(channel) if approve_button(m)], what="the draft message")[-1]
    return channel, message, approve_button(message)["value"], prompts


def approve_button(message: Any) -> dict[str, Any] | None:
    return next((e for b in message.blocks or [] if b.get("type") == "actions" for e in b.get("elements", [])
                 if e.get("action_id") == ActionId.POSTMORTEM_APPROVE.value), None)


def approve(user: SlackUser, channel: str, message: Any, value: str) -> None:
    user.click(ActionId.POSTMORTEM_APPROVE, channel=channel, message_ts=message.ts, value=value,
               block_id=BlockId.POSTMORTEM_ACTIONS)


def test_approving_with_prompts_left_asks_to_confirm_by_default(review_bot, slack, http, db: Database) -> None:
    alice = person(review_bot(), slack, http, ALICE)
    channel, message, value, prompts = resolved_with_draft(alice, slack, db)
    assert f"*Prompts to fill*\n{prompts}: " in all_text(message) and "in Root Cause Analysis" in all_text(message)
    confirm_dialog = approve_button(message)["confirm"]
    assert confirm_dialog["text"]["text"].startswith(f"{prompts} prompts are still unfilled (")
    assert confirm_dialog["text"]["text"].endswith("Approve anyway?")
    approve(alice, channel, message, value)  # what Slack sends once the person confirms
    wait_for(lambda: postmortem(db).state == "approved", what="the approval")
    with db.engine.connect() as conn:
        detail = conn.execute(select(AuditEntry.detail).where(AuditEntry.action == "postmortem.approved")).scalar_one()
    assert detail["prompts_left"] == prompts


def test_a_team_that_blocks_on_prompts_cannot_approve_a_draft_with_prompts_left(review_bot, slack, http,
                                                                               db: Database) -> None:
    alice = person(review_bot("block"), slack, http, ALICE)
    channel, message, value, prompts = resolved_with_draft(alice, slack, db)
    assert "confirm" not in approve_button(message)  # no "anyway": the answer would be no
    approve(alice, channel, message, value)
    refusal = wait_for(lambda: alice.responses(), what="the refusal")[-1]["text"]
    assert f"Not approved: {prompts} prompts are still unfilled (" in refusal
    assert "in Root Cause Analysis" in refusal and "in Lessons Learned" in refusal
    assert "unfilled_prompts: block" in refusal
    assert postmortem(db).state == "in_review" and reviews(db) == []


def test_a_team_that_allows_prompts_left_approves_without_a_question(review_bot, slack, http, db: Database) -> None:
    alice = person(review_bot("allow"), slack, http, ALICE)
    channel, message, value, prompts = resolved_with_draft(alice, slack, db)
    assert "confirm" not in approve_button(message) and f"*Prompts to fill*\n{prompts}: " in all_text(message)
    approve(alice, channel, message, value)
    wait_for(lambda: postmortem(db).state == "approved", what="the approval")
