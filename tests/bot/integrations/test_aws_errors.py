"""How botocore's failures reach the bot: a real local HTTP server answers the way AWS fails.

``FailingAws`` answers every request with one AWS JSON error and counts the requests, which
shows botocore's retries (standard mode) happening before an error is mapped.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from bot.core.ports.errors import ProviderError, ProviderRejected, ProviderUnavailable
from bot.integrations.aws import aws_client, map_aws_error
from bot.integrations.ecs import Boto3Ecs
from bot.integrations.ssm import Boto3ParameterStore
from tests.inference.moto_server import DUMMY_CREDENTIALS


class FailingAws:
    """An HTTP server on 127.0.0.1 that answers every request with ``status`` and an AWS error."""

    def __init__(self) -> None:
        self.status = 400
        self.error = {"__type": "ThrottlingException", "message": "Rate exceeded"}
        self.raw: bytes | None = None  # when set, a 200 with these bytes instead of the error
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.requests += 1
                body = owner.raw if owner.raw is not None else json.dumps(owner.error).encode()
                self.send_response(200 if owner.raw is not None else owner.status)
                self.send_header("content-type", "application/x-amz-json-1.1")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def failing_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FailingAws]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_CREDENTIALS["aws_secret_access_key"])
    with FailingAws() as server:
        yield server


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_throttling_is_retried_then_unavailable(failing_aws: FailingAws):
    # Throttling backs off by up to 1 s, 2 s, 4 s, ... per retry: three attempts keep this quick.
    ecs = Boto3Ecs(endpoint_url=failing_aws.url, max_attempts=3)

    with pytest.raises(ProviderUnavailable) as caught:
        await ecs.describe(cluster="multimodal-prod", service="multimodal-api")

    assert failing_aws.requests == 3
    assert caught.value.provider == "ecs"
    assert "ThrottlingException: Rate exceeded" in caught.value.message
    assert "after 3 attempts" in caught.value.message


async def test_an_answer_that_is_not_text_is_unavailable_not_a_crash(failing_aws: FailingAws):
    failing_aws.raw = b"\xff\xfe not text \x80"
    ecs = Boto3Ecs(endpoint_url=failing_aws.url, max_attempts=1)

    with pytest.raises(ProviderUnavailable) as caught:
        await ecs.describe(cluster="multimodal-prod", service="multimodal-api")

    assert caught.value.provider == "ecs"
    assert "its answer could not be read (UnicodeDecodeError)" in caught.value.message


@pytest.mark.parametrize("raw", [b"{not json", b"<html>proxy error</html>"])
async def test_an_answer_that_is_not_json_is_a_provider_error(failing_aws: FailingAws, raw: bytes):
    # botocore reads a body it cannot parse as an empty answer: ECS then names no service.
    failing_aws.raw = raw
    ecs = Boto3Ecs(endpoint_url=failing_aws.url, max_attempts=1)

    with pytest.raises(ProviderError):
        await ecs.describe(cluster="multimodal-prod", service="multimodal-api")


async def test_server_errors_are_retried_five_times_by_default(failing_aws: FailingAws):
    failing_aws.status = 500
    failing_aws.error = {"__type": "ServerException", "message": "Internal failure"}
    store = Boto3ParameterStore(endpoint_url=failing_aws.url)

    with pytest.raises(ProviderUnavailable) as caught:
        await store.get("/multimodal/prod/AUTO_APPLY_ENABLED")

    assert failing_aws.requests == 5
    assert caught.value.status == 500
    assert caught.value.message.startswith("SSM could not read /multimodal/prod/AUTO_APPLY_ENABLED")


async def test_other_refusals_are_rejected_at_once_with_aws_words(failing_aws: FailingAws):
    failing_aws.error = {"__type": "AccessDeniedException", "message": "User is not authorized to ecs:UpdateService"}
    ecs = Boto3Ecs(endpoint_url=failing_aws.url)

    with pytest.raises(ProviderRejected) as caught:
        await ecs.set_desired_count(cluster="multimodal-prod", service="multimodal-api", count=6)

    assert failing_aws.requests == 1
    assert caught.value.status == 400
    assert caught.value.message == (
        "ECS refused to scale multimodal-api to 6 in multimodal-prod: "
        "AccessDeniedException: User is not authorized to ecs:UpdateService")
    assert isinstance(caught.value.__cause__, ClientError)


async def test_no_connection_is_unavailable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ecs = Boto3Ecs(endpoint_url=f"http://127.0.0.1:{unused_port()}", max_attempts=2)

    with pytest.raises(ProviderUnavailable) as caught:
        await ecs.describe(cluster="multimodal-prod", service="multimodal-api")

    assert "EndpointConnectionError" in caught.value.message
    assert caught.value.status is None


async def test_missing_credentials_are_rejected(failing_aws: FailingAws, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("BOTO_CONFIG", str(tmp_path / "no-boto-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = Boto3ParameterStore(endpoint_url=failing_aws.url)

    with pytest.raises(ProviderRejected) as caught:
        await store.put("/multimodal/prod/AUTO_APPLY_ENABLED", "false")

    assert caught.value.status == 401
    assert "no AWS credentials" in caught.value.message
    assert failing_aws.requests == 0


def test_clients_retry_in_standard_mode_with_bounded_timeouts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    client = aws_client("ecs")

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (5, 20)
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"  # boto3 read AWS_ENDPOINT_URL itself
    assert client.meta.region_name == "eu-west-1"
    assert aws_client("ssm", region="ap-south-1").meta.region_name == "ap-south-1"


def test_region_defaults_to_us_east_1(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)

    assert aws_client("ssm", endpoint_url="http://127.0.0.1:4566").meta.region_name == "us-east-1"


def _client_error(code: str, status: int, message: str = "details") -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "UpdateService")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ThrottlingException", "Throttling", "TooManyRequestsException",
                                  "RequestLimitExceeded"])
def test_every_throttling_code_is_unavailable(code: str):
    error = map_aws_error(_client_error(code, 400), provider="ecs", what="scale api")

    assert isinstance(error, ProviderUnavailable)
    assert error.status == 400
    assert error.message.startswith(f"ECS could not scale api: {code}: details")


@pytest.mark.parametrize(("code", "status", "kind", "mapped_status"), [
    ("ServiceUnavailableException", 503, ProviderUnavailable, 503),
    ("ServiceNotFoundException", 400, ProviderRejected, 404),
    ("ParameterNotFound", 400, ProviderRejected, 404),
    ("ValidationException", 400, ProviderRejected, 400),
    ("AccessDeniedException", 403, ProviderRejected, 403),
])
def test_client_errors_map_by_code_and_status(code: str, status: int, kind: type[ProviderError],
                                              mapped_status: int):
    error = map_aws_error(_client_error(code, status), provider="ssm", what="write /flag")

    assert type(error) is kind
    assert error.status == mapped_status  # type: ignore[attr-defined]
    assert code in error.message and error.provider == "ssm"


def test_a_malformed_request_is_rejected():
    error = map_aws_error(ParamValidationError(report="Missing required parameter"), provider="ssm",
                          what="read /flag")

    assert isinstance(error, ProviderRejected)
    assert error.status == 400
    assert "Missing required parameter" in error.message
