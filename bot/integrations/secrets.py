"""Secrets Manager as the security actions' ``SecretStore``: describe and rotate, never read.

A secret with a rotation Lambda is rotated by it (``rotate_secret``); one without gets a new
random value (``get_random_password`` then ``put_secret_value``), the old one kept as
AWSPREVIOUS. Either way the new version id comes back; the value never leaves AWS's side of
this module (the random one is made by AWS and written straight back).
"""

from __future__ import annotations

from typing import Any

from bot.core.ports.security import SecretState
from bot.integrations.aws import DEFAULT_MAX_ATTEMPTS, AwsService

PROVIDER = "secretsmanager"
RANDOM_LENGTH = 48
CURRENT = "AWSCURRENT"


class Boto3SecretStore:
    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None, client: Any = None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._aws = AwsService(PROVIDER, endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def describe(self, secret_id: str) -> SecretState:
        raw = await self._aws.call("describe_secret", what=f"describe secret {secret_id}", SecretId=secret_id)
        stages: dict[str, list[str]] = raw.get("VersionIdsToStages") or {}
        current = next((version for version, names in stages.items() if CURRENT in names), None)
        return SecretState(arn=str(raw.get("ARN", "")), name=str(raw.get("Name", secret_id)), current_version=current,
                           rotation_enabled=bool(raw.get("RotationEnabled") and raw.get("RotationLambdaARN")),
                           last_rotated=raw.get("LastRotatedDate"), last_changed=raw.get("LastChangedDate"))

    async def rotate(self, secret_id: str, *, use_lambda: bool, token: str) -> str:
        if use_lambda:
            answer = await self._aws.call("rotate_secret", what=f"rotate secret {secret_id}", SecretId=secret_id,
                                          ClientRequestToken=token, RotateImmediately=True)
            return str(answer["VersionId"])

        def put_random(client: Any) -> str:
            value = client.get_random_password(PasswordLength=RANDOM_LENGTH, ExcludePunctuation=True)["RandomPassword"]
            # The token makes a retried put land on the same version instead of adding another.
            answer = client.put_secret_value(SecretId=secret_id, SecretString=value, ClientRequestToken=token)
            return str(answer["VersionId"])

        return await self._aws.run(put_random, what=f"write a new value to secret {secret_id}")
