"""Schema migrations: ``incident-bot migrate`` and start-up both upgrade to head."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from storage.db import ensure_sqlite_directory, sync_url
from storage.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    url = sync_url(database_url)
    ensure_sqlite_directory(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; URLs with escaped passwords contain it.
    config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    try:
        command.upgrade(alembic_config(database_url), "head")
    except (CommandError, SQLAlchemyError, OSError) as exc:
        raise MigrationError(f"migrating the database to head failed: {exc}") from exc


async def upgrade_to_head_async(database_url: str) -> None:
    """Alembic is synchronous; keep it off the event loop."""
    await asyncio.to_thread(upgrade_to_head, database_url)
