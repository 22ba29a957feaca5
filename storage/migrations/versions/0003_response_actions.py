"""Guarded response actions: one row per action, from proposal to verified result.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_actions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after", sa.JSON, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("needs_approval", sa.Boolean, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", UtcDateTime()),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("started_at", UtcDateTime()),
        sa.Column("finished_at", UtcDateTime()),
        sa.Column("progress", sa.Text, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("active_target", sa.String(300)),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("active_target", name="uq_response_actions_active_target"),
    )
    op.create_index("ix_response_actions_incident_id", "response_actions", ["incident_id"])
    op.create_index("ix_response_actions_state_expiry", "response_actions", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_table("response_actions")
