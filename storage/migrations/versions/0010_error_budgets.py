"""Error budgets: timers that belong to no incident (the budget check, the daily digest), each
schedulable once across replicas by its unique key, and each incident's share of its budget.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.alter_column("incident_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("unique_key", sa.String(100)))
        batch.create_index("uq_timers_unique_key", ["unique_key"], unique=True)
    op.create_table(
        "incident_budgets",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("measured_at", UtcDateTime(), nullable=False),
        sa.Column("target", sa.Float, nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("window_total", sa.Float, nullable=False),
        sa.Column("window_bad", sa.Float, nullable=False),
        sa.Column("incident_total", sa.Float, nullable=False),
        sa.Column("incident_bad", sa.Float, nullable=False),
        sa.Column("burn_rate", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("incident_budgets")
    # Timers of no incident cannot stay once the column is required again.
    op.execute("DELETE FROM timers WHERE incident_id IS NULL")
    with op.batch_alter_table("timers") as batch:
        batch.drop_index("uq_timers_unique_key")
        batch.drop_column("unique_key")
        batch.alter_column("incident_id", existing_type=sa.Integer, nullable=False)
