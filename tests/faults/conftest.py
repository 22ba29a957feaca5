from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.slack_api import LocalSlackServer
from tests.handlers.webhooks.sns_fixtures import write_pinned_cert


@pytest.fixture
def slack() -> Iterator[LocalSlackServer]:
    with LocalSlackServer() as server:
        yield server


@pytest.fixture
def sns_certs(tmp_path: Path) -> Path:
    """The test SNS signing certificate, pinned, so SNS deliveries verify without a download."""
    certs = tmp_path / "sns-certs"
    certs.mkdir()
    write_pinned_cert(certs)
    return certs
