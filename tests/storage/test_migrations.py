"""The migrations build exactly the schema the models describe, so neither drifts from the other."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from storage.migrate import upgrade_to_head
from storage.models import Base

# A partial index (WHERE summarized_at IS NULL) that only the migration declares; the alert-storm
# summary query reads it.
MIGRATION_ONLY_INDEXES = {"ix_timeline_unsummarized_alerts"}


def test_upgrading_to_head_gives_the_models_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    upgrade_to_head(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    unexpected = [d for d in diffs if not (d[0] == "remove_index" and d[1].name in MIGRATION_ONLY_INDEXES)]
    assert unexpected == []
