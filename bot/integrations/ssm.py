"""SSM Parameter Store as a provider: the flags and settings that runbooks read and flip.

``Boto3ParameterStore`` is the real ``ParameterStore`` (boto3 in a thread, errors mapped by
``bot.integrations.aws``). Values are always returned decrypted, so a SecureString reads like
any other string; a missing parameter is ``ProviderRejected(status=404)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.ports.errors import ProviderRejected
from bot.core.ports.ssm import Parameter, ParameterVersion
from bot.integrations.aws import DEFAULT_MAX_ATTEMPTS, AwsService

PROVIDER = "ssm"
GET_PARAMETERS_LIMIT = 10  # GetParameters refuses more names than this in one call


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
