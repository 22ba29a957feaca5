"""Errors of the Slack edge. slack_sdk's errors are mapped to these at the gateway."""

from __future__ import annotations

from bot.core.delivery import GiveUp, RetryLater


class SlackError(Exception):
    """Base class for failed Slack writes."""


class SlackUnavailable(SlackError, RetryLater):
    """Slack is rate limiting, failing or unreachable: try again later."""


class SlackRejected(SlackError, GiveUp):
    """Slack refused the call (``ok: false``); repeating it unchanged will not help."""

    def __init__(self, method: str, code: str) -> None:
        super().__init__(f"{method}: {code}")
        self.method = method
        self.code = code


class ChannelNameTaken(SlackRejected):
    def __init__(self, name: str) -> None:
        super().__init__("conversations.create", "name_taken")
        self.name = name
