"""What the AWS providers (ECS, SSM) share: building boto3 clients and mapping botocore errors.

Only the provider modules import boto3; the rest of the bot sees ``bot.core.ports.errors``.
boto3 is blocking, so every call runs in a worker thread (``AwsService.call``), and botocore's
own retries (standard mode, with jittered backoff) happen there too, before an error is mapped:
throttling, 5xx, timeouts and lost connections become ``ProviderUnavailable``, a missing
credential ``ProviderRejected(401)``, a "not found" code ``ProviderRejected(404)``, and any
other refusal ``ProviderRejected`` with AWS's HTTP status and its own message.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.core.ports.errors import ProviderError, ProviderRejected, ProviderUnavailable

DEFAULT_REGION = "us-east-1"
DEFAULT_MAX_ATTEMPTS = 5  # the first try and four retries, with botocore's jittered backoff
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 20

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
# AWS answers most "no such thing" with HTTP 400; callers want to tell missing from malformed.
NOT_FOUND_CODES = frozenset(
    {
        "ParameterNotFound",
        "ParameterVersionNotFound",
        "ServiceNotFoundException",
        "ClusterNotFoundException",
        "ResourceNotFoundException",
    }
)

T = TypeVar("T")

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from botocore.loaders import Loader

# boto3 and botocore are imported when the first client is made, not with this module: about
# 10 MB of every replica's memory that a bot whose actions never touch AWS does not need.


@functools.cache
def _shared_model_loader() -> Loader:
    """One reader of botocore's service models for every session: each session would otherwise
    parse the same large JSON files again (tens of milliseconds of CPU under the GIL per client,
    which a replica pays on every start and the event loop feels). It only caches what it read."""
    from botocore.loaders import create_loader

    return create_loader()


def aws_region(region: str | None = None) -> str:
    return region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION


def aws_client(service: str, *, endpoint_url: str | None = None, region: str | None = None,
               max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Any:
    """A boto3 client for ``service`` with bounded timeouts and standard-mode retries.

    With ``endpoint_url`` None, boto3 reads ``AWS_ENDPOINT_URL`` itself (tests and the demo
    point it at a local moto server).
    """
    import boto3
    from botocore.config import Config

    # total_max_attempts counts the first try; botocore's "max_attempts" key counts only retries
    # (max_attempts=5 sends six requests).
    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts},
                    connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S)
    # A session of its own: boto3's default session is not safe to share between threads.
    session = boto3.session.Session()
    session._session.register_component("data_loader", _shared_model_loader())
    return session.client(service, endpoint_url=endpoint_url, region_name=aws_region(region),
                          config=config)


def map_aws_error(exc: Exception, *, provider: str, what: str) -> ProviderError:
    """The provider error that a botocore exception means; ``what`` reads "update my-service"."""
    from botocore.exceptions import (
        ClientError,
        HTTPClientError,
        NoCredentialsError,
        ParamValidationError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    label = provider.upper()
    if isinstance(exc, ClientError):
        return _map_client_error(exc, label=label, provider=provider, what=what)
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return ProviderUnavailable(f"{label} could not {what}: {type(exc).__name__}: {exc}",
                                   provider=provider)
    if isinstance(exc, NoCredentialsError):
        return ProviderRejected(
            f"{label} could not {what}: no AWS credentials found (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, a profile, or an instance or task role)",
            provider=provider, status=401)
    if isinstance(exc, ParamValidationError):
        # Our request was malformed: retrying will not help.
        return ProviderRejected(f"{label} refused to {what}: {exc}", provider=provider, status=400)
    return ProviderError(f"{label} could not {what}: {type(exc).__name__}: {exc}", provider=provider)


def _map_client_error(exc: ClientError, *, label: str, provider: str, what: str) -> ProviderError:
    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code") or "UnknownError")
    detail = f"{code}: {error.get('Message') or 'no message'}"
    status = metadata.get("HTTPStatusCode")
    if code in THROTTLING_CODES or (isinstance(status, int) and status >= 500):
        attempts = int(metadata.get("RetryAttempts") or 0) + 1
        return ProviderUnavailable(f"{label} could not {what}: {detail} (after {attempts} attempts)",
                                   provider=provider, status=status)
    if code in NOT_FOUND_CODES:
        status = 404
    return ProviderRejected(f"{label} refused to {what}: {detail}", provider=provider,
                            status=status if isinstance(status, int) else 400)


class AwsService:
    """One AWS service's client, made on first use and called from worker threads.

    Pass ``client`` to use a ready boto3 client (it must be for ``service``). The client is made
    lazily, in a thread, because making one reads the service's model files from disk.
    """

    def __init__(self, service: str, *, endpoint_url: str | None = None, region: str | None = None,
                 client: Any = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self.service = service
        self._endpoint_url = endpoint_url
        self._region = region
        self._max_attempts = max_attempts
        self._client = client
        self._client_lock = threading.Lock()

    def client(self) -> Any:
        """The boto3 client; blocking, so call it from a thread."""
        with self._client_lock:
            if self._client is None:
                self._client = aws_client(self.service, endpoint_url=self._endpoint_url,
                                          region=self._region, max_attempts=self._max_attempts)
            return self._client

    async def call(self, operation: str, *, what: str, **params: Any) -> dict[str, Any]:
        """One API call (``operation`` is the boto3 method name) in a thread, errors mapped."""
        return await self.run(lambda client: getattr(client, operation)(**params), what=what)

    async def pages(self, operation: str, *, what: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a paginated call, fetched in one thread."""
        return await self.run(
            lambda client: list(client.get_paginator(operation).paginate(**params)), what=what)

    async def run(self, work: Callable[[Any], T], *, what: str) -> T:
        """``work(client)`` in a thread, with botocore's errors mapped to provider errors."""
        try:
            return await asyncio.to_thread(lambda: work(self.client()))
        except Exception as exc:
            # botocore is loaded by now: making the client imported it.
            from botocore.exceptions import BotoCoreError, ClientError
            from botocore.parsers import ResponseParserError

            if isinstance(exc, (BotoCoreError, ClientError)):
                raise map_aws_error(exc, provider=self.service, what=what) from exc
            if isinstance(exc, (ResponseParserError, UnicodeDecodeError)):
                # An endpoint (a proxy, a broken emulator) answered with something that is not AWS's shape.
                raise ProviderUnavailable(f"{self.service.upper()} could not {what}: its answer could not be "
                                          f"read ({type(exc).__name__})", provider=self.service) from exc
            raise
