"""A captured PagerDuty delivery, however re-labelled, has no second effect.

The signature covers the body, and so the body's ``event.id`` and ``occurred_at``, but not the
``X-Webhook-Id`` header. These tests replay signed deliveries over HTTP with fresh webhook ids,
late, and concurrently, against the served bot, the local PagerDuty as the genuine sender.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import AppOptions
from bot.core.clock import utc_now
from sandbox.pagerduty_api import LocalPagerDutyServer, SentWebhook, sign_body
from sandbox.slack_api import LocalSlackServer
from storage.models import Alert, TimelineEvent, Timer, WebhookDelivery
from tests.scenarios.harness import BotServer, Database, bot_settings
from tests.scenarios.test_pagerduty import wait_until
from tests.security.support import PAGERDUTY_SECRET, assert_no_trace

RETRY_WINDOW = timedelta(hours=48)  # PagerDuty's; what the bot holds a delivery's age to


class ShiftableClock:
    """The real time plus an offset the test moves: the bot's core reads it for every decision."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return utc_now() + self._offset

    def advance(self, by: timedelta) -> None:
        with self._lock:
            self._offset += by


@dataclass
class Replay:
    bot: BotServer
    pd: LocalPagerDutyServer
    db: Database
    slack: LocalSlackServer
    http: httpx.Client
    clock: ShiftableClock

    @property
    def url(self) -> str:
        return f"{self.bot.url}/webhooks/pagerduty"

    def resend(self, sent: SentWebhook, *, webhook_id: str | None = None) -> httpx.Response:
        """The captured bytes and signature again; with ``webhook_id``, re-labelled as a new delivery."""
        headers = dict(sent.headers)
        if webhook_id is not None:
            headers["X-Webhook-Id"] = webhook_id
        return self.http.post(self.url, content=sent.body, headers=headers)

    def post_signed(self, event: dict, *, webhook_id: str | None = None) -> httpx.Response:
        body = json.dumps({"event": event}).encode()
        return self.http.post(self.url, content=body, headers={
            "Content-Type": "application/json", "X-PagerDuty-Signature": sign_body(body, [PAGERDUTY_SECRET]),
            "X-Webhook-Id": webhook_id or str(uuid.uuid4())})

    def status(self, number: int = 1) -> str:
        return self.db.incident(number).status

    def pending_timers(self) -> list[tuple[int, str]]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(Timer.id, Timer.kind).where(Timer.state == "pending").order_by(Timer.id))
            return [(timer_id, kind) for timer_id, kind in rows]

    def timeline(self, kind: str) -> list[Any]:
        """The incident timeline's rows of one kind, oldest first."""
        with self.db.engine.connect() as conn:
            return list(conn.execute(select(TimelineEvent).where(TimelineEvent.kind == kind)
                                     .order_by(TimelineEvent.id)).all())

    def alert_occurrences(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.scalar(select(func.coalesce(func.sum(Alert.occurrences), 0))) or 0)

    def delivery_keys(self) -> list[tuple[str, str | None]]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(WebhookDelivery.delivery_id, WebhookDelivery.webhook_id).order_by(WebhookDelivery.id))
            return [(delivery_id, webhook_id) for delivery_id, webhook_id in rows]


@pytest.fixture
def pagerduty() -> Iterator[LocalPagerDutyServer]:
    with LocalPagerDutyServer() as server:
        yield server


@pytest.fixture
def replay(slack, database_url, db, http, pagerduty) -> Iterator[Replay]:
    clock = ShiftableClock()
    bot = BotServer(bot_settings(slack=slack, database_url=database_url, pagerduty_webhook_secrets=PAGERDUTY_SECRET),
                    AppOptions(clock=clock))
    bot.start()
    pagerduty.webhook_sender(f"{bot.url}/webhooks/pagerduty", [PAGERDUTY_SECRET])
    try:
        yield Replay(bot=bot, pd=pagerduty, db=db, slack=slack, http=http, clock=clock)
    finally:
        bot.stop()


def _event(replay: Replay, event_type: str, incident_id: str, **changes: object) -> dict:
    """A genuine event as the local PagerDuty builds it, with some fields changed before signing."""
    body, _ = replay.pd.build_webhook(event_type, incident_id)
    event = json.loads(body)["event"]
    event.update(changes)
    return event


def applied(replay: Replay, answer: httpx.Response) -> str:
    """What an accepted delivery did, once the bot applied it (after its 2xx)."""
    assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text
    return replay.db.last_outcome()[0]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_captured_resolve_resent_with_a_fresh_webhook_id_does_not_resolve_the_reopened_incident(
        replay: Replay) -> None:
    replay.pd.add_incident("PREPLAY1", title="Scoring engine 5xx", service_id="PSVC001")
    assert applied(replay, replay.pd.emit("incident.triggered", "PREPLAY1")) == "opened"
    assert applied(replay, replay.pd.emit("incident.resolved", "PREPLAY1")) == "updated"
    captured = replay.pd.webhooks("incident.resolved")[-1]
    assert applied(replay, replay.pd.emit("incident.reopened", "PREPLAY1")) == "updated"
    assert replay.status() == "triggered"
    # Paging is back on: the reopened incident's escalation timers are planned.
    wait_until(lambda: replay.pending_timers() and all(kind != "plan" for _, kind in replay.pending_timers()))
    replay.db.wait_outbox_drained()
    paging = replay.pending_timers()
    changes = len(replay.timeline("status_changed"))

    answer = replay.resend(captured, webhook_id=str(uuid.uuid4()))

    assert answer.status_code == 200 and answer.json()["status"] == "duplicate", answer.text
    replay.db.wait_outbox_drained()
    assert replay.status() == "triggered"
    assert replay.pending_timers() == paging, "the replay must not stop the paging"
    assert len(replay.timeline("status_changed")) == changes
    assert replay.db.deliveries() == 3


def test_a_replayed_annotation_with_a_fresh_webhook_id_adds_the_note_once(replay: Replay) -> None:
    replay.pd.add_incident("PREPLAY2", title="Drift on document-classifier")
    replay.pd.emit("incident.triggered", "PREPLAY2")
    first = replay.pd.emit("incident.annotated", "PREPLAY2", note="Rolled back to v41 at 10:02")
    assert applied(replay, first) == "updated"
    captured = replay.pd.webhooks("incident.annotated")[-1]

    answers = [replay.resend(captured, webhook_id=str(uuid.uuid4())) for _ in range(3)]

    assert [(a.status_code, a.json()["status"]) for a in answers] == [(200, "duplicate")] * 3
    replay.db.wait_outbox_drained()
    notes = [e.text for e in replay.timeline("note")]
    assert notes == ["Rolled back to v41 at 10:02"]
    channel = replay.db.incident(1).channel_id
    posted = [m for m in replay.slack.messages(channel) if "Rolled back to v41 at 10:02" in (m.text or "")]
    assert len(posted) == 1
    assert replay.db.deliveries() == 2


def test_a_genuine_retry_is_counted_once(replay: Replay) -> None:
    replay.pd.add_incident("PREPLAY3", title="Ticket classifier auto-apply errors")
    first = replay.pd.emit("incident.triggered", "PREPLAY3")
    webhook_id = first.request.headers["x-webhook-id"]

    again = [replay.pd.redeliver(webhook_id) for _ in range(2)]

    assert applied(replay, first) == "opened"
    assert [(a.status_code, a.json()["status"]) for a in again] == [(200, "duplicate")] * 2
    assert replay.db.deliveries() == 1 and replay.alert_occurrences() == 1
    sent_event_id = json.loads(first.request.content)["event"]["id"]
    assert replay.delivery_keys() == [(sent_event_id, webhook_id)]


def test_one_event_re_labelled_concurrently_counts_once(replay: Replay) -> None:
    replay.pd.add_incident("PREPLAY4", title="Provider outage: OpenAI timeouts")
    body, headers = replay.pd.build_webhook("incident.triggered", "PREPLAY4")

    def deliver(_: int) -> httpx.Response:
        with httpx.Client(timeout=10) as client:
            return client.post(replay.url, content=body, headers={**headers, "X-Webhook-Id": str(uuid.uuid4())})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(deliver, range(8)))

    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["status"] for a in answers) == ["accepted"] + ["duplicate"] * 7
    assert replay.db.outcomes() == ["opened"]
    assert replay.db.deliveries() == 1 and replay.alert_occurrences() == 1
    assert len(replay.db.incidents()) == 1


def test_a_signed_delivery_older_than_the_retry_window_never_seen_is_refused(replay: Replay) -> None:
    replay.pd.add_incident("PREPLAY5", title="Checkout latency")
    stale = _event(replay, "incident.triggered", "PREPLAY5",
                   occurred_at=_iso(utc_now() - RETRY_WINDOW - timedelta(minutes=1)))

    answer = replay.post_signed(stale)

    assert 400 <= answer.status_code < 500 and answer.status_code != 429, answer.text
    assert_no_trace(replay.db, replay.slack)


def test_a_delivery_just_inside_the_retry_window_is_accepted(replay: Replay) -> None:
    """The control for the stale case: the same delivery an hour younger opens the incident."""
    replay.pd.add_incident("PREPLAY6", title="Checkout latency")
    late = _event(replay, "incident.triggered", "PREPLAY6",
                  occurred_at=_iso(utc_now() - RETRY_WINDOW + timedelta(hours=1)))

    answer = replay.post_signed(late)

    assert applied(replay, answer) == "opened"


def test_an_old_delivery_already_known_is_a_quiet_duplicate(replay: Replay) -> None:
    replay.pd.add_incident("PREPLAY7", title="Predictive maintenance drift")
    first = replay.pd.emit("incident.triggered", "PREPLAY7")
    assert applied(replay, first) == "opened"
    captured = replay.pd.webhooks("incident.triggered")[-1]
    replay.db.wait_outbox_drained()

    replay.clock.advance(RETRY_WINDOW + timedelta(hours=1))
    retried = replay.resend(captured)
    relabelled = replay.resend(captured, webhook_id=str(uuid.uuid4()))

    assert (retried.status_code, retried.json()["status"]) == (200, "duplicate"), retried.text
    assert (relabelled.status_code, relabelled.json()["status"]) == (200, "duplicate"), relabelled.text
    assert replay.db.deliveries() == 1 and replay.alert_occurrences() == 1


def test_a_delivery_dated_beyond_the_clock_skew_allowance_is_refused(replay: Replay) -> None:
    replay.pd.add_incident("PREPLAY8", title="Checkout latency")
    ahead = _event(replay, "incident.triggered", "PREPLAY8", occurred_at=_iso(utc_now() + timedelta(hours=1)))
    slightly_ahead = _event(replay, "incident.triggered", "PREPLAY8",
                            occurred_at=_iso(utc_now() + timedelta(minutes=2)))

    refused = replay.post_signed(ahead)
    assert 400 <= refused.status_code < 500, refused.text
    assert_no_trace(replay.db, replay.slack)
    accepted = replay.post_signed(slightly_ahead)
    assert applied(replay, accepted) == "opened"


@pytest.mark.parametrize("change", [
    {"id": None}, {"id": ""}, {"id": "   "}, {"id": 42}, {"id": "x" * 201},
    {"occurred_at": None}, {"occurred_at": "yesterday"},
], ids=["no id", "empty id", "blank id", "numeric id", "id too long", "no occurred_at", "bad occurred_at"])
def test_a_signed_delivery_without_an_event_id_or_date_is_refused(replay: Replay, change: dict) -> None:
    replay.pd.add_incident("PREPLAY9", title="Checkout latency")
    event = _event(replay, "incident.triggered", "PREPLAY9")
    for key, value in change.items():
        if value is None:
            del event[key]
        else:
            event[key] = value

    answer = replay.post_signed(event)

    assert answer.status_code == 400, answer.text
    assert_no_trace(replay.db, replay.slack)
