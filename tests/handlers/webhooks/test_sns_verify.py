"""SNS signature verification: real RSA signatures, SNS's string to sign, and every refusal."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.webhooks.errors import (
    BadSignature,
    ForbiddenTopic,
    MalformedPayload,
    UpstreamUnavailable,
    WebhookError,
)
from handlers.webhooks.sns_verify import (
    HttpxCertFetcher,
    SnsVerifier,
    confirm_subscription,
    signing_cert_url_allowed,
    string_to_sign,
    subscribe_url_allowed,
)
from tests.handlers.webhooks.sns_fixtures import (
    DEFAULT_TOPIC_ARN,
    DROP,
    TEST_CERT_NAME,
    DictCertFetcher,
    default_identity,
    expired_identity,
    fetcher_serving_cert,
    make_signing_identity,
    sign_sns_message,
    signed_sns_message,
    signing_cert_url,
    write_pinned_cert,
)

OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:someone-elses-topic"


@pytest.fixture
def certs_dir(tmp_path: Path) -> Path:
    write_pinned_cert(tmp_path / "certs")
    return tmp_path / "certs"


def pinned_verifier(certs_dir: Path, **kwargs: Any) -> SnsVerifier:
    return SnsVerifier(certs_dir, kwargs.pop("fetcher", DictCertFetcher()),
                       kwargs.pop("allowed_topics", frozenset({DEFAULT_TOPIC_ARN})),
                       **kwargs)


# --- valid messages ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "ALARM: \"api-p95\" in US East (N. Virginia)"])
async def test_a_signed_notification_verifies(certs_dir: Path, version: str, subject: str | None) -> None:
    message = signed_sns_message(version=version, subject=subject)
    assert ("Subject" in message) is (subject is not None)
    await pinned_verifier(certs_dir).verify(message)


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
async def test_signed_confirmations_verify(certs_dir: Path, version: str, kind: str) -> None:
    await pinned_verifier(certs_dir).verify(signed_sns_message(kind=kind, version=version))


async def test_a_null_subject_is_treated_as_absent(certs_dir: Path) -> None:
    message = signed_sns_message()
    message["Subject"] = None  # some senders write the key with null; it is not part of the string
    await pinned_verifier(certs_dir).verify(message)


async def test_an_unsigned_field_may_change(certs_dir: Path) -> None:
    message = signed_sns_message()
    message["UnsubscribeURL"] = "https://example.com/"  # not in SNS's string to sign
    await pinned_verifier(certs_dir).verify(message)


# --- the string to sign -----------------------------------------------------------------------

def test_the_notification_string_to_sign_is_snss() -> None:
    message = {"Type": "Notification", "MessageId": "id-1", "TopicArn": "arn:t", "Subject": "subj",
               "Message": "hello\nworld", "Timestamp": "2024-05-01T12:00:00.000Z", "UnsubscribeURL": "u",
               "SignatureVersion": "2", "Signature": "x", "SigningCertURL": "c"}
    assert string_to_sign(message) == (
        b"Message\nhello\nworld\nMessageId\nid-1\nSubject\nsubj\n"
        b"Timestamp\n2024-05-01T12:00:00.000Z\nTopicArn\narn:t\nType\nNotification\n"
    )
    del message["Subject"]
    assert b"Subject" not in string_to_sign(message)


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_the_confirmation_string_to_sign_is_snss(kind: str) -> None:
    message = {"Type": kind, "MessageId": "id-1", "TopicArn": "arn:t", "Message": "m",
               "Timestamp": "ts", "Token": "tok", "SubscribeURL": "https://s/", "Subject": "ignored",
               "SignatureVersion": "2", "Signature": "x", "SigningCertURL": "c"}
    assert string_to_sign(message) == (
        b"Message\nm\nMessageId\nid-1\nSubscribeURL\nhttps://s/\nTimestamp\nts\nToken\ntok\n"
        b"TopicArn\narn:t\nType\n" + kind.encode() + b"\n"
    )


# --- forged and tampered messages -------------------------------------------------------------

@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("field", ["Message", "MessageId", "Subject", "Timestamp", "TopicArn"])
async def test_a_tampered_notification_is_refused(certs_dir: Path, version: str, field: str) -> None:
    message = signed_sns_message(version=version, subject="original subject")
    message[field] = message[field] + "x"
    # The tampered topic is trusted too, so that it is the signature that refuses it.
    verifier = pinned_verifier(certs_dir, allowed_topics=frozenset({DEFAULT_TOPIC_ARN, message["TopicArn"]}))
    with pytest.raises(BadSignature, match="signature mismatch"):
        await verifier.verify(message)


async def test_adding_or_removing_a_subject_breaks_the_signature(certs_dir: Path) -> None:
    verifier = pinned_verifier(certs_dir)
    with pytest.raises(BadSignature):
        await verifier.verify({**signed_sns_message(), "Subject": "added"})
    with pytest.raises(BadSignature):
        await verifier.verify(signed_sns_message(subject="present", extra=None) | {"Subject": None})


@pytest.mark.parametrize("field", ["Token", "SubscribeURL", "Message"])
async def test_a_tampered_confirmation_is_refused(certs_dir: Path, field: str) -> None:
    message = signed_sns_message(kind="SubscriptionConfirmation")
    message[field] = message[field] + "0"
    with pytest.raises(BadSignature):
        await pinned_verifier(certs_dir).verify(message)


async def test_a_message_signed_by_another_key_is_refused(certs_dir: Path) -> None:
    forger = make_signing_identity(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(BadSignature, match="signature mismatch"):
        await pinned_verifier(certs_dir).verify(signed_sns_message(identity=forger))


async def test_a_v1_signature_presented_as_v2_is_refused(certs_dir: Path) -> None:
    message = signed_sns_message(version="1")
    message["SignatureVersion"] = "2"
    with pytest.raises(BadSignature):
        await pinned_verifier(certs_dir).verify(message)


@pytest.mark.parametrize("version", ["3", "", "2 ", "02"])
async def test_an_unknown_signature_version_is_refused(certs_dir: Path, version: str) -> None:
    message = signed_sns_message()
    message["SignatureVersion"] = version
    with pytest.raises(BadSignature, match="unsupported signature version"):
        await pinned_verifier(certs_dir).verify(message)


@pytest.mark.parametrize("signature", ["", "not base64!", "é", "AAAA="])
async def test_a_malformed_signature_is_refused(certs_dir: Path, signature: str) -> None:
    message = signed_sns_message()
    message["Signature"] = signature
    with pytest.raises(BadSignature):
        await pinned_verifier(certs_dir).verify(message)


@pytest.mark.parametrize("message", [
    [], "text", None,
    {"Type": "Notification"},
    {"Type": "Bogus"},
    {"Type": ["Notification"]},
])
async def test_a_message_of_the_wrong_shape_is_malformed(certs_dir: Path, message: object) -> None:
    with pytest.raises(MalformedPayload):
        await pinned_verifier(certs_dir).verify(message)


@pytest.mark.parametrize("field", ["MessageId", "Message", "Timestamp", "Signature", "SigningCertURL", "TopicArn"])
async def test_a_missing_or_non_string_required_field_is_malformed(certs_dir: Path, field: str) -> None:
    verifier = pinned_verifier(certs_dir)
    message = signed_sns_message()
    with pytest.raises(MalformedPayload):
        await verifier.verify({name: value for name, value in message.items() if name != field})
    with pytest.raises(MalformedPayload):
        await verifier.verify({**message, field: 7})


@pytest.mark.parametrize("field", ["Token", "SubscribeURL"])
async def test_a_confirmation_without_token_or_url_is_malformed(certs_dir: Path, field: str) -> None:
    with pytest.raises(MalformedPayload):
        await pinned_verifier(certs_dir).verify(signed_sns_message(kind="SubscriptionConfirmation",
                                                                   extra={field: DROP}))


# --- certificate URLs -------------------------------------------------------------------------

TRUSTED_CERT_URLS = [
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    "https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
]
UNTRUSTED_CERT_URLS = [
    "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.example.com/SimpleNotificationService-abc.pem",
    "https://evil.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem",
    "https://user:pass@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://evil.com@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com\\@evil.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com:abc/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.txt",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem.txt",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem#frag",
    "https://sns.us-east-1.amazonaws.com/.pem",
    "https://sns.us-east-1.amazonaws.com/../x.pem/..",
    "https://sns.us-east-1.amazonaws.com/%2e%2e%2fsecret.pem",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem\n",
    "https://sns.us-east-1.amazonaws.com./SimpleNotificationService-abc.pem",
    "https://sns.ab.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://xsns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us_east_1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://[::1]/SimpleNotificationService-abc.pem",
    "ftp://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "//sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "SimpleNotificationService-abc.pem",
    "",
]


@pytest.mark.parametrize("url", TRUSTED_CERT_URLS)
def test_trusted_certificate_urls(url: str) -> None:
    assert signing_cert_url_allowed(url)


@pytest.mark.parametrize("url", UNTRUSTED_CERT_URLS)
async def test_an_untrusted_certificate_url_is_refused_without_a_fetch(tmp_path: Path, url: str) -> None:
    assert not signing_cert_url_allowed(url)
    fetcher = DictCertFetcher({url: default_identity().pem})
    message = signed_sns_message(cert_url=url)
    with pytest.raises(BadSignature, match="untrusted certificate URL"):
        await SnsVerifier(tmp_path, fetcher, frozenset({DEFAULT_TOPIC_ARN})).verify(message)
    assert fetcher.calls == []


# --- where certificates come from -------------------------------------------------------------

async def test_the_pinned_directory_is_used_before_any_download(certs_dir: Path) -> None:
    wrong_cert = make_signing_identity(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    fetcher = fetcher_serving_cert(identity=wrong_cert)  # would fail verification if it were used
    await SnsVerifier(certs_dir, fetcher, frozenset({DEFAULT_TOPIC_ARN})).verify(signed_sns_message())
    assert fetcher.calls == []


async def test_the_pinned_file_is_named_by_the_urls_last_path_segment(tmp_path: Path) -> None:
    write_pinned_cert(tmp_path, "SimpleNotificationService-0123abcd.pem")
    fetcher = DictCertFetcher()
    message = signed_sns_message(cert_name="SimpleNotificationService-0123abcd.pem", region="eu-west-1")
    await SnsVerifier(tmp_path, fetcher, frozenset({DEFAULT_TOPIC_ARN})).verify(message)
    assert fetcher.calls == []


@pytest.mark.parametrize("pinned", [True, False])
async def test_a_certificate_not_pinned_is_downloaded_once_and_cached(tmp_path: Path, pinned: bool) -> None:
    fetcher = fetcher_serving_cert()
    # An empty dir: nothing pinned.
    verifier = SnsVerifier(tmp_path if pinned else None, fetcher, frozenset({DEFAULT_TOPIC_ARN}))
    for _ in range(3):
        await verifier.verify(signed_sns_message())
    assert fetcher.calls == [signing_cert_url()]


async def test_concurrent_first_deliveries_share_one_download() -> None:
    class SlowFetcher(DictCertFetcher):
        async def fetch(self, url: str) -> bytes:
            await asyncio.sleep(0.01)
            return await super().fetch(url)

    fetcher = SlowFetcher({signing_cert_url(): default_identity().pem})
    verifier = SnsVerifier(None, fetcher, frozenset({DEFAULT_TOPIC_ARN}))
    await asyncio.gather(*(verifier.verify(signed_sns_message()) for _ in range(20)))
    assert fetcher.calls == [signing_cert_url()]


async def test_the_certificate_cache_is_bounded() -> None:
    names = [f"SimpleNotificationService-{n}.pem" for n in range(3)]
    fetcher = DictCertFetcher({signing_cert_url(name): default_identity().pem for name in names})
    verifier = SnsVerifier(None, fetcher, frozenset({DEFAULT_TOPIC_ARN}), cache_size=2)
    for name in [*names, names[0]]:
        await verifier.verify(signed_sns_message(cert_name=name))
    assert fetcher.calls.count(signing_cert_url(names[0])) == 2


async def test_a_failed_download_is_not_cached() -> None:
    fetcher = DictCertFetcher()
    verifier = SnsVerifier(None, fetcher, frozenset({DEFAULT_TOPIC_ARN}))
    with pytest.raises(BadSignature):
        await verifier.verify(signed_sns_message())
    fetcher.documents[signing_cert_url()] = default_identity().pem
    await verifier.verify(signed_sns_message())
    assert len(fetcher.calls) == 2


async def test_a_fetcher_outage_is_retryable() -> None:
    class DownFetcher:
        async def fetch(self, url: str) -> bytes:
            raise UpstreamUnavailable()

    with pytest.raises(UpstreamUnavailable) as caught:
        await SnsVerifier(None, DownFetcher(), frozenset({DEFAULT_TOPIC_ARN})).verify(signed_sns_message())
    assert caught.value.http_status == 503


@pytest.mark.parametrize("document", [b"", b"not a certificate",
                                      b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
async def test_an_unreadable_certificate_is_refused(document: bytes) -> None:
    fetcher = DictCertFetcher({signing_cert_url(): document})
    with pytest.raises(BadSignature, match="unreadable certificate"):
        await SnsVerifier(None, fetcher, frozenset({DEFAULT_TOPIC_ARN})).verify(signed_sns_message())


async def test_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    write_pinned_cert(tmp_path, identity=expired_identity())
    with pytest.raises(BadSignature, match="certificate expired"):
        await SnsVerifier(tmp_path, DictCertFetcher(), frozenset({DEFAULT_TOPIC_ARN})).verify(signed_sns_message())


async def test_a_certificate_that_expires_while_cached_is_refused(certs_dir: Path) -> None:
    now = [datetime.now(UTC)]
    verifier = SnsVerifier(certs_dir, DictCertFetcher(), frozenset({DEFAULT_TOPIC_ARN}), clock=lambda: now[0])
    await verifier.verify(signed_sns_message())
    now[0] += timedelta(days=400)
    with pytest.raises(BadSignature, match="certificate expired"):
        await verifier.verify(signed_sns_message())
    now[0] -= timedelta(days=800)
    with pytest.raises(BadSignature, match="not yet valid"):
        await verifier.verify(signed_sns_message())


# --- topics -----------------------------------------------------------------------------------

async def test_a_topic_outside_the_allowlist_is_forbidden_before_any_fetch() -> None:
    fetcher = fetcher_serving_cert()
    verifier = SnsVerifier(None, fetcher, frozenset({DEFAULT_TOPIC_ARN}))
    with pytest.raises(ForbiddenTopic) as caught:
        await verifier.verify(signed_sns_message(topic_arn=OTHER_TOPIC))
    assert caught.value.http_status == 403
    assert fetcher.calls == []
    await verifier.verify(signed_sns_message(topic_arn=DEFAULT_TOPIC_ARN))


async def test_the_shape_is_checked_before_the_topic() -> None:
    verifier = SnsVerifier(None, DictCertFetcher(), frozenset({DEFAULT_TOPIC_ARN}))
    with pytest.raises(MalformedPayload):
        await verifier.verify(signed_sns_message(topic_arn=OTHER_TOPIC, extra={"MessageId": DROP}))


async def test_an_empty_allowlist_trusts_no_topic_and_fetches_nothing() -> None:
    fetcher = fetcher_serving_cert()
    verifier = SnsVerifier(None, fetcher, frozenset())
    for topic in (OTHER_TOPIC, DEFAULT_TOPIC_ARN):
        with pytest.raises(ForbiddenTopic, match="SNS_TOPIC_ARNS"):
            await verifier.verify(signed_sns_message(topic_arn=topic))
    assert fetcher.calls == []


# --- subscription confirmation ----------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:x&Token=abc",
    "https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=abc",
    "https://sns.us-east-1.amazonaws.com:443/?Action=ConfirmSubscription",
])
def test_sns_subscribe_urls_are_allowed(url: str) -> None:
    assert subscribe_url_allowed(url)


@pytest.mark.parametrize("url", [
    "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
    "https://evil.com/sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
    "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription",
    "https://user@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
    "https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription",
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:5000/?Action=ConfirmSubscription",
    "file:///etc/passwd",
    "",
])
def test_other_subscribe_urls_are_refused(url: str) -> None:
    assert not subscribe_url_allowed(url)


@pytest.mark.parametrize(("url", "origins", "allowed"), [
    ("http://127.0.0.1:5000/?Action=ConfirmSubscription", {"http://127.0.0.1:5000"}, True),
    ("http://localhost:5000/x", {"http://LOCALHOST:5000/"}, True),
    ("http://localhost/x", {"http://localhost:80"}, True),
    ("https://moto.internal/x", {"https://moto.internal"}, True),
    ("http://127.0.0.1:5001/x", {"http://127.0.0.1:5000"}, False),
    ("https://127.0.0.1:5000/x", {"http://127.0.0.1:5000"}, False),
    ("http://user@127.0.0.1:5000/x", {"http://127.0.0.1:5000"}, False),
    ("http://127.0.0.1:5000.evil.com/x", {"http://127.0.0.1:5000"}, False),
    ("http://evil.com/x", {"not an origin", ""}, False),
])
def test_extra_origins_allow_a_local_aws_stand_in(url: str, origins: set[str], allowed: bool) -> None:
    assert subscribe_url_allowed(url, extra_origins=frozenset(origins)) is allowed


async def test_a_confirmation_fetches_its_subscribe_url() -> None:
    message = signed_sns_message(kind="SubscriptionConfirmation")
    fetcher = DictCertFetcher({message["SubscribeURL"]: b"<ConfirmSubscriptionResponse/>"})
    await confirm_subscription(message, fetcher)
    assert fetcher.calls == [message["SubscribeURL"]]


async def test_a_confirmation_to_a_local_stand_in_needs_its_origin() -> None:
    url = "http://127.0.0.1:5000/?Action=ConfirmSubscription&Token=abc"
    message = signed_sns_message(kind="SubscriptionConfirmation", subscribe_url=url)
    fetcher = DictCertFetcher({url: b"ok"})
    with pytest.raises(BadSignature, match="untrusted subscribe URL"):
        await confirm_subscription(message, fetcher)
    assert fetcher.calls == []
    await confirm_subscription(message, fetcher, frozenset({"http://127.0.0.1:5000"}))
    assert fetcher.calls == [url]


@pytest.mark.parametrize("message", [signed_sns_message(), signed_sns_message(kind="UnsubscribeConfirmation"), {}])
async def test_only_a_subscription_confirmation_is_confirmed(message: dict[str, Any]) -> None:
    fetcher = DictCertFetcher()
    with pytest.raises(MalformedPayload):
        await confirm_subscription(message, fetcher)
    assert fetcher.calls == []


# --- the httpx fetcher ------------------------------------------------------------------------

def fetcher_answering(handler: Any, **kwargs: Any) -> HttpxCertFetcher:
    return HttpxCertFetcher(transport=httpx.MockTransport(handler), **kwargs)


async def test_the_httpx_fetcher_returns_the_document() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"pem bytes")

    assert await fetcher_answering(handler).fetch(signing_cert_url()) == b"pem bytes"
    assert str(seen[0].url) == signing_cert_url()


@pytest.mark.parametrize(("response", "error"), [
    (httpx.Response(302, headers={"location": "https://evil.com/x.pem"}), BadSignature),
    (httpx.Response(404), BadSignature),
    (httpx.Response(500), UpstreamUnavailable),
    (httpx.Response(429), UpstreamUnavailable),
    (httpx.Response(200, content=b"x" * (64 * 1024 + 1)), BadSignature),
])
async def test_the_httpx_fetcher_refuses_redirects_errors_and_big_documents(
        response: httpx.Response, error: type[WebhookError]) -> None:
    with pytest.raises(error):
        await fetcher_answering(lambda request: response).fetch(signing_cert_url())


async def test_the_httpx_fetcher_maps_network_errors_to_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("unreachable", request=request)

    with pytest.raises(UpstreamUnavailable):
        await fetcher_answering(handler).fetch(signing_cert_url())


async def test_the_httpx_fetcher_has_a_total_time_limit() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(UpstreamUnavailable):
        await fetcher_answering(handler, timeout=0.05).fetch(signing_cert_url())


# --- properties -------------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=5),
    max_leaves=20,
)
sns_like = st.fixed_dictionaries(
    {"Type": st.sampled_from(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation", "x"])},
    optional={name: st.one_of(any_text, json_values) for name in
              ["MessageId", "TopicArn", "Message", "Timestamp", "Subject", "Token", "SubscribeURL",
               "SignatureVersion", "Signature"]}
    | {"SigningCertURL": st.sampled_from([signing_cert_url(), "http://x/y.pem"]) | any_text},
)


def verify_now(message: object, *, allowed_topics: frozenset[str] = frozenset({DEFAULT_TOPIC_ARN})) -> None:
    asyncio.run(SnsVerifier(None, fetcher_serving_cert(), allowed_topics).verify(message))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=json_values | sns_like)
def test_verify_raises_only_webhook_errors_on_any_json(message: object) -> None:
    with contextlib.suppress(WebhookError):
        verify_now(json.loads(json.dumps(message)))


SIGNED_NOTIFICATION = signed_sns_message(subject="subject")
MUTABLE_FIELDS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn",
                  "SignatureVersion", "Signature", "SigningCertURL"]


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(MUTABLE_FIELDS), value=any_text, version=st.sampled_from(["1", "2"]))
def test_changing_any_signed_field_fails_verification(field: str, value: str, version: str) -> None:
    message = sign_sns_message(SIGNED_NOTIFICATION, version=version)
    if value == message[field]:
        value += "x"
    with pytest.raises(BadSignature):
        # A changed topic is trusted too, so that it is the signature that refuses it.
        verify_now({**message, field: value}, allowed_topics=frozenset({DEFAULT_TOPIC_ARN, value}))


@settings(max_examples=100, deadline=None)
@given(topic=st.text(max_size=60))  # signable text: SNS never signs lone surrogates
def test_any_other_topic_is_forbidden(topic: str) -> None:
    message = signed_sns_message(topic_arn=topic)
    if topic == DEFAULT_TOPIC_ARN:
        return
    with pytest.raises(ForbiddenTopic):
        verify_now(message, allowed_topics=frozenset({DEFAULT_TOPIC_ARN}))


def test_the_fixture_cert_name_is_the_default() -> None:
    assert signed_sns_message()["SigningCertURL"].endswith("/" + TEST_CERT_NAME)
