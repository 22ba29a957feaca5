"""Where preserved evidence goes, and the read-only state the bot copies into it.

`bot.core.evidence` depends on these types; `bot.integrations.evidence` implements them over
S3, ECS and Parameter Store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str  # hex digest of the bytes written
    version_id: str | None = None  # when the bucket keeps versions


class EvidenceStore(Protocol):
    async def put(self, *, bucket: str, key: str, body: bytes, sha256: str, content_type: str) -> StoredObject:
        """Write one object, asking the store to check ``sha256`` (hex) on arrival."""
        ...

    async def find(self, *, bucket: str, key: str) -> StoredObject | None:
        """The object already at ``key`` (a replayed snapshot), or None."""
        ...


@dataclass(frozen=True)
class ParameterFacts:
    """A parameter as evidence: a SecureString's value is never read or copied."""

    name: str
    type: str
    version: int
    last_modified: datetime | None
    last_modified_by: str | None
    value: str | None  # None for SecureString


class StateSnapshots(Protocol):
    async def ecs_service(self, *, cluster: str, service: str) -> dict[str, Any]:
        """The service as ECS describes it, with its task definition, as JSON-ready data."""
        ...

    async def parameters(self, prefix: str) -> list[ParameterFacts]: ...
