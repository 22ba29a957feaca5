"""Slack failing for a minute: 30% of Web API calls answered 429 (with Retry-After) or 500.

Work goes on meanwhile (incidents declared, status updates posted, alerts arriving); after Slack
recovers, every message is delivered once, in order per channel.
"""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.slack_api import LocalSlackServer
from tests.faults.storm import PD_SECRET, RetryingSenders, build_storm
from tests.handlers.webhooks.sns_fixtures import DEFAULT_TOPIC_ARN
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import (
    BotServer,
    Database,
    SlackUser,
    all_text,
    bot_settings,
)

pytestmark = [pytest.mark.long, pytest.mark.postgres]

FAULT_SECONDS = 60
INCIDENTS = 3
UPDATES = 8
ALERT_SERVICES = ["scoring-api", "ticket-classifier"]


def test_after_a_minute_of_slack_failures_every_message_arrives_once_and_in_order(
        slack: LocalSlackServer, postgres_url: str, sns_certs, tmp_path) -> None:
    # Together: 0.15 + 0.85 * 0.18 = 30% of calls fail while the minute lasts.
    slack.faults.add("*", status=429, retry_after=1, rate=0.15, until=FAULT_SECONDS)
    slack.faults.add("*", status=500, rate=0.18, until=FAULT_SECONDS)
    faults_end = time.monotonic() + FAULT_SECONDS
    bot = BotServer(bot_settings(slack=slack, database_url=postgres_url, pagerduty_webhook_secrets=PD_SECRET,
                                 sns_certs_dir=str(sns_certs), sns_topic_arns=DEFAULT_TOPIC_ARN)).start()
    db = Database(postgres_url)
    try:
        with httpx.Client(timeout=30) as http:
            alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
            for n in range(1, INCIDENTS + 1):
                answer = alice.command(f"declare P2 Slack-outage drill {n}")
                assert answer.status_code == 200 and f"#{n}" in answer.json()["text"], answer.text
            channels = {n: wait_for(lambda n=n: db.incident(n).channel_id, timeout=FAULT_SECONDS,
                                    what=f"incident #{n}'s channel") for n in range(1, INCIDENTS + 1)}
            # Alerts keep arriving through the outage too, opening incidents of their own.
            alerts = build_storm(services=ALERT_SERVICES, alerts_per_service=4, repeats=3)
            senders = RetryingSenders(bot.url, alerts, clients=4, pace=0.3).start()
            for k in range(1, UPDATES + 1):
                for n, channel in channels.items():
                    answer = alice.command(f"status Update {k} of drill {n}", channel=channel)
                    assert "Status update posted" in answer.json()["text"], answer.text
                time.sleep(max(0.0, (faults_end - time.monotonic()) / (UPDATES - k + 1) / 2))
            assert senders.wait(timeout=120).unacked() == []
        assert time.monotonic() < faults_end, "the updates must be posted while Slack is failing"

        failed = [call for call in slack.calls() if call.status in (429, 500)]
        assert {call.status for call in failed} == {429, 500}
        assert all(call.status != 429 or call.response.get("error") == "ratelimited" for call in failed)

        time.sleep(max(0.0, faults_end - time.monotonic()))
        db.wait_outbox_drained(timeout=180)
        assert db.states().get("failed", 0) == 0, db.states()

        feed = [all_text(m) for m in slack.messages("incidents")]
        for n, channel in channels.items():
            headline_ts = db.incident(n).headline_ts  # it repeats the latest update; only posts count
            in_channel = [all_text(m) for m in slack.messages(channel) if m.ts != headline_ts]
            # The update goes to the incident's channel and to the #incidents feed: once each, in order.
            for texts in (in_channel, feed):
                updates = [t for t in texts if f"of drill {n}" in t and "Update" in t]
                expected = [f"Update {k} of drill {n}" for k in range(1, UPDATES + 1)]
                assert [next(e for e in expected if e in t) for t in updates] == expected, updates
        incidents = db.incidents()
        assert len(incidents) == INCIDENTS + len(ALERT_SERVICES)
        created = [c for c in slack.calls("conversations.create") if c.ok]
        assert len(created) == len(incidents), "a retried setup created a second channel"
        for incident in incidents:
            assert incident.channel_id and incident.headline_ts
            assert sum(m.ts == incident.headline_ts for m in slack.pins(incident.channel_id)) == 1
            assert sum(t.startswith(f"#{incident.number} [") for t in feed) == 1, "one announcement each"
    finally:
        bot.stop()
        db.dispose()
