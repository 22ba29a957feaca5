"""Each inbox row keeps the incident group it was routed to as it arrived: pending rows are
applied in arrival order within a group, and the groups take turns, so one service's storm does
not hold back another service's first alert.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("group_key", sa.String(300)))
        batch.create_index("ix_webhook_deliveries_outcome_group", ["outcome", "group_key", "id"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_outcome_group")
        batch.drop_column("group_key")
