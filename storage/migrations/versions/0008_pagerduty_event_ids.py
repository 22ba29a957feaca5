"""PagerDuty deliveries are keyed by their signed event.id, with X-Webhook-Id as a second key.

Before this revision a PagerDuty row's ``delivery_id`` was its unsigned ``X-Webhook-Id``, so a
captured delivery resent under a fresh one counted again. Existing rows keep that id as
``webhook_id``; the recent ones, the only ones PagerDuty (or a replay inside its retry window)
can still send, take their body's ``event.id`` as ``delivery_id``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PAGERDUTY = "pagerduty"
# PagerDuty's 48 h retry window, with room for clock skew: an older delivery is refused by its
# date whatever its key, so only these need their event id.
REKEY_WINDOW = timedelta(hours=72)
MAX_KEY = 200

deliveries = sa.table(
    "webhook_deliveries",
    sa.column("id", sa.Integer), sa.column("source", sa.String), sa.column("delivery_id", sa.String),
    sa.column("webhook_id", sa.String), sa.column("received_at", UtcDateTime()), sa.column("body", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("webhook_id", sa.String(200)))
        batch.create_unique_constraint("uq_webhook_delivery_webhook_id", ["source", "webhook_id"])
    bind = op.get_bind()
    bind.execute(deliveries.update().where(deliveries.c.source == PAGERDUTY)
                 .values(webhook_id=deliveries.c.delivery_id))
    recent = bind.execute(
        sa.select(deliveries.c.id, deliveries.c.body)
        .where(deliveries.c.source == PAGERDUTY, deliveries.c.received_at >= datetime.now(UTC) - REKEY_WINDOW)
        .order_by(deliveries.c.id)
    ).all()
    for row_id, body in recent:
        event_id = _event_id(body)
        if event_id is None or _taken(bind, event_id):
            # A replay stored before this revision shares its event id with an earlier row:
            # that row holds the key, and this one keeps its webhook id.
            continue
        bind.execute(deliveries.update().where(deliveries.c.id == row_id).values(delivery_id=event_id))


def _event_id(body: str) -> str | None:
    try:
        event = json.loads(body).get("event")
    except (ValueError, AttributeError, RecursionError):
        return None
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_KEY:
        return None
    return event_id.strip()


def _taken(bind: sa.Connection, delivery_id: str) -> bool:
    found = bind.scalar(
        sa.select(deliveries.c.id).where(deliveries.c.source == PAGERDUTY, deliveries.c.delivery_id == delivery_id)
    )
    return found is not None


def downgrade() -> None:
    op.get_bind().execute(
        deliveries.update().where(deliveries.c.source == PAGERDUTY, deliveries.c.webhook_id.is_not(None))
        .values(delivery_id=deliveries.c.webhook_id)
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_constraint("uq_webhook_delivery_webhook_id", type_="unique")
        batch.drop_column("webhook_id")
