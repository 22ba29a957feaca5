"""The outbox keeps the correlation id of the work that queued each write, so the logs of its
Slack calls carry the same id as the webhook delivery, Slack request, timer or action behind it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slack_outbox") as batch:
        batch.add_column(sa.Column("correlation_id", sa.String(160)))


def downgrade() -> None:
    with op.batch_alter_table("slack_outbox") as batch:
        batch.drop_column("correlation_id")
