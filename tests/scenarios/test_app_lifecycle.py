"""A stopped bot lets go of everything it built, so a process (or a test run) that starts many
bots does not keep them all."""

from __future__ import annotations

import gc
import weakref

import httpx

from sandbox.slack_api import LocalSlackServer
from tests.scenarios.harness import BotServer, SlackUser, bot_settings


def test_a_stopped_bot_leaves_nothing_alive(slack: LocalSlackServer, database_url: str,
                                            http: httpx.Client) -> None:
    bot = BotServer(bot_settings(slack=slack, database_url=database_url)).start()
    try:
        assert SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http).command("help").status_code == 200
        services = weakref.ref(bot.app.state.services)
        bolt = weakref.ref(bot.app.state.slack_door.bolt)
    finally:
        bot.stop()
    del bot
    gc.collect()
    assert services() is None and bolt() is None, "a stopped bot's services are still referenced"
