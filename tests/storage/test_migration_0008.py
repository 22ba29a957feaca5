"""Migration 0008 re-keys stored PagerDuty deliveries, so an upgrade opens no replay window.

Before it, a PagerDuty row's ``delivery_id`` was the unsigned ``X-Webhook-Id``. After it, the
header is ``webhook_id`` and a recent row is keyed by its body's signed ``event.id``, which is
what a replay under a fresh header is recognised by.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import create_engine, insert, select

from storage.db import sync_url
from storage.migrate import alembic_config
from storage.models import WebhookDelivery

NOW = datetime.now(UTC)


def _row(source: str, delivery_id: str, body: str, *, age: timedelta = timedelta(hours=1)) -> dict:
    return {"source": source, "delivery_id": delivery_id, "event_type": "incident.triggered",
            "outcome": "opened", "received_at": NOW - age, "body": body}


def _pagerduty_body(event_id: object) -> str:
    return json.dumps({"event": {"id": event_id, "event_type": "incident.triggered"}})


def test_pagerduty_rows_move_to_their_event_id_and_keep_the_webhook_id(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0007")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(insert(WebhookDelivery).values([
                _row("pagerduty", "wh-recent", _pagerduty_body("EVT-1")),
                # The same event stored again under a fresh header: a replay the old key let in.
                _row("pagerduty", "wh-replayed", _pagerduty_body("EVT-1")),
                _row("pagerduty", "wh-old", _pagerduty_body("EVT-OLD"), age=timedelta(days=10)),
                _row("pagerduty", "wh-no-id", _pagerduty_body(None)),
                _row("pagerduty", "wh-not-json", "not json"),
                _row("cloudwatch", "sns-message-1", "{}"),
            ]))
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = conn.execute(select(WebhookDelivery.source, WebhookDelivery.delivery_id, WebhookDelivery.webhook_id)
                                .order_by(WebhookDelivery.id)).all()
        assert [tuple(r) for r in rows] == [
            ("pagerduty", "EVT-1", "wh-recent"),
            ("pagerduty", "wh-replayed", "wh-replayed"),
            ("pagerduty", "wh-old", "wh-old"),  # older than any retry window: refused by its date
            ("pagerduty", "wh-no-id", "wh-no-id"),
            ("pagerduty", "wh-not-json", "wh-not-json"),
            ("cloudwatch", "sns-message-1", None),
        ]

        command.downgrade(config, "0007")
        with engine.connect() as conn:
            restored = conn.execute(select(WebhookDelivery.delivery_id).order_by(WebhookDelivery.id)).scalars().all()
        assert restored == ["wh-recent", "wh-replayed", "wh-old", "wh-no-id", "wh-not-json", "sns-message-1"]
    finally:
        command.upgrade(config, "head")
        engine.dispose()
