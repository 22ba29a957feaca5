"""SSM Parameter Store as a provider: the flags and settings that runbooks read and flip.

``Boto3ParameterStore`` is the real ``ParameterStore`` (boto3 in a thread, errors mapped by
``runbooks.providers.aws``). Values are always returned decrypted, so a SecureString reads like
any other string; a missing parameter is ``ProviderRejected(status=404)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from runbooks.providers.aws import DEFAULT_MAX_ATTEMPTS, AwsService
from runbooks.providers.errors import ProviderRejected

PROVIDER = "ssm"
GET_PARAMETERS_LIMIT = 10  # GetParameters refuses more names than this in one call


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


class Boto3ParameterStore:
    """``ParameterStore`` over boto3. Pass ``client`` to share a ready boto3 SSM client."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 client: Any = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._aws = AwsService(PROVIDER, endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def get(self, name: str) -> Parameter:
        answer = await self._aws.call("get_parameter", what=f"read {name}", Name=name, WithDecryption=True)
        return Parameter.from_api(answer["Parameter"])

    async def get_many(self, names: Sequence[str]) -> dict[str, Parameter]:
        unique = list(dict.fromkeys(names))
        found: dict[str, Parameter] = {}
        for start in range(0, len(unique), GET_PARAMETERS_LIMIT):
            batch = unique[start:start + GET_PARAMETERS_LIMIT]
            answer = await self._aws.call("get_parameters", what=f"read {', '.join(batch)}",
                                          Names=batch, WithDecryption=True)
            found.update((p.name, p) for p in map(Parameter.from_api, answer.get("Parameters") or ()))
        return found

    async def list_under(self, prefix: str) -> list[Parameter]:
        pages = await self._aws.pages("get_parameters_by_path", what=f"list parameters under {prefix}",
                                      Path=prefix, Recursive=True, WithDecryption=True)
        found = [Parameter.from_api(raw) for page in pages for raw in page.get("Parameters") or ()]
        return sorted(found, key=lambda p: p.name)

    async def put(self, name: str, value: str) -> int:
        # Omitting Type on an overwrite keeps the parameter's type (and a SecureString's KMS key),
        # but creating a parameter needs one.
        typed = {} if await self._exists(name) else {"Type": "String"}
        answer = await self._aws.call("put_parameter", what=f"write {name}", Name=name, Value=value,
                                      Overwrite=True, **typed)
        return int(answer["Version"])

    async def history(self, name: str) -> list[ParameterVersion]:
        pages = await self._aws.pages("get_parameter_history", what=f"read the history of {name}",
                                      Name=name, WithDecryption=True)
        versions = [ParameterVersion.from_api(raw) for page in pages for raw in page.get("Parameters") or ()]
        return sorted(versions, key=lambda v: v.version)

    async def _exists(self, name: str) -> bool:
        try:
            # Without decryption: knowing that a SecureString exists needs no KMS permission.
            await self._aws.call("get_parameter", what=f"read {name}", Name=name, WithDecryption=False)
        except ProviderRejected as exc:
            if exc.status == 404:
                return False
            raise
        return True
