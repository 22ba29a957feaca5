"""The base of every configuration section, and the Audience that several sections name.

A section that lives in a module of its own (budgets, providers, security, communication)
imports from here rather than from `models.py`, so the modules of `bot.config` never import
each other in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.config.fields import UserGroupId, UserId


class ConfigModel(BaseModel):
    """Base for every section: frozen, strict about keys, and `key:` with no value means absent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        # In YAML `channels:` with nothing after it is null; treat it like a missing key so the
        # default applies, rather than failing with "expected a mapping".
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data


class Audience(ConfigModel):
    """Who to reach: Slack users and user groups."""

    users: tuple[UserId, ...] = Field(default=(), description="Slack users, by id (U… or W…).")
    usergroups: tuple[UserGroupId, ...] = Field(default=(), description="Slack user groups, by id (S…).")

    def __bool__(self) -> bool:
        return bool(self.users or self.usergroups)
