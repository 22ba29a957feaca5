"""IAM access keys as the security actions' ``AccessKeys``: list, deactivate, and who the bot is.

The bot's own identity comes from STS (its IAM user, when it runs as one) and from the
credentials its boto3 session signs with (the key id), so the deactivation bound can refuse
the bot's own key whichever way it is named.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.core.ports.errors import ProviderError
from bot.core.ports.security import AccessKey, OwnIdentity
from bot.integrations.aws import DEFAULT_MAX_ATTEMPTS, AwsService

PROVIDER = "iam"


class Boto3AccessKeys:
    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None, client: Any = None,
                 sts_client: Any = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._iam = AwsService(PROVIDER, endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)
        self._sts = AwsService("sts", endpoint_url=endpoint_url, region=region, client=sts_client,
                               max_attempts=max_attempts)

    async def keys(self, user: str) -> list[AccessKey]:
        pages = await self._iam.pages("list_access_keys", what=f"list the access keys of {user}", UserName=user)
        return [AccessKey(user=str(raw.get("UserName", user)), key_id=str(raw["AccessKeyId"]),
                          status=str(raw.get("Status", "")), created=raw.get("CreateDate"))
                for page in pages for raw in page.get("AccessKeyMetadata") or ()]

    async def deactivate(self, user: str, key_id: str) -> None:
        await self._iam.call("update_access_key", what=f"deactivate access key {key_id} of {user}", UserName=user,
                             AccessKeyId=key_id, Status="Inactive")

    async def own_identity(self) -> OwnIdentity:
        user: str | None = None
        try:
            arn = str((await self._sts.call("get_caller_identity", what="read the bot's own identity")).get("Arn", ""))
        except ProviderError:
            arn = ""  # no STS: the key-id check below still holds
        if ":user/" in arn:
            user = arn.rsplit("/", 1)[-1]
        # The clients here are built from the default credential chain, so its key is the one they sign with.
        key_id = await asyncio.to_thread(_signing_key_id)
        return OwnIdentity(user=user, key_id=key_id)


def _signing_key_id() -> str | None:
    import boto3  # with the first AWS call, as in bot/integrations/aws.py

    credentials = boto3.session.Session().get_credentials()
    return credentials.access_key if credentials is not None else None
