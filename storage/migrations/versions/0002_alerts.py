"""Alerts in: webhook deliveries, alerts, grouping, and PagerDuty links on incidents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="slack"))
        batch.add_column(sa.Column("pagerduty_incident_id", sa.String(64)))
        batch.create_index("ix_incidents_pagerduty_incident_id", ["pagerduty_incident_id"])
    with op.batch_alter_table("timeline_events") as batch:
        batch.add_column(sa.Column("summarized_at", UtcDateTime()))
    op.create_index(
        "ix_timeline_unsummarized_alerts", "timeline_events", ["incident_id", "kind"],
        postgresql_where=sa.text("summarized_at IS NULL"), sqlite_where=sa.text("summarized_at IS NULL"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.Integer, index=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("source", "delivery_id", name="uq_webhook_delivery"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(300), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("cleared_at", UtcDateTime()),
        sa.Column("pagerduty_incident_id", sa.String(64)),
        sa.Column("details", sa.JSON, nullable=False),
        sa.UniqueConstraint("incident_id", "dedup_key", name="uq_alert_per_incident"),
    )
    op.create_index("ix_alerts_dedup_key", "alerts", ["dedup_key"])
    op.create_table(
        "incident_groups",
        sa.Column("group_key", sa.String(300), primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("last_alert_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_unsummarized_alerts", table_name="timeline_events")
    with op.batch_alter_table("timeline_events") as batch:
        batch.drop_column("summarized_at")
    op.drop_table("incident_groups")
    op.drop_index("ix_alerts_dedup_key", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_pagerduty_incident_id")
        batch.drop_column("pagerduty_incident_id")
        batch.drop_column("source")
