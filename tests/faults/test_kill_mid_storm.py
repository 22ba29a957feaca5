"""kill -9 during an ingest storm: after a restart, every alert is stored once and every incident
has its channel, because senders retry what was not answered 2xx, as PagerDuty and SNS do; and
kill -9 between the ack and the apply: what was acknowledged is applied after the restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.checks import (
    assert_one_channel_per_incident,
    assert_stored_exactly_once,
)
from tests.faults.storm import PD_SECRET, RetryingSenders, build_storm
from tests.handlers.webhooks.sns_fixtures import DEFAULT_TOPIC_ARN
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import Database
from tests.scenarios.processes import BotProcess

SERVICES = ["multimodal-api", "scoring-api", "ticket-classifier", "ai-orchestrator"]

pytestmark = pytest.mark.long


def test_a_bot_killed_mid_storm_stores_every_alert_once_and_opens_every_channel(
        slack, database_url: str, sns_certs: Path, tmp_path: Path) -> None:
    storm = build_storm(services=SERVICES, alerts_per_service=10, repeats=8)
    bot = BotProcess(slack_url=slack.base_url, database_url=database_url, config_path=None,
                     log_path=tmp_path / "bot.log", PAGERDUTY_WEBHOOK_SECRETS=PD_SECRET,
                     SNS_CERTS_DIR=str(sns_certs),
                     SNS_TOPIC_ARNS=DEFAULT_TOPIC_ARN, OUTBOX_LEASE="5").start()
    db = Database(database_url)
    try:
        senders = RetryingSenders(bot.url, storm, clients=12, give_up_after=240).start()
        wait_for(lambda: senders.report.acked() >= len(storm) // 3, what="a third of the storm acked", timeout=120)
        bot.kill()
        acked_before_kill = senders.report.acked()
        time.sleep(1.0)  # senders meet a dead port meanwhile, and retry
        bot.start()
        report = senders.wait(timeout=300)

        assert acked_before_kill < len(storm), "the kill came after the storm, not during it"
        assert report.statuses()[0] > 0, "no delivery went unanswered, so the kill hit nothing in flight"
        assert report.unacked() == [], "a sender gave up"
        db.wait_outbox_drained(timeout=120)

        assert_stored_exactly_once(db, storm)
        assert_one_channel_per_incident(db, slack, incidents=len(SERVICES))
    finally:
        bot.stop()
        db.dispose()


def test_a_bot_killed_between_the_ack_and_the_apply_applies_every_delivery_after_a_restart(
        slack, database_url: str, sns_certs: Path, tmp_path: Path) -> None:
    storm = build_storm(services=SERVICES, alerts_per_service=4, repeats=3)
    bot = BotProcess(slack_url=slack.base_url, database_url=database_url, config_path=None,
                     log_path=tmp_path / "bot.log", PAGERDUTY_WEBHOOK_SECRETS=PD_SECRET,
                     SNS_CERTS_DIR=str(sns_certs), SNS_TOPIC_ARNS=DEFAULT_TOPIC_ARN, OUTBOX_LEASE="5").start()
    db = Database(database_url)
    try:
        # Nothing applies while the lease row is away (as when another replica holds it): every
        # delivery is acknowledged and still pending when the process dies.
        db.hold_the_inbox()
        report = RetryingSenders(bot.url, storm, clients=8, give_up_after=120).start().wait(timeout=180)
        assert report.unacked() == []
        assert db.deliveries_to_apply() == len(storm), "the kill must fall between the ack and the apply"
        bot.kill()
        db.release_the_inbox()
        bot.start()
        db.wait_outbox_drained(timeout=120)

        assert_stored_exactly_once(db, storm)
        assert_one_channel_per_incident(db, slack, incidents=len(SERVICES))
    finally:
        bot.stop()
        db.dispose()
