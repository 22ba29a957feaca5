"""Postmortems in Slack, against the real app and the local Slack server: the draft posted on
resolve, Request changes, Regenerate, Approve, reminders, export, and a failing upload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.timers import TimerKind
from bot.slack.ids import ActionId, BlockId, InputId
from storage.models import (
    Incident,
    Postmortem,
    PostmortemDraft,
    PostmortemReview,
    TimelineEvent,
    Timer,
)
from tests.scenarios.actions_support import button_values, declare, wait_for
from tests.scenarios.harness import Database, SlackUser, all_text

NO_WORKER = "http://127.0.0.1:9"


@pytest.fixture
def pm_bot(bot_factory, tmp_path: Path):
    def start(config: str = "") -> Any:
        path = tmp_path / "config.yaml"
        path.write_text(config or "postmortems: {review_within: 1h}\n")
        return bot_factory(config_path=str(path), worker_url=NO_WORKER, timer_tick_interval=0.2)

    return start


def people(bot, slack, http, *names: str) -> list[SlackUser]:
    return [SlackUser(bot=bot, slack=slack, user_id=name, http=http) for name in names]


def draft_message(slack, channel: str) -> Any:
    return wait_for(lambda: [m for m in slack.messages(channel)
                             if button_values(m.blocks, ActionId.POSTMORTEM_REGENERATE)], what="the draft message")[-1]


def draft_files(slack, channel: str) -> list[dict[str, Any]]:
    return [f for m in slack.messages(channel) for f in (m.files or []) if f["name"].startswith("postmortem-")]


class NoPostmortem:
    """Stands for the row until the outbox has written it, so waits read "not yet" rather than fail."""

    state = post_error = posted_draft = None


def postmortem(db: Database) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(Postmortem)).one_or_none() or NoPostmortem()


def reviews(db: Database) -> list[tuple[str, str, int, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(PostmortemReview).order_by(PostmortemReview.id)).all()
    return [(r.reviewer, r.decision, r.draft_number, r.comment) for r in rows]


def resolve(user: SlackUser, slack, db: Database, title: str = "P95 latency after deploy") -> str:
    channel = declare(user, slack, db, title)
    user.command("ack", channel=channel)
    user.command("resolve rolled back the model", channel=channel)
    return channel


def test_resolving_posts_a_draft_and_reviewers_request_changes_regenerate_and_approve(
        pm_bot, slack, http, db: Database) -> None:
    bot = pm_bot()
    alice, bob, carol = people(bot, slack, http, "U0ALICE", "U0BOB", "U0CAROL")
    channel = resolve(alice, slack, db)
    message = draft_message(slack, channel)
    files = wait_for(lambda: draft_files(slack, channel), what="the draft file")
    assert [f["name"] for f in files] == ["postmortem-incident-1-v1.md"]
    markdown = slack.file_content(files[0]["id"]).decode()
    assert markdown.startswith("# Post-Incident Review: Incident #1: P95 latency after deploy")
    assert "**Summary:** rolled back the model" in markdown and "## Related Incidents" in markdown
    assert f"](https://slack.com/app_redirect?channel={channel})" in markdown
    assert "No past incident is alike enough to list." in markdown  # the first incident has none
    wait_for(lambda: postmortem(db).state == "in_review", what="in review")
    assert "in review" in all_text(draft_message(slack, channel)) and "Time to resolve" in all_text(message)
    v1 = button_values(message.blocks, ActionId.POSTMORTEM_APPROVE)[0]

    # Bob asks for changes: a modal, which refuses an empty comment.
    bob.click(ActionId.POSTMORTEM_REQUEST_CHANGES, channel=channel, message_ts=message.ts, value=v1,
              block_id=BlockId.POSTMORTEM_ACTIONS)
    view = wait_for(lambda: [v for v in slack.views() if v["callback_id"] == "postmortem_request_changes"],
                    what="the modal")[-1]
    empty = bob.submit_view(view, {BlockId.POSTMORTEM_COMMENT: {InputId.COMMENT: {"value": " "}}})
    assert empty.json()["response_action"] == "errors"
    comment = "Add the impact on document classification customers"
    assert bob.submit_view(view, {BlockId.POSTMORTEM_COMMENT: {InputId.COMMENT: {"value": comment}}}).status_code == 200
    wait_for(lambda: reviews(db), what="bob's review")
    wait_for(lambda: "requested changes" in all_text(draft_message(slack, channel)), what="the message to show it")

    # Regenerate after more timeline entries: a second draft, posted as a new file, same message.
    alice.command("note customers saw wrong labels for 40 minutes", channel=channel)
    alice.click(ActionId.POSTMORTEM_REGENERATE, channel=channel, message_ts=message.ts, value=v1,
                block_id=BlockId.POSTMORTEM_ACTIONS)
    wait_for(lambda: len(draft_files(slack, channel)) == 2, what="draft v2")
    v2_file = draft_files(slack, channel)[-1]
    assert v2_file["name"] == "postmortem-incident-1-v2.md"
    assert "customers saw wrong labels for 40 minutes" in slack.file_content(v2_file["id"]).decode()
    updated = wait_for(lambda: [m for m in slack.messages(channel) if m.ts == message.ts
                                and "v2" in all_text(m)], what="the message for v2")[-1]
    v2 = button_values(updated.blocks, ActionId.POSTMORTEM_APPROVE)[0]
    assert v2.endswith(":2")

    # An approval of the old draft is refused; approving the current one approves the postmortem.
    carol.click(ActionId.POSTMORTEM_APPROVE, channel=channel, message_ts=message.ts, value=v1,
                block_id=BlockId.POSTMORTEM_ACTIONS)
    refusal = wait_for(lambda: carol.responses(), what="carol's refusal")[-1]["text"]
    assert "is at v2 now" in refusal
    alice.click(ActionId.POSTMORTEM_APPROVE, channel=channel, message_ts=message.ts, value=v2,
                block_id=BlockId.POSTMORTEM_ACTIONS)
    wait_for(lambda: postmortem(db).state == "approved", what="the approval")
    assert reviews(db) == [("U0BOB", "changes_requested", 1, comment), ("U0ALICE", "approved", 2, "")]
    final = wait_for(lambda: [m for m in slack.messages(channel) if m.ts == message.ts and "Approved" in all_text(m)],
                     what="the approved message")[-1]
    assert not button_values(final.blocks, ActionId.POSTMORTEM_APPROVE)
    with db.engine.connect() as conn:
        review_timers = conn.execute(select(Timer.state).where(Timer.kind == TimerKind.POSTMORTEM_REVIEW)).all()
    assert [state for (state,) in review_timers] == ["cancelled"]


def test_export_writes_markdown_and_a_readable_html_page(pm_bot, slack, http, db: Database,
                                                         database_url: str, tmp_path: Path) -> None:
    bot = pm_bot()
    (alice,) = people(bot, slack, http, "U0ALICE")
    channel = resolve(alice, slack, db)
    message = draft_message(slack, channel)
    alice.click(ActionId.POSTMORTEM_APPROVE, channel=channel, message_ts=message.ts,
                value=button_values(message.blocks, ActionId.POSTMORTEM_APPROVE)[0],
                block_id=BlockId.POSTMORTEM_ACTIONS)
    wait_for(lambda: postmortem(db).state == "approved", what="the approval")
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "bot.cli", "postmortem", "export", "1"]
    md = subprocess.run([*command, "--format", "md"], env=env, capture_output=True, text=True, timeout=60)
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Post-Incident Review: Incident #1")
    assert "## Review Record (at export)" in md.stdout and "@U0ALICE approved" in md.stdout
    out = tmp_path / "pm.html"
    page = subprocess.run([*command, "--format", "html", "--output", str(out)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert page.returncode == 0, page.stderr
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html and "<h2>Timeline</h2>" in html
    missing = subprocess.run([*command[:-1], "7"], env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "there is no incident #7" in missing.stderr


def test_a_reminder_follows_when_the_draft_is_not_approved_in_time(pm_bot, slack, http, db: Database) -> None:
    bot = pm_bot("postmortems: {review_within: 2s}\n")
    (alice,) = people(bot, slack, http, "U0ALICE")
    channel = resolve(alice, slack, db)
    message = draft_message(slack, channel)
    reminder = wait_for(lambda: [m for m in slack.messages(channel) if "still not approved" in all_text(m)],
                        timeout=30, what="the reminder")[0]
    assert "Postmortem draft v1" in all_text(reminder)
    alice.click(ActionId.POSTMORTEM_APPROVE, channel=channel, message_ts=message.ts,
                value=button_values(message.blocks, ActionId.POSTMORTEM_APPROVE)[0],
                block_id=BlockId.POSTMORTEM_ACTIONS)
    wait_for(lambda: postmortem(db).state == "approved", what="the approval")
    with db.engine.connect() as conn:
        pending = conn.execute(select(Timer).where(Timer.kind == TimerKind.POSTMORTEM_REVIEW,
                                                   Timer.state == "pending")).all()
    assert pending == []


def test_approvers_from_config_are_enforced(pm_bot, slack, http, db: Database) -> None:
    bot = pm_bot("rbac:\n  roles:\n    approver: {users: [U0ENGMGR1]}\n"
                 "postmortems: {approvers: [approver], approvals_required: 1}\n")
    alice, manager = people(bot, slack, http, "U0ALICE", "U0ENGMGR1")
    channel = resolve(alice, slack, db)
    message = draft_message(slack, channel)
    value = button_values(message.blocks, ActionId.POSTMORTEM_APPROVE)[0]
    alice.click(ActionId.POSTMORTEM_APPROVE, channel=channel, message_ts=message.ts, value=value,
                block_id=BlockId.POSTMORTEM_ACTIONS)
    refusal = wait_for(lambda: alice.responses(), what="the refusal")[-1]["text"]
    assert "needs the approver role" in refusal and "<@U0ENGMGR1>" in refusal
    assert reviews(db) == []
    manager.click(ActionId.POSTMORTEM_APPROVE, channel=channel, message_ts=message.ts, value=value,
                  block_id=BlockId.POSTMORTEM_ACTIONS)
    wait_for(lambda: postmortem(db).state == "approved", what="the manager's approval")


def test_a_refused_upload_never_blocks_the_resolve_and_can_be_retried(pm_bot, slack, http, db: Database) -> None:
    bot = pm_bot()
    (alice,) = people(bot, slack, http, "U0ALICE")
    slack.faults.add("files.getUploadURLExternal", status=200, error="not_allowed_token_type")
    channel = resolve(alice, slack, db)
    wait_for(lambda: db.incident(1).status == "resolved", what="the resolve")
    told = wait_for(lambda: [m for m in slack.messages(channel) if "could not be posted" in all_text(m)],
                    what="the failure said in the channel")[0]
    assert "not_allowed_token_type" in all_text(told) and "/incident postmortem" in all_text(told)
    wait_for(lambda: "Resolved" in all_text(slack.pins(channel)[0]), what="the headline to show the resolve")
    stored = postmortem(db)
    assert stored.post_error and stored.posted_draft is None and stored.current_draft == 1
    with db.engine.connect() as conn:
        saved = conn.execute(select(PostmortemDraft.markdown)).scalars().all()
    assert len(saved) == 1 and saved[0].startswith("# Post-Incident Review")
    # Slack is back: `/incident postmortem` writes and posts a new draft.
    slack.faults.clear()
    answer = alice.command("postmortem", channel=channel).json()["text"]
    assert "Writing a postmortem draft" in answer
    wait_for(lambda: draft_files(slack, channel), what="the posted draft")
    wait_for(lambda: postmortem(db).posted_draft == 2 and postmortem(db).post_error is None, what="recorded")


def test_slack_failing_for_a_while_delays_the_draft_but_not_the_resolve(pm_bot, slack, http, db: Database) -> None:
    bot = pm_bot()
    (alice,) = people(bot, slack, http, "U0ALICE")
    channel = declare(alice, slack, db)
    # Each upload tries three times (the SDK retries 500s); nine failures fail three outbox attempts.
    slack.faults.add("files.*", status=500, times=9)
    alice.command("resolve", channel=channel)
    wait_for(lambda: db.incident(1).status == "resolved", what="the resolve")
    wait_for(lambda: postmortem(db).post_error, what="the error kept while Slack fails")
    assert draft_files(slack, channel) == []
    wait_for(lambda: draft_files(slack, channel), timeout=40, what="the draft once Slack recovered")
    wait_for(lambda: postmortem(db).state == "in_review", what="in review")
    with db.engine.connect() as conn:
        drafts = conn.execute(select(PostmortemDraft.number)).scalars().all()
        events = conn.execute(select(TimelineEvent.text).where(TimelineEvent.kind == "postmortem")).scalars().all()
    assert drafts == [1]  # retries found the saved draft; they did not write new ones
    assert not any("could not be posted" in text for text in events)


def test_follow_ups_are_recorded_listed_and_marked_done_from_buttons(pm_bot, slack, http, db: Database) -> None:
    bot = pm_bot()
    alice, bob = people(bot, slack, http, "U0ALICE", "U0BOB")
    channel = declare(alice, slack, db)
    added = alice.command("followup Gate deploys on the golden set <@U0BOB|bob> 2026-12-24", channel=channel).json()
    assert "for <@U0BOB>, due 2026-12-24" in added["text"]
    alice.command("followup Document the rollback tomorrow", channel=channel)
    bad = alice.command("followup fix it 2026-02-30", channel=channel).json()["text"]
    assert "not a date in the calendar" in bad
    listing = alice.command("followup", channel=channel).json()
    text = json.dumps(listing["blocks"])
    assert "Gate deploys on the golden set" in text and "<@U0BOB>" in text and "2 open of 2" in text
    done_ids = [b["accessory"]["value"] for b in listing["blocks"]
                if b.get("accessory", {}).get("action_id") == ActionId.FOLLOW_UP_DONE]
    assert len(done_ids) == 2
    bob.click(ActionId.FOLLOW_UP_DONE, channel=channel, message_ts="1.0", value=done_ids[0], block_id="follow_up")
    redrawn = wait_for(lambda: [r for r in bob.responses() if r.get("replace_original")], what="the redrawn list")[-1]
    assert "1 open of 2" in json.dumps(redrawn["blocks"]) and "done by <@U0BOB>" in json.dumps(redrawn["blocks"])
    alice.command("resolve", channel=channel)
    files = wait_for(lambda: draft_files(slack, channel), what="the draft")
    markdown = slack.file_content(files[0]["id"]).decode()
    assert "| Gate deploys on the golden set | Bob Brown | 2026-12-24 | Done |" in markdown  # named by users.info
    assert "| Document the rollback | [owner] |" in markdown and "| Open |" in markdown
    with db.engine.connect() as conn:
        incident = conn.execute(select(Incident)).one()
    assert incident.status == "resolved"
