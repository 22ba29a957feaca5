"""The console script, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from storage.migrate import alembic_config
from tests.databases import postgres_base_url


def cli_env(env: dict[str, str] | None) -> dict[str, str]:
    """This environment without the bot's settings, plus `env`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "INCIDENT_BOT"))}
    return {**full_env, **(env or {})}


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=cli_env(env), capture_output=True, text=True, timeout=timeout,
        check=False,
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


def test_an_unknown_log_format_is_named_before_anything_runs(tmp_path) -> None:
    result = run_cli("migrate", env={"DATABASE_URL": f"sqlite:///{tmp_path}/b.db", "LOG_FORMAT": "xml"})
    assert result.returncode == 2
    assert "LOG_FORMAT: Input should be 'json' or 'text'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b.db").exists()


def test_the_commands_log_json_lines_when_not_on_a_terminal(tmp_path) -> None:
    result = run_cli("migrate", env={"DATABASE_URL": f"sqlite:///{tmp_path}/b.db", "LOG_FORMAT": ""})
    assert result.returncode == 0, result.stderr
    logged = [json.loads(line) for line in result.stderr.splitlines()]  # every line is one JSON object
    assert any(line["logger"] == "alembic.runtime.migration" and line["level"] == "INFO" for line in logged)


# The bot's install has no worker or demo extra: the subprocess below hides those packages the
# way a missing install does (an import of a name set to None in sys.modules raises
# ModuleNotFoundError), optionally also making a plugin module fail as if it imported one at its top.
WITHOUT = """
import sys
hidden, broken_plugin = sys.argv[1].split(","), sys.argv[2]
for name in hidden:
    sys.modules[name] = None

class BrokenPlugin:
    def find_spec(self, name, path=None, target=None):
        if name == broken_plugin:
            raise ModuleNotFoundError(f"No module named {hidden[0]!r}", name=hidden[0])
        return None

sys.meta_path.insert(0, BrokenPlugin())
from bot.cli import main
sys.exit(main(sys.argv[3:]))
"""


def run_without(hidden: str, *args: str, broken_plugin: str = "", env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
    """`incident-bot ARGS` with the packages in `hidden` (comma-separated) not installed."""
    return subprocess.run([sys.executable, "-c", WITHOUT, hidden, broken_plugin, *args], env=cli_env(env),
                          capture_output=True, text=True, timeout=120, check=False)


def test_without_the_worker_extra_the_worker_commands_say_what_to_install(tmp_path) -> None:
    env = {"MODEL_REGISTRY": str(tmp_path / "models")}
    worker = run_without("torch,transformers,numpy", "worker", "--port", "9001", env=env)
    assert worker.returncode == 2, worker.stderr
    assert "incident-bot: `worker` needs the worker extra: pip install 'incident-bot[worker]'" in worker.stderr
    train = run_without("torch,transformers,numpy", "models", "train", "--quick", env=env)
    assert train.returncode == 2, train.stderr
    assert "`models` needs the worker extra" in train.stderr and "Traceback" not in train.stderr
    # Reading the registry needs no torch.
    listed = run_without("torch,transformers,numpy", "models", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "no models yet" in listed.stdout


def test_without_the_demo_extra_the_demo_says_what_to_install(tmp_path) -> None:
    result = run_without("moto", "demo", "--no-worker", "--port", "0", "--state-dir", str(tmp_path / "demo"))
    assert result.returncode == 2, result.stderr
    assert "incident-bot: `demo` needs the demo extra: pip install 'incident-bot[demo]'" in result.stderr


def test_a_plugin_that_cannot_load_leaves_the_bots_commands_working(tmp_path) -> None:
    help_text = run_without("torch", "--help", broken_plugin="inference.cli")
    assert help_text.returncode == 0, help_text.stderr
    for command in ("serve", "migrate", "worker", "models", "postmortem", "runbooks", "demo"):
        assert command in help_text.stdout
    worker = run_without("torch", "worker", "--port", "9001", broken_plugin="inference.cli")
    assert worker.returncode == 2
    assert "incident-bot: `worker` needs the worker extra: pip install 'incident-bot[worker]'" in worker.stderr
    migrate = run_without("torch", "migrate", broken_plugin="inference.cli",
                          env={"DATABASE_URL": f"sqlite:///{tmp_path}/bot.db"})
    assert migrate.returncode == 0, migrate.stderr
    assert "latest schema" in migrate.stdout
    unknown = run_without("torch", "serve", "--bogus", broken_plugin="inference.cli")
    assert unknown.returncode == 2 and "unrecognized arguments: --bogus" in unknown.stderr


def test_the_help_lists_every_command_and_the_plugins_flags() -> None:
    listed = run_cli("--help").stdout
    for command in ("serve", "migrate", "worker", "models", "postmortem", "runbooks", "demo"):
        assert command in listed
    assert "--port" in run_cli("worker", "--help").stdout
    assert "--no-worker" in run_cli("demo", "--help").stdout
    assert "rollback" in run_cli("models", "--help").stdout
