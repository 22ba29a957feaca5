"""Runbook checklists: which runbook an incident follows, why, and the state of its steps.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_runbooks",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("runbook", sa.String(64)),
        sa.Column("chosen_by", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("suggestion", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("chosen_at", UtcDateTime(), nullable=False),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "runbook_steps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("runbook", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(150), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("action_id", sa.Integer, sa.ForeignKey("response_actions.id", ondelete="SET NULL")),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("done_by", sa.String(64)),
        sa.Column("done_at", UtcDateTime()),
        sa.UniqueConstraint("incident_id", "runbook", "step_id", name="uq_runbook_step"),
    )
    op.create_index("ix_runbook_steps_action_id", "runbook_steps", ["action_id"])


def downgrade() -> None:
    op.drop_index("ix_runbook_steps_action_id", table_name="runbook_steps")
    op.drop_table("runbook_steps")
    op.drop_table("incident_runbooks")
