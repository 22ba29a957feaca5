"""Building the Bolt app from Settings. No global app: each call returns a fresh one."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import Settings
from handlers.services import Services
from handlers.slack import register
from handlers.slack.context import install_services


def build_bolt_app(settings: Settings, *, client: AsyncWebClient, services: Services) -> AsyncApp:
    async def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        # One workspace and one token: authorizing from settings avoids an auth.test call on the
        # first request, which would make answering a slash command depend on Slack being up.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=settings.slack_bot_token,
        )

    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        authorize=authorize,
        # The HTTP endpoint verifies signatures before Bolt sees a request (bot/app.py), and
        # Socket Mode messages arrive over Slack's own authenticated WebSocket, unsigned.
        request_verification_enabled=False,
        process_before_response=False,
    )
    install_services(app, services)
    register(app)
    return app
