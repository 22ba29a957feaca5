"""A real moto server on 127.0.0.1 for tests that talk to AWS (S3, ECS, SSM, CloudWatch, ...).

`tests/conftest.py` loads this module as a plugin, so every test can ask for its fixtures:

- ``moto_server_url`` (session): one server for the whole run.
- ``moto_endpoint`` (function): the same URL, with every service's state reset after the test.
- ``aws_env`` (function): ``moto_endpoint`` with ``AWS_ENDPOINT_URL``, dummy credentials and a
  region in the environment, for code that builds its own boto3 clients.
Outside pytest, ``running_moto()`` is a context manager yielding the URL, ``reset_moto(url)``
clears its state, and ``moto_client(url, service)`` is a boto3 client with dummy credentials.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@contextmanager
def running_moto() -> Iterator[str]:
    """Start a moto server on a free port of 127.0.0.1; yield its URL (``http://127.0.0.1:PORT``)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint: str) -> None:
    """Forget every bucket, service, parameter and alarm that the server holds."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def moto_client(endpoint: str, service: str, *, region: str = REGION, **config: Any) -> Any:
    """A boto3 client for ``service`` on the moto server (``config``: botocore Config options)."""
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        config=Config(**config) if config else None, **DUMMY_CREDENTIALS)


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    with running_moto() as endpoint:
        yield endpoint


@pytest.fixture
def moto_endpoint(moto_server_url: str) -> Iterator[str]:
    # Before too: moto keeps its state per process, and a demo stack's own moto server (tests/test_demo.py)
    # shares it without resetting.
    reset_moto(moto_server_url)
    yield moto_server_url
    reset_moto(moto_server_url)


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Keep a developer's own ~/.aws profile out of the tests.
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return moto_endpoint
