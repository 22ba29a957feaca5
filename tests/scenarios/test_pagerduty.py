"""PagerDuty both ways, over real HTTP: its webhooks open and change incidents, and Slack-side
acks and resolves go back to its REST API (the project's local PagerDuty server plays it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from bot.slack.ids import ActionId
from sandbox.pagerduty_api import LocalPagerDutyServer
from storage.models import TimelineEvent
from tests.scenarios.harness import BotServer, Database, SlackUser
from tests.scenarios.test_lifecycle import all_text, headline_message, incident_channel

PD_SECRET = "pd-webhook-secret"
PD_TOKEN = "pd-test-token"


@pytest.fixture
def pagerduty() -> Iterator[LocalPagerDutyServer]:
    with LocalPagerDutyServer(tokens=(PD_TOKEN,)) as server:
        yield server


@dataclass
class World:
    bot: BotServer
    pd: LocalPagerDutyServer
    slack: object
    db: Database
    alice: SlackUser

    def timeline(self, kind: str) -> list[TimelineEvent]:
        with self.db.engine.connect() as conn:
            return list(conn.execute(select(TimelineEvent).where(TimelineEvent.kind == kind)).all())


@pytest.fixture
def world(bot_factory, pagerduty, slack, db, http) -> World:
    bot = bot_factory(
        pagerduty_webhook_secrets=f"old-secret,{PD_SECRET}", pagerduty_api_url=pagerduty.url,
        pagerduty_api_token=PD_TOKEN, pagerduty_from_email="bot@example.com",
    )
    pagerduty.webhook_sender(f"{bot.url}/webhooks/pagerduty", [PD_SECRET])
    return World(bot=bot, pd=pagerduty, slack=slack, db=db,
                 alice=SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http))


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_triggered_pagerduty_incident_opens_a_channel_with_its_title(world: World) -> None:
    world.pd.add_incident("PINC001", title="Inference p95 above 1s on multimodal-api", service_id="PSVC001",
                          priority="P1")
    answer = world.pd.emit("incident.triggered", "PINC001")
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert world.db.last_outcome() == ("opened", 1)
    world.db.wait_outbox_drained()
    stored = world.db.incident(1)
    assert (stored.source, stored.pagerduty_incident_id) == ("pagerduty", "PINC001")
    assert stored.severity == "P0"  # PagerDuty P1 maps to P0 by default
    channel = incident_channel(world.slack, world.db)
    assert "Inference p95 above 1s on multimodal-api" in all_text(headline_message(world.slack, world.db))
    assert any("Inference p95 above 1s" in all_text(m) for m in world.slack.messages("incidents"))
    assert channel.name.startswith("inc-")


def test_a_retried_delivery_counts_once(world: World) -> None:
    world.pd.add_incident("PINC002", title="Error rate above 5%")
    first = world.pd.emit("incident.triggered", "PINC002")
    again = world.pd.redeliver(first.request.headers["x-webhook-id"])
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert world.db.deliveries() == 1
    assert len(world.db.incidents()) == 1


def test_forged_and_unsigned_deliveries_are_refused(world: World, http: httpx.Client) -> None:
    body, headers = world.pd.build_webhook("incident.triggered", world.pd.add_incident(title="forged")["id"])
    forged = http.post(f"{world.bot.url}/webhooks/pagerduty", content=body,
                       headers={**headers, "X-PagerDuty-Signature": "v1=" + "0" * 64})
    unsigned = http.post(f"{world.bot.url}/webhooks/pagerduty", content=body,
                         headers={k: v for k, v in headers.items() if k.lower() != "x-pagerduty-signature"})
    assert forged.status_code == 401 and unsigned.status_code == 401
    assert world.db.incidents() == [] and world.db.deliveries() == 0


def test_slack_ack_and_resolve_sync_to_pagerduty_and_the_echo_is_not_doubled(world: World) -> None:
    world.pd.add_incident("PINC003", title="Drift score 0.14 on document-classifier")
    world.pd.emit("incident.triggered", "PINC003")
    world.db.wait_outbox_drained()
    channel = incident_channel(world.slack, world.db)
    world.alice.click(ActionId.ACKNOWLEDGE, channel=channel.id, message_ts=world.db.incident(1).headline_ts)
    wait_until(lambda: world.pd.status_of("PINC003") == "acknowledged")
    put = world.pd.calls("/incidents/PINC003", method="PUT")[-1]
    assert put.headers["from"] == "bot@example.com"
    assert put.json == {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    wait_until(lambda: world.pd.webhooks("incident.acknowledged"))  # PagerDuty echoes the change
    wait_until(lambda: world.db.deliveries() == 2)

    world.alice.command("resolve rolled back", channel=channel.id)
    wait_until(lambda: world.pd.status_of("PINC003") == "resolved")
    wait_until(lambda: world.db.deliveries() == 3)
    world.db.wait_outbox_drained()
    changes = [e.data["to"] for e in world.timeline("status_changed")]
    assert changes == ["acknowledged", "resolved"], "echoes must not write second entries"
    assert len(world.pd.calls("/incidents/PINC003", method="PUT")) == 2


def test_pagerduty_side_changes_reach_slack_without_looping_back(world: World) -> None:
    world.pd.add_incident("PINC004", title="Scoring engine 5xx", priority="P3")
    world.pd.emit("incident.triggered", "PINC004")
    world.pd.emit("incident.acknowledged", "PINC004", agent="Dana Oncall")
    world.pd.update_incident("PINC004", priority="P1")
    world.pd.emit("incident.priority_updated", "PINC004")
    world.pd.emit("incident.annotated", "PINC004", note="Customer X reports wrong scores")
    world.pd.emit("incident.escalated", "PINC004")
    world.pd.emit("incident.delegated", "PINC004")  # not one we act on: recorded, answered 2xx
    world.pd.emit("incident.resolved", "PINC004", agent="Dana Oncall")
    world.db.wait_outbox_drained()
    stored = world.db.incident(1)
    assert (stored.status, stored.severity) == ("resolved", "P0")
    assert world.pd.calls(method="PUT") == [], "changes made in PagerDuty are not sent back to it"
    posts = "\n".join(all_text(m) for m in world.slack.messages(stored.channel_id))
    assert "PagerDuty (Dana Oncall) acknowledged" in posts
    assert "Customer X reports wrong scores" in posts
    assert "escalated" in posts
    assert "Resolved" in all_text(headline_message(world.slack, world.db))
    assert world.db.deliveries() == 7


def test_when_pagerduty_is_down_slack_still_works_and_the_sync_catches_up(world: World) -> None:
    world.pd.add_incident("PINC005", title="Provider outage: OpenAI timeouts")
    world.pd.emit("incident.triggered", "PINC005")
    world.db.wait_outbox_drained()
    channel = incident_channel(world.slack, world.db)
    # PagerDuty stays down until the bot has told the channel so: a fault for a fixed second
    # could end before a slow machine's first try, and then there would be nothing to catch up.
    world.pd.faults.add("/incidents/*", status=503, retry_after=0)
    answer = world.alice.command("resolve failed over to the backup provider", channel=channel.id).json()
    assert "resolved" in answer["text"]
    assert world.db.incident(1).status == "resolved"

    def posts() -> str:
        return "\n".join(all_text(m) for m in world.slack.messages(channel.id))

    wait_until(lambda: "Couldn't mark PagerDuty resolved yet" in posts(), timeout=20)
    assert world.pd.status_of("PINC005") != "resolved"
    world.pd.faults.clear()
    wait_until(lambda: world.pd.status_of("PINC005") == "resolved", timeout=20)
    world.db.wait_outbox_drained()
    assert "PagerDuty is in sync again" in posts()


def test_a_refused_signature_is_security_logged_without_the_body(world: World, http: httpx.Client, caplog) -> None:
    body, headers = world.pd.build_webhook("incident.triggered", world.pd.add_incident(title="SECRET-PAYLOAD")["id"])
    with caplog.at_level("WARNING", logger="incident_bot.security"):
        answer = http.post(f"{world.bot.url}/webhooks/pagerduty", content=body,
                           headers={**headers, "X-PagerDuty-Signature": "v1=" + "ab" * 32})
    assert answer.status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "incident_bot.security"]
    assert len(lines) == 1 and "refused pagerduty webhook" in lines[0]
    assert "SECRET-PAYLOAD" not in lines[0]
