"""The in-memory Slack workspace behind the local Slack Web API server.

It holds a team, users, user groups, conversations (with messages, threads, pins, reactions,
bookmarks), open views and uploaded files. The Web API methods that act on it live in
``sandbox.methods``; nothing here knows about HTTP.
"""

from __future__ import annotations

import copy
import pickle
import random
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.models import (
    BOT_USER_ID,
    TEAM_ID,
    TEAM_NAME,
    Channel,
    ChannelSpec,
    Message,
    SlackError,
    Topic,
    UploadedFile,
    User,
    UserGroup,
    View,
    channel_name_problem,
    default_channels,
    default_usergroups,
    default_users,
)

_ID_ALPHABET = string.ascii_uppercase + string.digits
# What ``save`` keeps: the workspace's content and its id and ts counters, so ids stay unique.
_SAVED_FIELDS = ("users", "usergroups", "channels", "files", "home_views", "_rng", "_last_ts_us")
# Trigger ids the web UI handed out, kept only for as long as a bot could still use one.
MAX_REMEMBERED_TRIGGERS = 1000


@dataclass
class WorkspaceConfig:
    """How a workspace starts, and how it starts again on ``reset``.

    ``auto_join_bot``: the bot may post to public channels it has not joined, as a bot with
    the ``chat:write.public`` scope can. It does not become a member (as in Slack); with it
    off, such posts fail with ``not_in_channel``.
    ``tokens`` maps exact tokens to user ids; any other ``xoxb-`` token is the bot and any
    other ``xoxp-`` token is ``user_token_user``.
    """

    users: Iterable[User] = ()
    channels: Iterable[ChannelSpec] = ()
    usergroups: Iterable[UserGroup] = ()
    include_defaults: bool = True
    auto_join_bot: bool = True
    seed: int = 0
    tokens: Mapping[str, str] = field(default_factory=dict)
    user_token_user: str = "U0ALICE"
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        # Generators would be used up by the first start, and reset() starts again.
        self.users = tuple(self.users)
        self.channels = tuple(self.channels)
        self.usergroups = tuple(self.usergroups)
        self.tokens = dict(self.tokens)


@dataclass
class Call:
    """One authenticated method call, as the handlers see it."""

    params: dict[str, Any]
    caller: User
    root_url: str

    def text(self, name: str, default: str = "") -> str:
        value = self.params.get(name)
        return default if value is None else str(value)

    def number(self, name: str, default: int, *, error: str = "invalid_arguments") -> int:
        value = self.params.get(name)
        if value in (None, ""):
            return default
        try:
            return int(str(value))
        except ValueError as exc:
            raise SlackError(error) from exc

    def flag(self, name: str) -> bool:
        return str(self.params.get(name, "")).lower() in ("1", "true")

    def items(self, name: str) -> list[str]:
        value = self.params.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [v.strip() for v in str(value).split(",") if v.strip()]


class Workspace:
    """All workspace state behind one re-entrant lock.

    The server handles requests on its own thread while tests read state from theirs, so every
    public method takes the lock and hands out deep copies, never live objects.
    """

    def __init__(self, config: WorkspaceConfig | None = None) -> None:
        self.config = config or WorkspaceConfig()
        self.lock = threading.RLock()
        self._last_ts_us = 0  # kept across resets: a ts is never handed out twice
        self._populate()

    def _populate(self) -> None:
        cfg = self.config
        self._rng = random.Random(cfg.seed)
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, View] = {}
        self.files: dict[str, UploadedFile] = {}
        self.home_views: dict[str, str] = {}
        # Which person each trigger id belongs to (the web UI records them when it forwards an
        # interaction), so views.open and views.push know whose screen a modal goes on.
        self.trigger_users: dict[str, str] = {}
        # Each person's open modals, bottom first, as view ids.
        self.modal_stacks: dict[str, list[str]] = {}
        defaults = cfg.include_defaults
        for user in [*(default_users() if defaults else []), *cfg.users]:
            self.users[user.id] = copy.deepcopy(user)
        if BOT_USER_ID not in self.users:
            self.users[BOT_USER_ID] = default_users()[0]
        for group in [*(default_usergroups() if defaults else []), *cfg.usergroups]:
            self.usergroups[group.id] = copy.deepcopy(group)
        for spec in [*(default_channels() if defaults else []), *cfg.channels]:
            self.add_channel(spec)

    def reset(self) -> None:
        with self.lock:
            self._populate()

    # kept between runs (the demo's state folder)

    def save(self, path: Path) -> None:
        """Write the workspace (people, channels with their messages, files) to ``path``.

        Open modals and trigger ids are left out: they belong to a browser session that ends
        with the process. The file is replaced atomically, so a crash never leaves half of one.
        """
        with self.lock:
            data = pickle.dumps({name: getattr(self, name) for name in _SAVED_FIELDS})
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(data)
        partial.replace(path)

    def load(self, path: Path) -> bool:
        """Take the workspace saved at ``path``; False (and nothing changed) if there is none to read.

        Only files this process wrote itself (``save``) are meant here: pickle trusts its input.
        """
        try:
            saved = pickle.loads(path.read_bytes())  # our own state folder
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
            return False
        if not isinstance(saved, dict) or set(saved) != set(_SAVED_FIELDS):
            return False
        with self.lock:
            for name, value in saved.items():
                setattr(self, name, value)
        return True

    # ids and clocks

    def now(self) -> int:
        return int(self.config.clock())

    def next_ts(self) -> str:
        """A message timestamp, strictly increasing across the workspace (so unique per channel)."""
        micros = max(int(self.config.clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str, taken: Mapping[str, Any], size: int = 9) -> str:
        while True:
            candidate = prefix + "".join(self._rng.choices(_ID_ALPHABET, k=size))
            if candidate not in taken:
                return candidate

    # set-up helpers (also used by tests through the server)

    def add_user(self, user: User) -> None:
        with self.lock:
            self.users[user.id] = copy.deepcopy(user)

    def add_usergroup(self, group: UserGroup) -> None:
        with self.lock:
            self.usergroups[group.id] = copy.deepcopy(group)

    def add_channel(self, spec: ChannelSpec, *, creator: str = "U0ALICE") -> str:
        with self.lock:
            problem = channel_name_problem(spec.name)
            if problem or self.by_name(spec.name):
                raise ValueError(f"cannot create channel {spec.name!r}: {problem or 'name_taken'}")
            now = self.now()
            channel = Channel(
                id=self.new_id("C0", self.channels), name=spec.name, created=now,
                creator=creator, is_private=spec.is_private, members=list(spec.members),
                topic=Topic(spec.topic, creator, now if spec.topic else 0),
                purpose=Topic(spec.purpose, creator, now if spec.purpose else 0),
            )
            self.channels[channel.id] = channel
            return channel.id

    def remember_trigger(self, trigger_id: str, user_id: str) -> None:
        with self.lock:
            self.trigger_users[trigger_id] = user_id
            while len(self.trigger_users) > MAX_REMEMBERED_TRIGGERS:  # oldest first (dict order)
                del self.trigger_users[next(iter(self.trigger_users))]

    # lookups (callers hold the lock)

    def by_name(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if not c.is_im and c.name == name), None)

    def lookup(self, ref: str) -> Channel | None:
        """A channel by id, by name, or by ``#name``; no permission checks."""
        ref = ref.strip()
        return self.channels.get(ref) or self.by_name(ref.removeprefix("#"))

    def user_for_token(self, token: str | None) -> User:
        if not token:
            raise SlackError("not_authed")
        user_id = self.config.tokens.get(token)
        if user_id is None and token.startswith("xoxb-"):
            user_id = BOT_USER_ID
        elif user_id is None and token.startswith("xoxp-"):
            user_id = self.config.user_token_user
        if user_id is None or user_id not in self.users:
            raise SlackError("invalid_auth")
        return self.users[user_id]

    def open_im(self, caller: str, other: str) -> Channel:
        for channel in self.channels.values():
            if channel.is_im and set(channel.members) == {caller, other}:
                return channel
        channel = Channel(id=self.new_id("D0", self.channels), name="", created=self.now(),
                          creator=caller, is_im=True, im_user=other,
                          members=sorted({caller, other}))
        self.channels[channel.id] = channel
        return channel

    def visible_channel(self, call: Call, param: str = "channel") -> Channel:
        """The channel a call names, as Slack resolves it for the caller.

        Private channels that the caller is not in do not exist for it. A user id names the
        caller's direct-message channel with that user.
        """
        ref = call.text(param).strip()
        channel = self.lookup(ref) if ref else None
        if channel is None and ref in self.users:
            channel = self.open_im(call.caller.id, ref)
        if channel is None or ((channel.is_private or channel.is_im)
                               and call.caller.id not in channel.members):
            raise SlackError("channel_not_found")
        return channel

    def writable_channel(self, call: Call, param: str = "channel") -> Channel:
        channel = self.visible_channel(call, param)
        if channel.is_archived:
            raise SlackError("is_archived")
        may_post_public = call.caller.is_bot and self.config.auto_join_bot
        if call.caller.id not in channel.members and not may_post_public:
            raise SlackError("not_in_channel")
        return channel

    def message(self, channel: Channel, ts: str) -> Message:
        message = channel.find(ts) if ts else None
        if message is None:
            raise SlackError("message_not_found")
        return message

    # snapshots for tests

    def snapshot_channel(self, ref: str) -> Channel | None:
        with self.lock:
            channel = self.lookup(ref)
            return copy.deepcopy(channel) if channel else None

    def require_channel(self, ref: str) -> Channel:
        channel = self.snapshot_channel(ref)
        if channel is None:
            raise KeyError(f"no channel {ref!r} in the sandbox workspace")
        return channel

    def messages(self, ref: str, *, thread_ts: str | None = None,
                 include_replies: bool = True) -> list[Message]:
        channel = self.require_channel(ref)
        if thread_ts is not None:
            return [m for m in channel.messages if m.ts == thread_ts or m.thread_ts == thread_ts]
        return [m for m in channel.messages if include_replies or not m.is_reply]

    def pinned(self, ref: str) -> list[Message]:
        channel = self.require_channel(ref)
        return [m for p in channel.pins if (m := channel.find(p.ts)) is not None]

    def store_upload(self, file_id: str, data: bytes) -> bool:
        with self.lock:
            upload = self.files.get(file_id)
            if upload is None:
                return False
            upload.content = bytes(data)
            return True

    def file_content(self, file_id: str) -> bytes | None:
        with self.lock:
            upload = self.files.get(file_id)
            return upload.content if upload else None

    def open_views(self) -> list[dict[str, Any]]:
        with self.lock:
            return [v.to_api() for v in self.views.values()]

    def modal_stack(self, user_id: str) -> list[dict[str, Any]]:
        """A person's open modals, bottom first, as the API shows them."""
        with self.lock:
            return [self.views[v].to_api() for v in self.modal_stacks.get(user_id, []) if v in self.views]

    def state(self) -> dict[str, Any]:
        """Everything, as JSON-ready dicts (for ``GET /_local/state`` and a browser view)."""
        with self.lock:
            return {
                "team": {"id": TEAM_ID, "name": TEAM_NAME},
                "users": [u.to_api() for u in self.users.values()],
                "usergroups": [g.to_api(include_users=True) for g in self.usergroups.values()],
                "channels": [
                    {**c.to_api(BOT_USER_ID), "members": list(c.members),
                     "messages": [c.message_api(m) for m in c.messages],
                     "pins": [p.ts for p in c.pins], "bookmarks": copy.deepcopy(c.bookmarks)}
                    for c in self.channels.values()
                ],
                "views": [v.to_api() for v in self.views.values()],
                "modal_stacks": {user: list(ids) for user, ids in self.modal_stacks.items() if ids},
            }
