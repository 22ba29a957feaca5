"""Replay references: what a model version answered for a pinned set of inputs, for the
Determinism investigation to compare later replays against.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replay_references",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("inputs_hash", sa.String(64), nullable=False),
        sa.Column("weights_digest", sa.String(64), nullable=False),
        sa.Column("input_count", sa.Integer, nullable=False),
        sa.Column("outputs", sa.JSON, nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("incident_number", sa.Integer),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("model", "version", "inputs_hash", name="uq_replay_reference"),
    )


def downgrade() -> None:
    op.drop_table("replay_references")
