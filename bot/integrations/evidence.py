"""S3 as the evidence store, and the read-only ECS and Parameter Store state copied into it.

Objects are written with ``ChecksumAlgorithm=SHA256`` and our own digest, so S3 refuses bytes
that changed on the way; the digest S3 answers with is compared to ours as well, so a store that
does not check (an emulator) cannot hand back a snapshot whose manifest lies. Parameters are read
without decryption, and a SecureString's value is dropped: evidence says that it existed, which
version, and when it changed, never what it was.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from bot.core.ports.errors import ProviderError, ProviderRejected
from bot.core.ports.evidence import ParameterFacts, StoredObject
from bot.integrations.aws import DEFAULT_MAX_ATTEMPTS, AwsService

SECURE_STRING = "SecureString"


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _hex(b64_digest: str) -> str:
    try:
        return base64.b64decode(b64_digest, validate=True).hex()
    except (binascii.Error, ValueError):
        return ""


class Boto3EvidenceStore:
    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None, client: Any = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._aws = AwsService("s3", endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def put(self, *, bucket: str, key: str, body: bytes, sha256: str, content_type: str) -> StoredObject:
        answer = await self._aws.call("put_object", what=f"write s3://{bucket}/{key}", Bucket=bucket, Key=key,
                                      Body=body, ContentType=content_type, ChecksumAlgorithm="SHA256",
                                      ChecksumSHA256=_b64(sha256))
        echoed = answer.get("ChecksumSHA256")
        if echoed is not None and _hex(str(echoed)) != sha256:
            raise ProviderError(f"S3 stored s3://{bucket}/{key} with a different SHA-256 than was sent",
                                provider="s3")
        return StoredObject(key=key, size=len(body), sha256=sha256, version_id=answer.get("VersionId"))

    async def find(self, *, bucket: str, key: str) -> StoredObject | None:
        try:
            head = await self._aws.call("head_object", what=f"read s3://{bucket}/{key}", Bucket=bucket, Key=key,
                                        ChecksumMode="ENABLED")
        except ProviderRejected as exc:
            if exc.status == 404:
                return None
            raise
        return StoredObject(key=key, size=int(head.get("ContentLength") or 0),
                            sha256=_hex(str(head.get("ChecksumSHA256") or "")), version_id=head.get("VersionId"))


class Boto3StateSnapshots:
    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._ecs = AwsService("ecs", endpoint_url=endpoint_url, region=region, max_attempts=max_attempts)
        self._ssm = AwsService("ssm", endpoint_url=endpoint_url, region=region, max_attempts=max_attempts)

    async def ecs_service(self, *, cluster: str, service: str) -> dict[str, Any]:
        def read(client: Any) -> dict[str, Any]:
            described = client.describe_services(cluster=cluster, services=[service])
            services = described.get("services") or []
            task_definition = services[0].get("taskDefinition") if services else None
            definition = (client.describe_task_definition(taskDefinition=task_definition).get("taskDefinition")
                          if task_definition else None)
            return {"services": services, "failures": described.get("failures") or [],
                    "task_definition": definition}

        return await self._ecs.run(read, what=f"describe ECS service {service} in {cluster}")

    async def parameters(self, prefix: str) -> list[ParameterFacts]:
        pages = await self._ssm.pages("get_parameters_by_path", what=f"list parameters under {prefix}",
                                      Path=prefix, Recursive=True, WithDecryption=False)
        facts = [_facts(raw) for page in pages for raw in page.get("Parameters") or ()]
        return sorted(facts, key=lambda p: p.name)


def _facts(raw: dict[str, Any]) -> ParameterFacts:
    kind = str(raw.get("Type", "String"))
    return ParameterFacts(name=str(raw["Name"]), type=kind, version=int(raw.get("Version") or 0),
                          last_modified=raw.get("LastModifiedDate"), last_modified_by=raw.get("LastModifiedUser"),
                          value=None if kind == SECURE_STRING else str(raw.get("Value", "")))
