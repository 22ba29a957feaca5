"""The real app over HTTP against the local Slack server, driven as Slack would drive it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select, update

from bot.app import AppOptions, create_app
from bot.config.settings import Settings
from bot.core.outbox import OutboxKind, OutboxState, incident_ordering_key
from handlers.slack.context import WORKING_ON_IT
from sandbox.runner import (
    OutboxProbe,
    SignedSlackClient,
    ThreadedServer,
    slack_signature_headers,
)
from sandbox.slack_api import LocalSlackServer
from storage.models import InboxLease, Incident, OutboxMessage, WebhookDelivery

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


def sign(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    return slack_signature_headers(body, secret=secret, timestamp=timestamp)


def bot_settings(*, slack: LocalSlackServer, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.base_url,
        database_url=database_url, slack_post_interval=0.0, outbox_poll_interval=0.05, outbox_retry_base=0.1,
    )
    values.update(overrides)
    return Settings(**values)


class BotServer(ThreadedServer):
    def __init__(self, settings: Settings, options: AppOptions = AppOptions()) -> None:  # noqa: B008  AppOptions is a frozen dataclass
        super().__init__(create_app(settings, options))
        self.settings = settings


@dataclass
class SlackUser:
    """A person in the local workspace; commands default to #general."""

    bot: BotServer
    slack: LocalSlackServer
    user_id: str
    http: httpx.Client

    def __post_init__(self) -> None:
        self.client = SignedSlackClient(bot_url=self.bot.url, secret=SIGNING_SECRET, user_id=self.user_id,
                                        http=self.http, response_url_for=self.slack.response_url)

    def command(self, text: str, *, channel: str | None = None, trigger_id: str | None = None) -> httpx.Response:
        """Run ``/incident <text>``; the answer is what the person ends up reading.

        A command slower than the bot's ack budget is acked with "Working on it" and answered
        through its response_url, where Slack's client shows the answer in its place. On a slow
        machine any command can take that path, so the later answer is returned in the ack's
        place and tests read the same body either way.
        """
        response = self.client.command(text, channel=channel or self.slack.channel_id("general"),
                                       trigger_id=trigger_id)
        if response.status_code != 200 or not _is_working_on_it(response):
            return response
        name = self.client.last_response_name
        deadline = time.monotonic() + 30.0
        while not (later := self.slack.responses(name)):
            if time.monotonic() > deadline:
                raise AssertionError(f"/incident {text!r} was acked as working on it and never answered")
            time.sleep(0.05)
        return httpx.Response(200, json=later[-1], request=response.request)

    def click(self, action_id: str, *, channel: str, message_ts: str, value: str | None = None,
              block_id: str = "headline_actions") -> httpx.Response:
        return self.client.click(action_id, channel=channel, message_ts=message_ts, block_id=block_id, value=value)

    def tick(self, action_id: str, *, channel: str, message_ts: str, block_id: str, value: str,
             checked: bool = True) -> httpx.Response:
        return self.client.tick(action_id, channel=channel, message_ts=message_ts, block_id=block_id, value=value,
                                checked=checked)

    def choose(self, action_id: str, *, channel: str, message_ts: str, block_id: str, value: str) -> httpx.Response:
        return self.client.choose(action_id, channel=channel, message_ts=message_ts, block_id=block_id, value=value)

    def click_in_view(self, action_id: str, *, view: dict[str, Any], value: str | None = None) -> httpx.Response:
        return self.client.click_in_view(action_id, view=view, value=value)

    def submit_view(self, view: dict[str, Any], values: dict[str, Any]) -> httpx.Response:
        return self.client.submit_view(view, values)

    def responses(self) -> list[dict[str, Any]]:
        return self.slack.responses(self.client.last_response_name)


def _is_working_on_it(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("text", "")).startswith(WORKING_ON_IT)


class Database(OutboxProbe):
    """Synchronous looks at the bot's database, from the test's side."""

    def pending_outbox(self) -> int:
        return self.pending()

    def wait_outbox_drained(self, timeout: float = 30.0) -> None:
        self.wait_drained(timeout)

    def deliveries(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)

    def wait_inbox_applied(self, timeout: float = 30.0) -> None:
        """Wait until every acknowledged webhook delivery has been applied (the bot applies them
        after the 2xx), so what a test reads next is what those deliveries did."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = self.deliveries_to_apply()
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{waiting} webhook deliveries still not applied after {timeout} s")
            time.sleep(0.02)

    def hold_the_inbox(self) -> None:
        """Take away the inbox's lease row: every pass finds no lease, so nothing is applied (as
        when another replica holds it), while the backlog is still measured."""
        with self.engine.begin() as conn:
            conn.execute(delete(InboxLease))

    def release_the_inbox(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(InboxLease).values(id=1))

    def provision_again_as_if_cut_off(self, incident_id: int) -> None:
        """The bot killed between conversations.create and the record of the channel: the record
        is gone, and the provisioning step is due again."""
        with self.engine.begin() as conn:
            conn.execute(update(Incident).where(Incident.id == incident_id).values(channel_id=None))
            now = datetime.now(UTC)
            conn.execute(insert(OutboxMessage).values(
                incident_id=incident_id, kind=OutboxKind.PROVISION_CHANNEL.value, payload={"incident_id": incident_id},
                ordering_key=incident_ordering_key(incident_id), state=OutboxState.PENDING.value, attempts=0,
                created_at=now, next_attempt_at=now))

    def outcomes(self) -> list[str]:
        """What each webhook delivery did (opened, attached, updated, ...), in arrival order,
        once every one has been applied."""
        self.wait_inbox_applied()
        with self.engine.connect() as conn:
            return list(conn.scalars(select(WebhookDelivery.outcome).order_by(WebhookDelivery.id)))

    def last_outcome(self) -> tuple[str, int | None]:
        """The newest delivery's outcome and its incident's number, once applied."""
        self.wait_inbox_applied()
        with self.engine.connect() as conn:
            row = conn.execute(select(WebhookDelivery.outcome, Incident.number)
                               .outerjoin(Incident, Incident.id == WebhookDelivery.incident_id)
                               .order_by(WebhookDelivery.id.desc()).limit(1)).one()
            return row.outcome, row.number

    def incidents(self) -> list[Any]:
        self.wait_inbox_applied()
        with self.engine.connect() as conn:
            return list(conn.execute(select(Incident).order_by(Incident.number)).all())

    def wait_incident_ready(self, number: int = 1, timeout: float = 30.0) -> Any:
        """Wait for incident ``number`` to exist with its channel and headline, then for the outbox.

        A command acked early on a busy machine may still be committing when the test looks, so
        an empty outbox alone does not mean the declaration is done.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self.engine.connect() as conn:
                row = conn.execute(select(Incident).where(Incident.number == number)).one_or_none()
            if row is not None and row.channel_id and row.headline_ts:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"incident #{number} was not set up within {timeout} s")
            time.sleep(0.05)
        self.wait_outbox_drained(timeout)
        return row

    def incident(self, number: int) -> Any:
        self.wait_inbox_applied()
        with self.engine.connect() as conn:
            return conn.execute(select(Incident).where(Incident.number == number)).one()


def all_text(message: Any) -> str:
    """A message's fallback text and every text inside its blocks (a Message, or a dict answer)."""
    parts = [getattr(message, "text", None) or (message.get("text") if isinstance(message, dict) else "") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(getattr(message, "blocks", None) or (message.get("blocks") if isinstance(message, dict) else None) or [])
    return "\n".join(parts)
