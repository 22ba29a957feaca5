"""What the bot asks of a parameter store: the flags and settings that runbooks read and flip.

The core and the runbooks depend on these types; `bot.integrations.ssm` implements them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Parameter:
    name: str  # full path, e.g. /multimodal/prod/AUTO_APPLY_ENABLED
    value: str
    version: int
    type: str  # String / StringList / SecureString
    last_modified: datetime | None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Parameter:
        return cls(name=raw["Name"], value=str(raw.get("Value", "")), version=int(raw.get("Version") or 0),
                   type=str(raw.get("Type", "String")), last_modified=raw.get("LastModifiedDate"))


@dataclass(frozen=True)
class ParameterVersion:
    value: str
    version: int
    last_modified: datetime | None
    modified_by: str | None  # the IAM ARN that wrote this version, as AWS records it

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ParameterVersion:
        return cls(value=str(raw.get("Value", "")), version=int(raw.get("Version") or 0),
                   last_modified=raw.get("LastModifiedDate"), modified_by=raw.get("LastModifiedUser"))


class ParameterStore(Protocol):
    """What runbook actions ask of Parameter Store."""

    async def get(self, name: str) -> Parameter: ...

    async def get_many(self, names: Sequence[str]) -> dict[str, Parameter]:
        """The parameters found, by name; a missing name is simply absent."""
        ...

    async def list_under(self, prefix: str) -> list[Parameter]:
        """Every parameter below a path, recursively, sorted by name."""
        ...

    async def put(self, name: str, value: str) -> int:
        """Write a new version (keeping the parameter's type); returns its version number."""
        ...

    async def history(self, name: str) -> list[ParameterVersion]:
        """Every version still kept, oldest first."""
        ...
