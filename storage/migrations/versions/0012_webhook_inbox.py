"""The webhook inbox: a delivery is appended before its 2xx and applied after it. Each row keeps
its parsed signal until then; pending rows are read in arrival order; one row of ``inbox_lease``
is locked by whichever process applies them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("signal", sa.JSON))
        batch.create_index("ix_webhook_deliveries_outcome", ["outcome", "id"])
    lease = op.create_table("inbox_lease", sa.Column("id", sa.Integer, primary_key=True))
    op.bulk_insert(lease, [{"id": 1}])


def downgrade() -> None:
    op.drop_table("inbox_lease")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_outcome")
        batch.drop_column("signal")
