"""Error budgets end to end (seed 004): the real app over HTTP, the local Slack server, and moto's
CloudWatch seeded with the scoring engine's request counts.

A fast burn (over 10x) opens a P1 incident with its channel, and its headline and postmortem
show the budget the incident spent; a slow burn (over 2x) reaches the daily digest posted to the
service's channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.app import AppOptions
from sandbox.budget_seed import error_budget_yaml, fast_burn, seed_budget, slow_burn
from storage.models import IncidentBudget, Timer
from tests.scenarios.actions_support import ALICE, wait_for
from tests.scenarios.harness import BotServer, Database, SlackUser, all_text, bot_settings
from tests.scenarios.test_postmortem_review import draft_files

SERVICE_CHANNEL = "scoring-oncall"


def write_config(tmp_path: Path, *, check_every: str = "1s") -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(
        "services:\n"
        "  scoring-api:\n"
        + error_budget_yaml(channel=SERVICE_CHANNEL)
        + f"error_budgets:\n  check_every: {check_every}\n  digest_at: \"09:00\"\n"
    )
    return path


def test_a_fast_burn_opens_a_p1_incident_whose_headline_and_postmortem_show_the_budget(
        bot_factory, aws_env: str, slack, http, db: Database, tmp_path: Path) -> None:
    seed = seed_budget(aws_env, now=datetime.now(UTC), profile=fast_burn)
    bot = bot_factory(config_path=str(write_config(tmp_path)), aws_endpoint_url=aws_env,
                      worker_url="http://127.0.0.1:9")
    incident = db.wait_incident_ready(1, timeout=60)
    assert incident.severity == "P1" and incident.service == "scoring-api"
    assert incident.runbook_class == "high_error_rate"
    assert incident.declared_by == "error-budget" and "fast burn" in incident.title
    assert incident.channel_id

    announced = all_text(wait_for(lambda: slack.messages("incidents"), what="the announcement")[-1])
    assert "fast burn" in announced.lower()
    burn_post = wait_for(lambda: next((m for m in slack.messages(incident.channel_id)
                                       if "Error budget of scoring-api burning at" in all_text(m)), None),
                         what="the burn on the timeline")
    # 50 of the last 60 minutes at 25x: over 20x over the hour, 25x over the last five minutes.
    assert "x over the last hour (25.0x over the last 5 minutes)" in all_text(burn_post)

    # The next check stores the incident's share of the budget; the headline shows it.
    row = wait_for(lambda: _budget_row(db, incident.id), what="the incident's budget figures")
    assert row.service == "scoring-api" and row.target == 0.999
    assert 0 < row.incident_bad <= seed.bad and row.window_bad <= seed.bad
    headline = wait_for(lambda: next((m for m in slack.pins(incident.channel_id) if "Error budget" in all_text(m)),
                                     None), timeout=30, what="the budget on the headline")
    text = all_text(headline)
    assert "this incident spent" in text and ("left this month" in text or "overspent" in text)

    # More checks while the burn goes on neither open another incident nor re-raise this one.
    time.sleep(2.5)
    assert len(db.incidents()) == 1

    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    alice.command("resolve rolled back the weights change", channel=incident.channel_id)
    files = wait_for(lambda: draft_files(slack, incident.channel_id), timeout=60, what="the postmortem draft")
    draft = slack.file_content(files[-1]["id"]).decode()
    assert "**Error budget:** this incident spent" in draft


def test_a_slow_burn_is_in_the_daily_digest_in_the_service_channel(
        slack, aws_env: str, database_url: str, db: Database, tmp_path: Path) -> None:
    clock = _before_the_digest()
    channel = slack.add_channel(SERVICE_CHANNEL)
    seed_budget(aws_env, now=clock(), profile=slow_burn)
    settings = bot_settings(slack=slack, database_url=database_url, config_path=str(write_config(tmp_path)),
                            aws_endpoint_url=aws_env, worker_url="http://127.0.0.1:9")
    server = BotServer(settings, AppOptions(clock=clock)).start()
    try:
        digest = wait_for(lambda: next((m for m in slack.messages(channel) if "Error budget" in all_text(m)), None),
                          timeout=60, what="the digest in the service channel")
        time.sleep(1.5)
        digests = [m for m in slack.messages(channel) if "Error budget" in all_text(m)]
    finally:
        server.stop()
    text = all_text(digest)
    assert "scoring-api" in text and "slow burn" in text
    assert "last hour" in text and "last day" in text
    assert len(digests) == 1  # once, and tomorrow's is scheduled
    assert db.incidents() == []  # a slow burn pages nobody
    with db.engine.connect() as conn:
        keys = set(conn.scalars(select(Timer.unique_key).where(Timer.kind == "budget_digest")))
    tomorrow = (clock() + timedelta(days=1)).date().isoformat()
    assert f"budget_digest:{tomorrow}" in keys


def test_two_replicas_fire_each_burn_check_and_the_digest_once(
        slack, aws_env: str, database_url: str, db: Database, tmp_path: Path) -> None:
    clock = _before_the_digest()
    channel = slack.add_channel(SERVICE_CHANNEL)
    seed_budget(aws_env, now=clock(), profile=fast_burn)
    settings = bot_settings(slack=slack, database_url=database_url, config_path=str(write_config(tmp_path)),
                            aws_endpoint_url=aws_env, worker_url="http://127.0.0.1:9")
    replicas = [BotServer(settings, AppOptions(clock=clock)).start() for _ in range(2)]
    try:
        wait_for(lambda: [m for m in slack.messages(channel) if "Error budget" in all_text(m)], timeout=60,
                 what="the digest")
        db.wait_incident_ready(1, timeout=60)
        time.sleep(3)  # a few more checks on both replicas
    finally:
        for replica in replicas:
            replica.stop()
    assert len([m for m in slack.messages(channel) if "Error budget" in all_text(m)]) == 1
    assert len(db.incidents()) == 1 and db.incidents()[0].severity == "P1"
    with db.engine.connect() as conn:
        rows = conn.execute(select(Timer.kind, Timer.unique_key, Timer.state)
                            .where(Timer.incident_id.is_(None))).all()
    keys = [row.unique_key for row in rows]
    assert len(keys) == len(set(keys))  # each scheduled once
    fired_checks = [row for row in rows if row.kind == "burn_check" and row.state == "fired"]
    assert len(fired_checks) >= 2
    assert [row.state for row in rows if row.kind == "budget_digest"].count("fired") == 1


def _before_the_digest() -> Callable[[], datetime]:
    """A clock that stands three seconds before the digest's 09:00 UTC, and runs on from there."""
    real = datetime.now(UTC)
    offset = real.replace(hour=8, minute=59, second=57, microsecond=0) - real
    if offset < timedelta(0):
        offset += timedelta(days=1)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    return clock


def _budget_row(db: Database, incident_id: int) -> IncidentBudget | None:
    with db.engine.connect() as conn:
        return conn.execute(select(IncidentBudget).where(IncidentBudget.incident_id == incident_id)).one_or_none()
