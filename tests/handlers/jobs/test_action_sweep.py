"""The action sweep loop outlives a database outage: each failed round is logged, the next one runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.config import IncidentBotConfig
from bot.core.actions.apply import Executor
from bot.core.actions.pipeline import ActionPipeline
from bot.core.actions.plans import Planner
from bot.core.actions.providers import ActionProviders
from bot.core.actions.rbac import Authorizer
from bot.core.unit_of_work import Core
from bot.slack.gateway import SlackSdkGateway, build_web_client
from handlers.jobs.action_sweep import sweep_actions
from storage.db import create_engine_for, session_factory


async def test_a_database_error_is_logged_and_the_next_round_tries_again(tmp_path, caplog) -> None:
    # An empty SQLite file has no tables: every sweep fails as a database error.
    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    config = IncidentBotConfig.from_mapping({})
    providers = ActionProviders()
    # The sweep never asks Slack anything; nothing listens at this address.
    gateway = SlackSdkGateway(build_web_client(token="xoxb-test", base_url="http://127.0.0.1:9/api/"), post_interval=0)
    actions = ActionPipeline(
        core=Core(sessions=session_factory(engine)), config=config,
        planner=Planner(config=config, providers=providers), executor=Executor(config=config, providers=providers),
        authorizer=Authorizer(rbac=config.rbac, directory=gateway),
    )
    task = asyncio.create_task(sweep_actions(actions=actions, interval=0.02))
    try:
        with caplog.at_level(logging.WARNING, logger="handlers.jobs.action_sweep"):
            async with asyncio.timeout(10):
                while len([r for r in caplog.records if "could not sweep actions" in r.message]) < 2:  # noqa: ASYNC110  polls the captured log
                    await asyncio.sleep(0.02)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await actions.aclose()
        await engine.dispose()
