"""The ``security:`` section: which incidents are confidential, who responds to them, where their
evidence goes, and which secrets and access keys the bot may rotate or deactivate (seeds 002, 003).

A section of its own module (see `bot/config/base.py`); `IncidentBotConfig.security` holds it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict, model_validator
from pydantic_core import PydanticCustomError

from bot.config.base import Audience, ConfigModel
from bot.config.errors import NestedProblems
from bot.config.fields import Duration, Name, RunbookName

# S3's bucket naming rules, short form: 3-63 lowercase letters, digits, '.' and '-'.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# IAM user names: letters, digits and +=,.@_- (IAM's own rule), up to 64.
_IAM_USER = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")


def _bucket(value: str) -> str:
    if not _BUCKET.fullmatch(value):
        raise PydanticCustomError("bucket", "expected an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'")
    return value


def _prefix(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise PydanticCustomError("prefix", "a key prefix must not start with '/' or contain '..'")
    return value if not value or value.endswith("/") else value + "/"


def _iam_user(value: str) -> str:
    if not _IAM_USER.fullmatch(value):
        raise PydanticCustomError("iam_user", "expected an IAM user name (letters, digits and +=,.@_-)")
    return value


def _secret_pattern(value: str) -> str:
    # A bare "*" would allow every secret in the account: the allow-list exists to prevent that.
    if value.strip("*?") == "":
        raise PydanticCustomError("secret_pattern", "a pattern must name something besides wildcards")
    return value


class EvidenceConfig(ConfigModel):
    """Where "Preserve evidence" writes: one object per source under ``<prefix>incident-<n>/<snapshot>/``."""

    bucket: Annotated[str, Strict(), AfterValidator(_bucket)] = Field(
        description="The S3 bucket that Preserve evidence copies to.",
    )
    prefix: Annotated[str, Strict(), Field(max_length=200), AfterValidator(_prefix)] = Field(
        default="incident-evidence/",
        description="The key prefix each incident's evidence goes under.",
    )
    max_rows: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=500,
        description="How many of the incident's newest audit rows and timeline events are copied.",
    )
    max_log_events: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=2_000,
        description="How many log events are copied from the service's log group over the incident's window.",
    )


class SecurityConfig(ConfigModel):
    """Confidential incidents and the two-person security actions (a section this project adds)."""

    runbooks: tuple[RunbookName, ...] = Field(
        default=("security",),
        description=(
            "Incidents following one of these runbooks are confidential: a private channel, a neutral line in "
            "#incidents and the managers' thread, and only the responders invited."
        ),
    )
    responders: Audience = Field(
        default_factory=Audience,
        description=(
            "Users and user groups invited to a confidential incident's channel, besides the declarer, the commander "
            "and whoever escalation pages."
        ),
    )
    # The compliance officer(s): a level of its own at the end of a confidential incident's
    # escalation ladder (`IncidentBotConfig.escalation_levels`), paged ``compliance_after`` from
    # declaration and until the incident is resolved (seed 002: "notify ... compliance officer
    # immediately"). Left out when the ladder already names them.
    compliance: Audience = Field(
        default_factory=Audience,
        description=(
            "The compliance officer: a last level of a confidential incident's escalation ladder, paging until it is "
            "resolved."
        ),
    )
    compliance_after: Duration = Field(
        default=timedelta(0),
        description="When the compliance level pages, counted from declaration.",
    )
    evidence: EvidenceConfig | None = Field(
        default=None,
        description="Where Preserve evidence copies an incident's records and logs, and how much.",
    )
    # Secrets Manager secrets the bot may rotate: name or ARN glob patterns (``prod/api/*``).
    rotatable_secrets: tuple[Annotated[Name, AfterValidator(_secret_pattern)], ...] = Field(
        default=(),
        description=(
            "Secrets Manager names or ARN globs (prod/api/*) that /incident rotate-secret may touch; a bare * is "
            "refused."
        ),
    )
    # IAM users whose access keys the bot may deactivate. The bot's own key is refused regardless.
    deactivatable_key_users: tuple[Annotated[str, Strict(), AfterValidator(_iam_user)], ...] = Field(
        default=(),
        description=(
            "IAM users whose access keys /incident deactivate-key may deactivate; the bot's own key is always refused."
        ),
    )

    @model_validator(mode="after")
    def _no_duplicates(self) -> SecurityConfig:
        problems: list[tuple[tuple[Any, ...], str]] = []
        for key in ("runbooks", "rotatable_secrets", "deactivatable_key_users"):
            seen: set[str] = set()
            for index, value in enumerate(getattr(self, key)):
                if value in seen:
                    problems.append(((key, index), f"{value!r} is listed twice"))
                seen.add(value)
        if problems:
            raise NestedProblems(problems)
        return self

    def secret_allowed(self, secret_id: str) -> bool:
        """True when a secret's name or ARN matches one of ``rotatable_secrets``."""
        return any(fnmatchcase(secret_id, pattern) for pattern in self.rotatable_secrets)

    def key_user_allowed(self, user_name: str) -> bool:
        return user_name in self.deactivatable_key_users
