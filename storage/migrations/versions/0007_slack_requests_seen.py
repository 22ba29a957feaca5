"""Signed Slack requests already taken, shared by replicas, so a replay to another one is refused.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_requests_seen",
        sa.Column("signature", sa.String(100), primary_key=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_slack_requests_seen_expires_at", "slack_requests_seen", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_requests_seen_expires_at", "slack_requests_seen")
    op.drop_table("slack_requests_seen")
