"""Amazon SNS message signatures: is this HTTP delivery really from SNS, for a topic we expect?

SNS signs every message with the private key of a certificate that it publishes at
``SigningCertURL``. We check the shape, then the topic allowlist (cheap refusals first), then that
the certificate URL is on an SNS host, then load the certificate (pinned directory first, then a
download, then an in-memory cache) and verify the RSA PKCS#1 v1.5 signature over the documented
string to sign. There is deliberately no freshness check on ``Timestamp``: SNS retries for up to
about an hour and replays are deduplicated on ``MessageId`` downstream.

Nothing in a payload is ever fetched except a trusted ``SigningCertURL`` and, through
``confirm_subscription``, a trusted ``SubscribeURL``.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from handlers.webhooks.errors import (
    BadSignature,
    ForbiddenTopic,
    MalformedPayload,
    UpstreamUnavailable,
)

NO_TRUSTED_TOPICS = "no SNS topic is trusted: set SNS_TOPIC_ARNS to the topics that may post alarms"

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

_COMMON_FIELDS = ("Type", "MessageId", "TopicArn", "Message", "Timestamp",
                  "SignatureVersion", "Signature", "SigningCertURL")
_CONFIRMATION_FIELDS = (*_COMMON_FIELDS, "Token", "SubscribeURL")
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    NOTIFICATION: _COMMON_FIELDS,
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_FIELDS,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_FIELDS,
}

# The order is SNS's, not ours: the string to sign is these "Name\nValue\n" pairs, in this order.
_NOTIFICATION_SIGNED = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_SIGNED = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SIGNED_FIELDS = {
    NOTIFICATION: _NOTIFICATION_SIGNED,
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_SIGNED,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_SIGNED,
}

_HASH_BY_SIGNATURE_VERSION: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

# From aws-php-sns-message-validator; fullmatch, because "$" would also accept a trailing newline.
SNS_HOST_PATTERN = re.compile(r"sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?")
# Pinned certificates are looked up by this name on disk, so it must be a plain file name.
_CERT_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*\.pem")
_DEFAULT_PORTS = {"http": 80, "https": 443}

CERT_FETCH_TIMEOUT_SECONDS = 5.0
CERT_MAX_BYTES = 64 * 1024
CERT_CACHE_SIZE = 32


class CertFetcher(Protocol):
    """Fetches a URL that has already been checked (a signing certificate, a SubscribeURL).

    Implementations raise ``WebhookError`` subclasses only: ``UpstreamUnavailable`` when the
    failure is worth a retry (network, 5xx), ``BadSignature`` when the answer is a refusal.
    """

    async def fetch(self, url: str) -> bytes: ...


class HttpxCertFetcher:
    """The real fetcher: one GET, no redirects, a total time limit and a size cap."""

    def __init__(self, *, timeout: float = CERT_FETCH_TIMEOUT_SECONDS, max_bytes: int = CERT_MAX_BYTES,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._transport = transport

    async def fetch(self, url: str) -> bytes:
        try:
            async with (
                asyncio.timeout(self._timeout),
                httpx.AsyncClient(timeout=self._timeout, follow_redirects=False,
                                  transport=self._transport) as client,
                client.stream("GET", url) as response,
            ):
                _check_fetch_status(response.status_code)
                return await _read_capped(response, self._max_bytes)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise BadSignature("untrusted URL") from exc
        except (httpx.HTTPError, TimeoutError) as exc:
            raise UpstreamUnavailable("could not fetch the SNS certificate") from exc


def _check_fetch_status(status: int) -> None:
    if status == 200:
        return
    if status == 429 or status >= 500:
        raise UpstreamUnavailable(f"fetch failed with HTTP {status}")
    raise BadSignature(f"fetch refused with HTTP {status}")


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BadSignature("fetched document too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise BadSignature("fetched document too large")
        chunks.append(chunk)
    return b"".join(chunks)


def validate_sns_message(message: object) -> dict[str, Any]:
    """The message if it has SNS's shape for its ``Type`` (every required field a string)."""
    if not isinstance(message, dict):
        raise MalformedPayload("SNS message must be a JSON object")
    kind = message.get("Type")
    if not isinstance(kind, str) or kind not in REQUIRED_FIELDS:
        raise MalformedPayload("unknown SNS message Type")
    for name in REQUIRED_FIELDS[kind]:
        if not isinstance(message.get(name), str):
            raise MalformedPayload(f"SNS {kind} needs a string {name}")
    if not isinstance(message.get("Subject"), str | None):
        raise MalformedPayload("SNS Subject must be a string")
    return message


def string_to_sign(message: dict[str, Any]) -> bytes:
    """SNS's canonical "Name\\nValue\\n" string for a message already checked for shape."""
    lines: list[str] = []
    for name in _SIGNED_FIELDS[message["Type"]]:
        value = message.get(name)
        if value is None:  # only Subject is optional, and it is signed only when present
            continue
        lines.append(f"{name}\n{value}\n")
    try:
        return "".join(lines).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from "\ud800" escapes: SNS never signs those
        raise BadSignature("message is not valid Unicode") from exc


def _split_url(url: str) -> SplitResult | None:
    # Refuse anything a URL parser could read two ways (backslashes, whitespace, control
    # characters, userinfo), so that what we check is what gets fetched.
    if not (url.isascii() and url.isprintable()) or "\\" in url or " " in url:
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if "@" in parts.netloc or not parts.hostname:
        return None
    return parts


def _on_sns_host(parts: SplitResult) -> bool:
    return (parts.scheme == "https" and parts.port in (None, 443)
            and SNS_HOST_PATTERN.fullmatch(parts.hostname or "") is not None)


def signing_cert_url_allowed(url: str) -> bool:
    """https, an SNS host, default port, no userinfo/query/fragment, a path ending in a .pem name."""
    if not isinstance(url, str):
        return False
    parts = _split_url(url)
    if parts is None or not _on_sns_host(parts) or parts.query or parts.fragment:
        return False
    return _CERT_FILE_NAME.fullmatch(parts.path.rsplit("/", 1)[-1]) is not None


def _origin(parts: SplitResult) -> str | None:
    default_port = _DEFAULT_PORTS.get(parts.scheme)
    if default_port is None or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{parts.port or default_port}"


def _normalised_origins(origins: frozenset[str]) -> set[str]:
    normalised = set()
    for origin in origins:
        parts = _split_url(origin)
        if parts is not None and (canonical := _origin(parts)) is not None:
            normalised.add(canonical)
    return normalised


def subscribe_url_allowed(url: str, *, extra_origins: frozenset[str] = frozenset()) -> bool:
    """Whether a SubscribeURL may be fetched: https on an SNS host, or an exact extra origin.

    ``extra_origins`` ("scheme://host:port") exists for a local AWS stand-in (moto behind
    ``AWS_ENDPOINT_URL``), whose SubscribeURLs point at itself; in production it is empty.
    """
    if not isinstance(url, str):
        return False
    parts = _split_url(url)
    if parts is None:
        return False
    if _on_sns_host(parts):
        return True
    origin = _origin(parts)
    return origin is not None and origin in _normalised_origins(extra_origins)


async def confirm_subscription(message: object, fetcher: CertFetcher,
                               extra_origins: frozenset[str] = frozenset()) -> None:
    """Confirm a (verified) SubscriptionConfirmation by fetching its SubscribeURL, if trusted."""
    checked = validate_sns_message(message)
    if checked["Type"] != SUBSCRIPTION_CONFIRMATION:
        raise MalformedPayload("not a SubscriptionConfirmation")
    url = checked["SubscribeURL"]
    if not subscribe_url_allowed(url, extra_origins=extra_origins):
        raise BadSignature("untrusted subscribe URL")
    parts = _split_url(url)
    assert parts is not None  # subscribe_url_allowed has parsed it
    await fetcher.fetch(urlunsplit(parts))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SnsVerifier:
    """Verifies SNS messages; holds the certificate cache, so make one per process."""

    def __init__(self, certs_dir: Path | None, fetcher: CertFetcher,
                 allowed_topics: frozenset[str], *, cache_size: int = CERT_CACHE_SIZE,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._certs_dir = certs_dir
        self._fetcher = fetcher
        self._allowed_topics = allowed_topics
        self._cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, x509.Certificate] = OrderedDict()
        # One load per URL at a time: a storm arriving before the first download finishes
        # shares that download instead of starting hundreds.
        self._loading: dict[str, asyncio.Task[x509.Certificate]] = {}

    @property
    def trusted_topics(self) -> frozenset[str]:
        return self._allowed_topics

    async def verify(self, message: object) -> None:
        checked = validate_sns_message(message)
        # Any AWS account can sign for its own topics, so a valid signature alone says nothing
        # about whose alarm this is: only configured topics are believed, and none by default.
        if not self._allowed_topics:
            raise ForbiddenTopic(NO_TRUSTED_TOPICS)
        if checked["TopicArn"] not in self._allowed_topics:
            raise ForbiddenTopic()
        algorithm = _HASH_BY_SIGNATURE_VERSION.get(checked["SignatureVersion"])
        if algorithm is None:
            raise BadSignature("unsupported signature version")
        signature = _decode_signature(checked["Signature"])
        signed = string_to_sign(checked)
        cert_url = checked["SigningCertURL"]
        if not signing_cert_url_allowed(cert_url):
            raise BadSignature("untrusted certificate URL")
        certificate = await self._certificate(cert_url)
        self._check_validity(certificate)
        _verify_rsa(certificate, signature, signed, algorithm())

    def _check_validity(self, certificate: x509.Certificate) -> None:
        now = self._clock()
        if now > certificate.not_valid_after_utc:
            raise BadSignature("certificate expired")
        if now < certificate.not_valid_before_utc:
            raise BadSignature("certificate not yet valid")

    async def _certificate(self, url: str) -> x509.Certificate:
        cached = self._cache.get(url)
        if cached is not None:
            self._cache.move_to_end(url)
            return cached
        task = self._loading.get(url)
        if task is None:
            task = asyncio.ensure_future(self._load(url))
            self._loading[url] = task
            task.add_done_callback(lambda done: self._load_finished(url, done))
        # Shielded: one caller hanging up must not cancel the load the others are waiting on.
        return await asyncio.shield(task)

    def _load_finished(self, url: str, task: asyncio.Task[x509.Certificate]) -> None:
        self._loading.pop(url, None)
        if not task.cancelled():
            task.exception()  # marks it retrieved even when every waiter has gone

    async def _load(self, url: str) -> x509.Certificate:
        pem = await self._pinned(url)
        if pem is None:
            pem = await self._fetcher.fetch(url)
        certificate = _load_certificate(pem)
        self._cache[url] = certificate
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return certificate

    async def _pinned(self, url: str) -> bytes | None:
        if self._certs_dir is None:
            return None
        path = self._certs_dir / urlsplit(url).path.rsplit("/", 1)[-1]
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UpstreamUnavailable("pinned certificate unreadable") from exc


def _decode_signature(value: str) -> bytes:
    try:
        signature = base64.b64decode(value, validate=True)
    except ValueError as exc:  # binascii.Error, and non-ASCII input
        raise BadSignature("malformed signature") from exc
    if not signature:
        raise BadSignature("malformed signature")
    return signature


def _load_certificate(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError) as exc:
        raise BadSignature("unreadable certificate") from exc


def _verify_rsa(certificate: x509.Certificate, signature: bytes, signed: bytes,
                algorithm: hashes.HashAlgorithm) -> None:
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise BadSignature("unreadable certificate key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadSignature("certificate key is not RSA")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm) as exc:
        raise BadSignature("signature mismatch") from exc
