"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database cloned from a migrated template.

PostgreSQL is used when TEST_DATABASE_URL is set (CI sets it); then those tests must run, never skip.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from storage.migrate import upgrade_to_head

POSTGRES_ENV = "TEST_DATABASE_URL"


def postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def migrated_sqlite_url(folder: Path) -> str:
    url = f"sqlite:///{folder / 'incident-bot.db'}"
    upgrade_to_head(url)
    return url


class PostgresDatabases:
    """Creates one database per test from a template migrated once per run."""

    def __init__(self, base_url: str) -> None:
        self._base = make_url(base_url)
        self._prefix = f"ib_{uuid.uuid4().hex[:8]}"
        self._counter = itertools.count()
        self._template = f"{self._prefix}_template"
        self._created: list[str] = []

    def _admin(self) -> psycopg.Connection:
        url = self._base.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def url_for(self, name: str) -> str:
        return self._base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)

    def prepare_template(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self._template}"')
        self._created.append(self._template)
        upgrade_to_head(self.url_for(self._template))

    def create(self) -> str:
        name = f"{self._prefix}_{next(self._counter)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._created.append(name)
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in reversed(self._created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
