"""What the security actions ask of AWS: Secrets Manager secrets and IAM access keys.

The action pipeline depends on these types; `bot.integrations.secrets` and
`bot.integrations.access_keys` implement them. No secret value ever crosses this boundary:
a rotation returns the new version's id, never what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class SecretState:
    arn: str
    name: str
    current_version: str | None  # the version id that holds the AWSCURRENT stage
    rotation_enabled: bool  # a rotation Lambda is set up: rotate_secret asks it for a new value
    last_rotated: datetime | None
    last_changed: datetime | None


class SecretStore(Protocol):
    async def describe(self, secret_id: str) -> SecretState:
        """A missing secret is ``ProviderRejected(status=404)``."""
        ...

    async def rotate(self, secret_id: str, *, use_lambda: bool, token: str) -> str:
        """Start a rotation and return the new version's id. With ``use_lambda`` the secret's
        rotation Lambda makes the value; otherwise a new random value is written. ``token`` is
        the idempotency token: the same token twice makes one version."""
        ...


@dataclass(frozen=True)
class AccessKey:
    user: str
    key_id: str
    status: str  # Active / Inactive
    created: datetime | None


@dataclass(frozen=True)
class OwnIdentity:
    """Who the bot is in AWS, so it never deactivates the key it signs with."""

    user: str | None  # the IAM user name, when the bot runs as an IAM user
    key_id: str | None  # the access key id of its own credentials


class AccessKeys(Protocol):
    async def keys(self, user: str) -> list[AccessKey]:
        """The user's access keys; a missing user is ``ProviderRejected(status=404)``."""
        ...

    async def deactivate(self, user: str, key_id: str) -> None: ...

    async def own_identity(self) -> OwnIdentity: ...
