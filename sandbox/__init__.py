"""A local Slack Web API sandbox: real HTTP, in-memory workspace, faults and call recording.

Tests point ``slack_sdk`` (and the bot, through ``SLACK_API_URL``) at ``LocalSlackServer``;
the demo mounts or serves ``SlackSandbox``. See ``sandbox.slack_api``.
"""

from typing import Any

from sandbox.faults import FaultInjector, FaultRule
from sandbox.models import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Channel,
    ChannelSpec,
    Ephemeral,
    Message,
    User,
    UserGroup,
)
from sandbox.recording import RecordedCall

_SERVER_NAMES = frozenset({"LocalSlackServer", "SlackSandbox", "serve"})


def __getattr__(name: str) -> Any:
    # Imported on first use, so `python -m sandbox.slack_api` does not find its own module
    # already imported by the package (runpy warns about that).
    if name in _SERVER_NAMES:
        from sandbox import slack_api

        return getattr(slack_api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "Channel",
    "ChannelSpec",
    "Ephemeral",
    "FaultInjector",
    "FaultRule",
    "LocalSlackServer",
    "Message",
    "RecordedCall",
    "SlackSandbox",
    "User",
    "UserGroup",
    "serve",
]
