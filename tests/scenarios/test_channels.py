"""Channel setup details: clashing names, who gets invited, joining the announcement channel."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sandbox.slack_api import LocalSlackServer
from tests.scenarios.harness import BotServer, Database, SlackUser, bot_settings
from tests.scenarios.test_lifecycle import all_text, incident_channel


def test_a_taken_channel_name_is_retried_with_a_suffix(alice: SlackUser, slack, db: Database) -> None:
    today = datetime.now(UTC).strftime("%Y%m%d")
    taken = f"inc-{today}-1-gpu-memory-leak"
    slack.add_channel(taken)
    slack.add_channel(f"{taken}-2")
    assert alice.command("declare P2 GPU memory leak").status_code == 200
    db.wait_incident_ready(1)
    assert incident_channel(slack, db).name == f"{taken}-3"
    refused = [c.params["name"] for c in slack.calls("conversations.create") if c.error == "name_taken"]
    assert refused == [taken, f"{taken}-2"]


def test_declarer_and_oncall_people_and_groups_are_invited(slack, database_url, tmp_path, http) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("oncall:\n  users: [U0ONCALL1]\n  usergroups: [S0MLONCALL]\nchannels:\n  announce: incidents\n")
    bot = BotServer(bot_settings(slack=slack, database_url=database_url, config_path=str(config))).start()
    db = Database(database_url)
    try:
        alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
        alice.command("declare P1 Feature store unavailable")
        db.wait_outbox_drained()
        members = set(slack.members(incident_channel(slack, db).id))
        group = set(slack.workspace.usergroups["S0MLONCALL"].users)
        assert {"U0ALICE", "U0ONCALL1"} | group <= members
    finally:
        bot.stop()
        db.dispose()


@pytest.fixture
def strict_slack():
    """A workspace where the bot must be a member of a channel to post in it."""
    with LocalSlackServer(auto_join_bot=False) as server:
        yield server


def test_bot_joins_the_announcement_channel_when_it_must(strict_slack, database_url, http: httpx.Client) -> None:
    bot = BotServer(bot_settings(slack=strict_slack, database_url=database_url)).start()
    db = Database(database_url)
    try:
        SlackUser(bot=bot, slack=strict_slack, user_id="U0ALICE", http=http).command("declare P3 Flaky canary")
        db.wait_outbox_drained()
        assert [c.ok for c in strict_slack.calls("conversations.join")] == [True]
        announcement = strict_slack.messages("incidents")
        assert len(announcement) == 1 and "Flaky canary" in all_text(announcement[0])
        assert db.states() == {"delivered": 2}  # the channel's set-up, and the runbook checklist
    finally:
        bot.stop()
        db.dispose()


def test_a_try_cut_off_after_slack_made_the_channel_adopts_it(alice: SlackUser, slack, db: Database) -> None:
    # The bot killed between conversations.create and recording the channel: its next try meets
    # its own channel's name taken, and must take that channel, not open a second one.
    assert alice.command("declare P2 GPU memory leak").status_code == 200
    first = db.wait_incident_ready(1)
    db.provision_again_as_if_cut_off(first.id)
    db.wait_outbox_drained()
    again = db.incident(1)
    assert again.channel_id == first.channel_id and again.channel_name == first.channel_name
    created = [c for c in slack.calls("conversations.create") if c.ok]
    assert len(created) == 1, [c.params["name"] for c in slack.calls("conversations.create")]
