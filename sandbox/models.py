"""The Slack objects of the sandbox workspace, and how each one looks in API responses.

Plain dataclasses with ``to_api`` methods that produce Slack's documented response shapes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0LOCAL"
TEAM_NAME = "Local Sandbox"
TEAM_DOMAIN = "local-sandbox"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0LOCAL"

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TOPIC = 250
MAX_CHANNEL_NAME = 80

_CHANNEL_NAME = re.compile(r"[a-z0-9_-]+")
_PUNCTUATION_ONLY = re.compile(r"[-_]+")


class SlackError(Exception):
    """A Slack-level failure: answered as ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


# --- model -----------------------------------------------------------------------------------


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    email: str | None = None
    is_bot: bool = False
    bot_id: str | None = None
    tz: str = "UTC"

    def to_api(self) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": self.real_name or self.name,
            "display_name": self.name,
            "email": self.email,
        }
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name or self.name,
            "deleted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "tz": self.tz,
            "profile": {k: v for k, v in profile.items() if v is not None},
        }


@dataclass
class UserGroup:
    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)
    description: str = ""

    def to_api(self, *, include_users: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "name": self.name,
            "handle": self.handle,
            "description": self.description,
            "user_count": len(self.users),
        }
        if include_users:
            body["users"] = list(self.users)
        return body


@dataclass
class ChannelSpec:
    """A channel to pre-create. Members are user ids; the bot is not added implicitly."""

    name: str
    is_private: bool = False
    members: tuple[str, ...] = ()
    topic: str = ""
    purpose: str = ""


@dataclass
class Topic:
    value: str = ""
    creator: str = ""
    last_set: int = 0

    def to_api(self) -> dict[str, Any]:
        return {"value": self.value, "creator": self.creator, "last_set": self.last_set}


@dataclass
class MessageVersion:
    """A message's content before an edit (``chat.update``)."""

    text: str
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    files: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    reply_broadcast: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    history: list[MessageVersion] = field(default_factory=list)
    edited: dict[str, str] | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def edit_count(self) -> int:
        return len(self.history)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user,
                                "text": self.text, "team": TEAM_ID}
        optional = {
            "bot_id": self.bot_id,
            "app_id": APP_ID if self.bot_id else None,
            "blocks": self.blocks,
            "attachments": self.attachments,
            "thread_ts": self.thread_ts,
            "files": self.files,
            "metadata": self.metadata,
            "edited": self.edited,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if self.files:
            body["upload"] = True
        if self.reply_broadcast:
            body["subtype"] = "thread_broadcast"
        if self.reactions:
            body["reactions"] = [{"name": n, "users": list(u), "count": len(u)}
                                 for n, u in self.reactions.items()]
        return body


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    message_ts: str
    thread_ts: str | None = None


@dataclass
class Pin:
    ts: str
    created: int
    created_by: str


@dataclass
class Channel:
    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None
    is_archived: bool = False
    members: list[str] = field(default_factory=list)
    topic: Topic = field(default_factory=Topic)
    purpose: Topic = field(default_factory=Topic)
    messages: list[Message] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[Ephemeral] = field(default_factory=list)

    def find(self, ts: str) -> Message | None:
        return next((m for m in self.messages if m.ts == ts), None)

    def replies_to(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.is_reply and m.thread_ts == ts]

    def message_api(self, message: Message) -> dict[str, Any]:
        body = message.to_api()
        replies = self.replies_to(message.ts)
        if replies:
            body.update(thread_ts=message.ts, reply_count=len(replies),
                        reply_users=sorted({r.user for r in replies}),
                        reply_users_count=len({r.user for r in replies}),
                        latest_reply=replies[-1].ts)
        elif message.is_reply:
            parent = self.find(message.thread_ts or "")
            if parent is not None:
                body["parent_user_id"] = parent.user
        if any(p.ts == message.ts for p in self.pins):
            body["pinned_to"] = [self.id]
        return body

    def to_api(self, viewer: str) -> dict[str, Any]:
        if self.is_im:
            return {"id": self.id, "created": self.created, "is_im": True, "is_org_shared": False,
                    "user": self.im_user, "is_user_deleted": False, "is_archived": False}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_general": self.name == "general",
            "is_archived": self.is_archived,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": self.creator,
            "unlinked": 0,
            "context_team_id": TEAM_ID,
            "topic": self.topic.to_api(),
            "purpose": self.purpose.to_api(),
            "previous_names": [],
            "num_members": len(self.members),
        }


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    user: str
    created: int
    title: str = ""
    content: bytes | None = None
    shares: dict[str, list[str]] = field(default_factory=dict)

    def to_api(self, root_url: str) -> dict[str, Any]:
        url = f"{root_url}files/{self.id}/{self.filename}"
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": "application/octet-stream",
            "filetype": self.filename.rsplit(".", 1)[-1] if "." in self.filename else "binary",
            "user": self.user,
            "size": len(self.content) if self.content is not None else self.length,
            "url_private": url,
            "url_private_download": url,
            "permalink": url,
            "channels": list(self.shares),
            "shares": {"public": {cid: [{"ts": ts} for ts in tss]
                                  for cid, tss in self.shares.items()}},
        }


@dataclass
class View:
    id: str
    payload: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    user: str | None = None

    def to_api(self) -> dict[str, Any]:
        body = {
            "private_metadata": "", "callback_id": "", "external_id": "",
            "clear_on_close": False, "notify_on_close": False,
            **copy.deepcopy(self.payload),
        }
        body.update(id=self.id, team_id=TEAM_ID, hash=self.hash, state={"values": {}},
                    root_view_id=self.root_view_id, previous_view_id=self.previous_view_id,
                    app_id=APP_ID, bot_id=BOT_ID, app_installed_team_id=TEAM_ID)
        return body


def default_users() -> list[User]:
    """The bot and the people the incident-bot's default config and tests refer to."""
    people = [
        ("U0ALICE", "alice", "Alice Adams"),
        ("U0BOB", "bob", "Bob Brown"),
        ("U0ONCALL1", "oncall", "Olive Oncall"),
        ("U0MLLEAD1", "ml-lead", "Maya Lead"),
        ("U0ENGMGR1", "eng-manager", "Evan Manager"),
        ("U0VPENG01", "vp-eng", "Vera Vp"),
    ]
    bot = User(BOT_USER_ID, "incident-bot", "Incident Bot", is_bot=True, bot_id=BOT_ID)
    return [bot] + [User(uid, name, real, email=f"{name}@example.com")
                    for uid, name, real in people]


def default_usergroups() -> list[UserGroup]:
    """The groups that shared/config.example.yaml refers to (RBAC roles, security escalation)."""
    return [
        UserGroup("S0MLONCALL", "ml-oncall", "ML on-call", ["U0ONCALL1", "U0MLLEAD1"]),
        UserGroup("S0INCCMDRS", "incident-commanders", "Incident commanders",
                  ["U0MLLEAD1", "U0ENGMGR1"]),
        UserGroup("S0SECURTY", "security", "Security on-call", ["U0BOB"]),
    ]


def default_channels() -> list[ChannelSpec]:
    humans = ("U0ALICE", "U0BOB", "U0ONCALL1", "U0MLLEAD1", "U0ENGMGR1", "U0VPENG01")
    return [
        ChannelSpec("general", members=humans),
        ChannelSpec("incidents", members=humans),
        ChannelSpec("incident-escalations", members=("U0ENGMGR1", "U0VPENG01", "U0MLLEAD1")),
    ]


def channel_name_problem(name: str) -> str | None:
    """The ``invalid_name_*`` code for a channel name Slack would refuse, else None."""
    if not name:
        return "invalid_name_required"
    if len(name) > MAX_CHANNEL_NAME:
        return "invalid_name_maxlength"
    if _PUNCTUATION_ONLY.fullmatch(name):
        return "invalid_name_punctuation"
    if not _CHANNEL_NAME.fullmatch(name):
        return "invalid_name_specials"
    return None
