"""The console script, run as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from storage.migrate import alembic_config
from tests.databases import postgres_base_url


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "INCIDENT_BOT"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_help_is_written_for_a_newcomer() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for word in ("serve", "migrate", "demo", "SLACK_BOT_TOKEN", "INCIDENT_BOT_CONFIG"):
        assert word in result.stdout
    serve_help = run_cli("serve", "--help").stdout
    assert "--socket-mode" in serve_help and "--port" in serve_help


def test_migrate_creates_the_sqlite_database_and_is_repeatable(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/bot.db"
    for _ in range(2):
        result = run_cli("migrate", env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert "latest schema" in result.stdout
    assert (tmp_path / "nested/dir/bot.db").exists()


@pytest.mark.postgres
def test_migrate_on_postgres_with_a_plain_url(postgres_databases) -> None:
    base = postgres_base_url()
    if base is None or postgres_databases is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    name = "ib_cli_migrate"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(base).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        result = run_cli("migrate", env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        with psycopg.connect(url) as conn:
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_bad_config_file_stops_start_up_and_names_the_key(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("severities:\n  P5: {name: Huge}\nrbac:\n  actions:\n    stop: [commandr]\n")
    result = run_cli("serve", env={"INCIDENT_BOT_CONFIG": str(config), "SLACK_BOT_TOKEN": "xoxb-x",
                                    "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": f"sqlite:///{tmp_path}/b.db"})
    assert result.returncode == 2
    assert "severities.P5" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_settings_are_named(tmp_path) -> None:
    result = run_cli("serve", env={"DATABASE_URL": f"sqlite:///{tmp_path}/b.db"})
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    socket_mode = run_cli("serve", "--socket-mode", env={"SLACK_BOT_TOKEN": "xoxb-x",
                                                         "DATABASE_URL": f"sqlite:///{tmp_path}/b.db"})
    assert socket_mode.returncode == 2 and "SLACK_APP_TOKEN" in socket_mode.stderr


def test_an_unusable_database_url_is_a_clear_error() -> None:
    result = run_cli("migrate", env={"DATABASE_URL": "mysql://root@localhost/x"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr
