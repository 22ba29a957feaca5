"""Timeline captures, follow-ups, and postmortems with their drafts and reviews.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_events") as batch:
        batch.add_column(sa.Column("source_ts", sa.String(32)))
    # One entry per captured Slack message: a second 📌 or the shortcut finds the first.
    op.create_index("uq_timeline_capture", "timeline_events", ["incident_id", "source_ts"], unique=True)
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner", sa.String(32)),
        sa.Column("due_on", sa.Date),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("done_by", sa.String(64)),
        sa.Column("done_at", UtcDateTime()),
    )
    op.create_index("ix_follow_ups_incident_id", "follow_ups", ["incident_id"])
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("current_draft", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("approved_at", UtcDateTime()),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("posted_draft", sa.Integer),
        sa.Column("post_error", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("incident_id", name="uq_postmortems_incident"),
    )
    op.create_table(
        "postmortem_drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("postmortem_id", sa.Integer, sa.ForeignKey("postmortems.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("file_id", sa.String(32)),
        sa.UniqueConstraint("postmortem_id", "number", name="uq_postmortem_draft_number"),
        sa.UniqueConstraint("request_id", name="uq_postmortem_draft_request"),
    )
    op.create_table(
        "postmortem_reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("postmortem_id", sa.Integer, sa.ForeignKey("postmortems.id", ondelete="CASCADE"), nullable=False),
        sa.Column("draft_number", sa.Integer, nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_postmortem_reviews_postmortem_id", "postmortem_reviews", ["postmortem_id"])


def downgrade() -> None:
    op.drop_table("postmortem_reviews")
    op.drop_table("postmortem_drafts")
    op.drop_table("postmortems")
    op.drop_table("follow_ups")
    op.drop_index("uq_timeline_capture", table_name="timeline_events")
    with op.batch_alter_table("timeline_events") as batch:
        batch.drop_column("source_ts")
