from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.aws_seed import SeededProduction, seed_production
from sandbox.slack_api import LocalSlackServer
from tests.scenarios.harness import BotServer, Database, SlackUser, bot_settings


@pytest.fixture
def slack() -> Iterator[LocalSlackServer]:
    with LocalSlackServer() as server:
        yield server


@pytest.fixture
def bot_factory(slack: LocalSlackServer, database_url: str):
    started: list[BotServer] = []

    def start(**overrides) -> BotServer:
        server = BotServer(bot_settings(slack=slack, database_url=database_url, **overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def bot(bot_factory) -> BotServer:
    return bot_factory()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def alice(bot: BotServer, slack: LocalSlackServer, http: httpx.Client) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)


@pytest.fixture
def bob(bot: BotServer, slack: LocalSlackServer, http: httpx.Client) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id="U0BOB", http=http)


@pytest.fixture
def production(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> SeededProduction:
    # moto reports this many running tasks for a new service (read when the service is created);
    # without it a service never looks settled.
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "4")
    return seed_production(aws_env)
