"""Shared fixtures: databases on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import create_engine_for, session_factory
from tests.databases import PostgresDatabases, migrated_sqlite_url, postgres_base_url

# Session fixtures every package may use: quick-model registries and a local moto server.
pytest_plugins = ("tests.registries", "tests.inference.moto_server", "tests.demo_support")


# The session fixtures that train quick models (tests/registries.py): minutes of CPU each.
MODEL_FIXTURES = frozenset({"trained_registry", "golden_registry", "chart_registry", "full_registry",
                            "fusion_registry"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `make test` spreads the tests over the machine's cores (pytest-xdist, --dist loadgroup).
    # Every test that needs the quick models goes to one worker, which trains them once: spread
    # over two, each worker trained them again, side by side, and the run took longer, not less.
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("models"))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The test process holds millions of long-lived objects (torch, transformers, botocore's
    # models, every collected test): a full garbage collection walks them all, for up to a
    # second, while an app under test must ack Slack within 3 s. Moving what exists after
    # collection out of the collector's reach keeps those pauses short.
    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):  # type: ignore[no-untyped-def]
    # And again after each module: what its tests imported late (moto's models, botocore's,
    # hypothesis) and what they left behind would otherwise grow the collector's walk back to a
    # second by the end of the run. Collected first, so only what is still alive is frozen.
    yield
    if nextitem is None or nextitem.module is not item.module:
        gc.collect()
        gc.freeze()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases | None]:
    base = postgres_base_url()
    if base is None:
        yield None
        return
    databases = PostgresDatabases(base)
    databases.prepare_template()
    yield databases
    databases.drop_all()


def _backend_params() -> list:
    return ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_backend_params())
def database_url(request: pytest.FixtureRequest, tmp_path, postgres_databases) -> Iterator[str]:
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        yield migrated_sqlite_url(tmp_path)
        return
    yield from _fresh_postgres(postgres_databases)


@pytest.fixture
def postgres_url(postgres_databases) -> Iterator[str]:
    """Only PostgreSQL, for tests of behaviour that SQLite cannot show (real concurrency)."""
    yield from _fresh_postgres(postgres_databases)


def _fresh_postgres(postgres_databases: PostgresDatabases | None) -> Iterator[str]:
    if postgres_databases is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    url = postgres_databases.create()
    yield url
    postgres_databases.drop(url)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The root logger's handlers and level as they were, after a test that reconfigures logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
