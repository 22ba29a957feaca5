"""The ``communication:`` section: the named audiences that status updates and the resolution
notice go to, besides the built-in ones (seeds 002 and 003: the incident channel, ``#incidents``,
the managers' thread, an executive summary, a customer-facing status page draft).

A section of its own module (see `bot/config/base.py`); `IncidentBotConfig.communication` holds it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.config.base import ConfigModel
from bot.config.errors import NestedProblems
from bot.config.fields import ChannelRef, Name, PositiveDuration, SeverityKey
from bot.config.http_url import HttpUrl
from bot.config.severity import Severity


class BuiltinAudience(StrEnum):
    """Where every update already goes; their names are reserved in ``communication.audiences``."""

    CHANNEL = "channel"  # the incident's own channel
    ANNOUNCE = "incidents"  # the thread under the incident's announcement (channels.announce)
    MANAGERS = "managers"  # the managers' thread in channels.escalations, once the incident escalated


class NoticeTemplate(StrEnum):
    """How an audience reads a notice."""

    FULL = "full"  # the update or resolution notice as the commander wrote it
    EXECUTIVE = "executive"  # a short summary: impact, status, ETA, owner
    CUSTOMER = "customer"  # status page wording: no internal names; always needs a second person


# An environment variable's name, e.g. STATUS_PAGE_TOKEN: the token itself never sits in the file.
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_AUDIENCE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise PydanticCustomError("env_name", "expected the name of an environment variable, e.g. STATUS_PAGE_TOKEN")
    return value


def _audience_name(value: str) -> str:
    if not _AUDIENCE_NAME.fullmatch(value):
        raise PydanticCustomError("audience_name", "an audience name is 1-40 lowercase letters, digits, '-' and '_', "
                                                   "starting with a letter, e.g. executives")
    if value in {builtin.value for builtin in BuiltinAudience}:
        raise PydanticCustomError("audience_name", f"{value!r} is a built-in audience; choose another name")
    return value


AudienceName = Annotated[Name, AfterValidator(_audience_name)]


class StatusPageConfig(ConfigModel):
    """A status page's incoming webhook: an approved customer notice is POSTed to it as JSON."""

    url: HttpUrl = Field(
        description="The status page's incoming webhook: each approved customer notice is POSTed to it as JSON.",
    )
    token_env: Annotated[Name, AfterValidator(_env_name)] | None = Field(
        default=None,
        description=(
            "The environment variable that holds the bearer token sent with each POST (never the token itself); unset: "
            "no Authorization header."
        ),
    )
    timeout: PositiveDuration = Field(
        default=timedelta(seconds=5),
        description="How long to wait for the status page's answer; at most 30s.",
    )

    @model_validator(mode="after")
    def _bounded(self) -> StatusPageConfig:
        if self.timeout > timedelta(seconds=30):
            raise NestedProblems([(("timeout",), "at most 30s: the approver waits for the result")])
        return self


class NamedAudience(ConfigModel):
    channel: ChannelRef = Field(description="The channel this audience reads; the bot joins a public one by itself.")
    template: NoticeTemplate = Field(
        default=NoticeTemplate.FULL,
        description=(
            "How the audience reads a notice: full (as the commander wrote it), executive (impact, status, ETA, owner) "
            "or customer (status page wording)."
        ),
    )
    approval: bool = Field(
        default=False,
        description=(
            "A second person with the approver role approves each notice before it is posted here; required for the "
            "customer template."
        ),
    )
    severities: tuple[SeverityKey, ...] = Field(
        default=(),
        description="Updates of these severities go here unless the commander unticks it in the update form.",
    )
    on_resolve: bool = Field(
        default=False,
        description="The resolution notice goes here even if no update of the incident did.",
    )
    status_page: StatusPageConfig | None = Field(
        default=None,
        description="Also send each approved notice to a status page (only with approval: true).",
    )

    @model_validator(mode="after")
    def _customer_notices_need_approval(self) -> NamedAudience:
        problems: list[tuple[tuple[Any, ...], str]] = []
        if self.template == NoticeTemplate.CUSTOMER and not self.approval:
            problems.append((("approval",), "a customer audience always needs a second person's approval: "
                                            "set approval: true"))
        if self.status_page is not None and not self.approval:
            problems.append((("status_page",), "only an audience with approval: true may send to a status page"))
        if self.approval and (self.severities or self.on_resolve):
            problems.append((("severities",) if self.severities else ("on_resolve",),
                             "an approval audience gets notices only through `/incident notify`, never by default"))
        if problems:
            raise NestedProblems(problems)
        return self

    def default_for(self, severity: Severity | str) -> bool:
        return Severity.parse(severity) in self.severities


class CommunicationConfig(ConfigModel):
    """Named audiences, and whether the resolution notice is posted on resolve."""

    audiences: dict[AudienceName, NamedAudience] = Field(
        default_factory=dict,
        description=(
            "Named audiences for status updates and the resolution notice, besides the incident channel, "
            "#incidents and the managers' thread."
        ),
    )
    # Post the resolution notice (the seeds' "Resolution Notification") when an incident resolves.
    resolution_notice: bool = Field(default=True, description="Post the resolution notice when an incident resolves.")

    def direct(self) -> dict[str, NamedAudience]:
        """The audiences an update or resolution may go to straight away (no approval step)."""
        return {name: audience for name, audience in self.audiences.items() if not audience.approval}

    def approval_audiences(self) -> dict[str, NamedAudience]:
        return {name: audience for name, audience in self.audiences.items() if audience.approval}

    def defaults_for(self, severity: Severity | str) -> tuple[str, ...]:
        return tuple(name for name, audience in self.direct().items() if audience.default_for(severity))
