"""Migration 0009 adds the Determinism investigation's replay references: one per model, version
and set of inputs, which the database itself enforces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, inspect
from sqlalchemy.exc import IntegrityError

from storage.db import sync_url
from storage.migrate import alembic_config
from storage.models import ReplayReference


def _reference(version: str) -> dict:
    return {"model": "incident-text", "version": version, "inputs_hash": "f" * 64, "weights_digest": "",
            "input_count": 1, "outputs": [{"label": "high_latency", "scores": {"high_latency": 1.0}}],
            "service": "scoring-api", "incident_number": None, "recorded_at": datetime.now(UTC)}


def test_one_reference_per_model_version_and_inputs_and_a_clean_downgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(insert(ReplayReference).values([_reference("v1"), _reference("v2")]))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(ReplayReference).values(_reference("v1")))
        command.downgrade(config, "0008")
        assert "replay_references" not in inspect(engine).get_table_names()
        command.upgrade(config, "head")
        assert "replay_references" in inspect(engine).get_table_names()
    finally:
        command.upgrade(config, "head")
        engine.dispose()
