"""Escalation timers and the manager escalation thread.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("fired_at", UtcDateTime()),
        sa.Column("fired_by", sa.String(100)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_timers_incident_id", "timers", ["incident_id"])
    op.create_index("ix_timers_state_due", "timers", ["state", "due_at"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("escalation_level", sa.Integer, nullable=False, server_default="-1"))
        batch.add_column(sa.Column("escalated_at", UtcDateTime()))
        batch.add_column(sa.Column("escalation_channel_id", sa.String(32)))
        batch.add_column(sa.Column("escalation_ts", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("escalation_ts")
        batch.drop_column("escalation_channel_id")
        batch.drop_column("escalated_at")
        batch.drop_column("escalation_level")
    op.drop_table("timers")
