"""The one place that writes to Slack.

Every Slack call goes through ``SlackGateway``. The real implementation wraps slack_sdk's
``AsyncWebClient`` with its retry handlers (rate limits honour ``Retry-After``; server and
connection errors retry a few times), keeps to about one post per second per channel, and maps
slack_sdk's errors to ours. What still fails is retried later by the outbox dispatcher.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.errors import ChannelNameTaken, SlackRejected, SlackUnavailable
from bot.slack.pacing import ChannelPacer

log = logging.getLogger(__name__)

Blocks = Sequence[dict[str, Any]]
# A person's name is looked up again after this long (people rename themselves, rarely).
NAME_TTL_S = 3600.0
NAMES_PER_LOOKUP = 200


@dataclass(frozen=True)
class PostedMessage:
    channel_id: str
    ts: str


@dataclass(frozen=True)
class CreatedChannel:
    id: str
    name: str


class SlackGateway(Protocol):
    async def create_channel(self, name: str, *, is_private: bool = False) -> CreatedChannel: ...
    async def find_channel(self, name: str, *, private: bool = False) -> str | None: ...
    async def join_channel(self, channel_id: str) -> None: ...
    async def invite(self, channel_id: str, user_id: str) -> None: ...
    async def usergroup_members(self, usergroup_id: str) -> list[str]: ...
    async def user_by_email(self, email: str) -> str | None: ...
    async def set_topic(self, channel_id: str, topic: str) -> None: ...
    async def post(self, channel: str, *, text: str, blocks: Blocks | None = None,
                   thread_ts: str | None = None) -> PostedMessage: ...
    async def update(self, channel_id: str, ts: str, *, text: str, blocks: Blocks | None = None) -> None: ...
    async def pin(self, channel_id: str, ts: str) -> None: ...
    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str: ...
    async def update_view(self, view_id: str, view: dict[str, Any]) -> None: ...
    async def upload_file(self, channel: str, *, filename: str, content: bytes, title: str = "",
                          comment: str = "", thread_ts: str | None = None) -> str: ...
    async def download_file(self, url: str, *, max_bytes: int) -> bytes: ...
    async def post_ephemeral(self, channel: str, user: str, *, text: str, blocks: Blocks | None = None) -> None: ...
    async def get_message(self, channel_id: str, ts: str) -> dict[str, Any]: ...
    async def permalink(self, channel_id: str, ts: str) -> str: ...
    async def respond(self, response_url: str, *, text: str, blocks: Blocks | None = None,
                      replace_original: bool = False) -> None: ...
    async def display_names(self, user_ids: Collection[str]) -> dict[str, str]: ...


# Outcomes that mean "already done": repeating an idempotent step after a crash lands here.
_ALREADY_DONE = {"already_in_channel", "already_pinned", "cant_invite_self"}


def build_web_client(*, token: str, base_url: str, max_retries: int = 2) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=max_retries),
            AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
            AsyncServerErrorRetryHandler(max_retry_count=max_retries),
        ],
    )


def _log_call(method: str, started: float, outcome: str) -> None:
    # One line per Slack call, under the correlation id of the work that made it: the method and
    # its outcome only, never the arguments (they carry people's words and the token's reach).
    log.info("slack %s: %s in %.0f ms", method, outcome, (time.monotonic() - started) * 1000)


class SlackSdkGateway:
    def __init__(self, client: AsyncWebClient, *, post_interval: float = 1.0) -> None:
        self._client = client
        self._pacer = ChannelPacer(post_interval)
        self._names: dict[str, tuple[str | None, float]] = {}  # user id -> (name or unknown, until)

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        # The SDK's typed methods know which of Slack's methods take JSON and which take form
        # fields; api_call(json=...) would be refused by the read methods.
        sdk_method = getattr(self._client, method.replace(".", "_"))
        started = time.monotonic()
        try:
            response = await sdk_method(**params)
        except SlackApiError as exc:
            mapped = _map_api_error(method, exc)
            _log_call(method, started, f"refused ({getattr(mapped, 'code', None) or mapped.__class__.__name__})")
            raise mapped from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            _log_call(method, started, f"unreachable ({exc.__class__.__name__})")
            raise SlackUnavailable(f"{method}: {exc.__class__.__name__}: {exc}") from exc
        _log_call(method, started, "ok")
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _call_tolerant(self, method: str, **params: Any) -> dict[str, Any]:
        try:
            return await self._call(method, **params)
        except SlackRejected as exc:
            if exc.code in _ALREADY_DONE:
                return {}
            raise

    async def create_channel(self, name: str, *, is_private: bool = False) -> CreatedChannel:
        try:
            data = await self._call("conversations.create", name=name, is_private=is_private)
        except SlackRejected as exc:
            if exc.code == "name_taken":
                raise ChannelNameTaken(name) from exc
            raise
        channel = data["channel"]
        return CreatedChannel(id=channel["id"], name=channel.get("name", name))

    async def find_channel(self, name: str, *, private: bool = False) -> str | None:
        """The id of the channel named ``name``: a public one, or with ``private`` one of the
        private channels the bot is a member of (Slack lists no others to it)."""
        cursor = None
        for _ in range(50):
            params: dict[str, Any] = {"types": "private_channel" if private else "public_channel", "limit": 200,
                                      "exclude_archived": True}
            if cursor:
                params["cursor"] = cursor
            data = await self._call("conversations.list", **params)
            for channel in data.get("channels", []):
                if channel.get("name") == name:
                    return str(channel["id"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def join_channel(self, channel_id: str) -> None:
        await self._call_tolerant("conversations.join", channel=channel_id)

    async def invite(self, channel_id: str, user_id: str) -> None:
        await self._call_tolerant("conversations.invite", channel=channel_id, users=user_id)

    async def usergroup_members(self, usergroup_id: str) -> list[str]:
        data = await self._call("usergroups.users.list", usergroup=usergroup_id)
        return [str(u) for u in data.get("users", [])]

    async def user_by_email(self, email: str) -> str | None:
        """The Slack user with this email (``users.lookupByEmail``); None when there is none."""
        try:
            data = await self._call("users.lookupByEmail", email=email)
        except SlackRejected as exc:
            if exc.code == "users_not_found":
                return None
            raise
        user_id = (data.get("user") or {}).get("id")
        return str(user_id) if user_id else None

    async def set_topic(self, channel_id: str, topic: str) -> None:
        await self._call("conversations.setTopic", channel=channel_id, topic=topic)

    async def post(self, channel: str, *, text: str, blocks: Blocks | None = None,
                   thread_ts: str | None = None) -> PostedMessage:
        params: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if blocks:
            params["blocks"] = list(blocks)
        if thread_ts:
            params["thread_ts"] = thread_ts
        async with self._pacer.turn(channel):
            data = await self._call("chat.postMessage", **params)
        return PostedMessage(channel_id=str(data.get("channel") or channel), ts=str(data["ts"]))

    async def update(self, channel_id: str, ts: str, *, text: str, blocks: Blocks | None = None) -> None:
        params: dict[str, Any] = {"channel": channel_id, "ts": ts, "text": text}
        if blocks is not None:
            params["blocks"] = list(blocks)
        await self._call("chat.update", **params)

    async def pin(self, channel_id: str, ts: str) -> None:
        await self._call_tolerant("pins.add", channel=channel_id, timestamp=ts)

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """Open a modal; returns its view id, for `update_view`."""
        response = await self._call("views.open", trigger_id=trigger_id, view=view)
        return str((response.get("view") or {}).get("id", ""))

    async def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        await self._call("views.update", view_id=view_id, view=view)

    async def download_file(self, url: str, *, max_bytes: int) -> bytes:
        """A file's bytes from its ``url_private`` (which needs the bot token), refusing big ones."""
        headers = {"Authorization": f"Bearer {self._client.token}"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session, \
                    session.get(url, headers=headers) as response:
                if response.status >= 500 or response.status == 429:
                    raise SlackUnavailable(f"file download answered {response.status}")
                if response.status >= 400:
                    raise SlackRejected("files.download", str(response.status))
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise SlackRejected("files.download", f"file_too_large (over {max_bytes // 1024} KiB)")
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SlackUnavailable(f"file download: {exc.__class__.__name__}: {exc}") from exc

    async def upload_file(self, channel: str, *, filename: str, content: bytes, title: str = "",
                          comment: str = "", thread_ts: str | None = None) -> str:
        """Share a file in a channel (files upload v2: get a URL, upload, complete); returns its id."""
        params: dict[str, Any] = {"channel": channel, "filename": filename, "content": content,
                                  "title": title or filename}
        if comment:
            params["initial_comment"] = comment
        if thread_ts:
            params["thread_ts"] = thread_ts
        async with self._pacer.turn(channel):
            data = await self._call("files_upload_v2", **params)
        files = data.get("files") or [data.get("file") or {}]
        return str((files[0] or {}).get("id", ""))

    async def post_ephemeral(self, channel: str, user: str, *, text: str, blocks: Blocks | None = None) -> None:
        params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            params["blocks"] = list(blocks)
        await self._call("chat.postEphemeral", **params)

    async def get_message(self, channel_id: str, ts: str) -> dict[str, Any]:
        """One message, thread replies included (reactions.get finds any message by its ts)."""
        data = await self._call("reactions.get", channel=channel_id, timestamp=ts, full=True)
        message = data.get("message")
        if not isinstance(message, dict):
            raise SlackRejected("reactions.get", "message_not_found")
        return message

    async def permalink(self, channel_id: str, ts: str) -> str:
        data = await self._call("chat.getPermalink", channel=channel_id, message_ts=ts)
        return str(data.get("permalink") or "")

    async def respond(self, response_url: str, *, text: str, blocks: Blocks | None = None,
                      replace_original: bool = False) -> None:
        webhook = AsyncWebhookClient(response_url, timeout=10)
        try:
            response = await webhook.send(
                text=text, blocks=list(blocks) if blocks else None, response_type="ephemeral",
                replace_original=replace_original,
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SlackUnavailable(f"response_url: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise SlackUnavailable(f"response_url answered {response.status_code}")
        if response.status_code >= 400:
            raise SlackRejected("response_url", str(response.status_code))

    async def display_names(self, user_ids: Collection[str]) -> dict[str, str]:
        """People's names as Slack shows them (users.info), each looked up once an hour at most.

        A person Slack does not know is left out. While Slack is unreachable the rest are left
        out too: whoever asked shows ids rather than wait on Slack for each person. So are any
        past the first ``NAMES_PER_LOOKUP`` (a note can mention any number of ids).
        """
        names: dict[str, str] = {}
        for user_id in sorted(set(user_ids))[:NAMES_PER_LOOKUP]:
            cached = self._names.get(user_id)
            if cached is None or cached[1] <= time.monotonic():
                try:
                    data = await self._call("users.info", user=user_id)
                except SlackUnavailable as exc:
                    log.warning("people's names are not available now: %s", exc)
                    break
                except SlackRejected:
                    data = {}  # user_not_found, or no users:read scope: the id is all there is
                cached = (_display_name(data.get("user") or {}), time.monotonic() + NAME_TTL_S)
                self._names[user_id] = cached
            if cached[0]:
                names[user_id] = cached[0]
        return names


def _display_name(user: dict[str, Any]) -> str | None:
    """The full name where there is one (a postmortem is read outside Slack), else the handle."""
    profile = user.get("profile") or {}
    for name in (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name")):
        if isinstance(name, str) and name.strip():
            return " ".join(name.split())[:80]
    return None


def _map_api_error(method: str, exc: SlackApiError) -> Exception:
    response = exc.response
    status = getattr(response, "status_code", 200)
    if status == 429 or status >= 500:
        retry_after = None
        headers = getattr(response, "headers", {}) or {}
        raw = headers.get("Retry-After") or headers.get("retry-after")
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        try:
            retry_after = float(raw) if raw is not None else None
        except ValueError:
            retry_after = None
        return SlackUnavailable(f"{method}: HTTP {status}", retry_after=retry_after)
    code = (str((response.data or {}).get("error", "unknown_error")) if isinstance(response.data, dict)
            else "unknown_error")
    if code in {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}:
        return SlackUnavailable(f"{method}: {code}")
    return SlackRejected(method, code)
