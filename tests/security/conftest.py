from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.handlers.webhooks.sns_fixtures import DEFAULT_TOPIC_ARN, write_pinned_cert
from tests.scenarios.conftest import alice, bob, bot_factory, db, http, slack  # noqa: F401  (shared fixtures)
from tests.scenarios.harness import BotServer
from tests.security.support import EVENTBRIDGE_TOKEN, PAGERDUTY_SECRET, CanaryServer


@pytest.fixture
def certs_dir(tmp_path: Path) -> Path:
    certs = tmp_path / "certs"
    write_pinned_cert(certs)
    return certs


@pytest.fixture
def bot(bot_factory, certs_dir: Path) -> BotServer:  # noqa: F811  (overrides the scenarios' plain bot)
    """The bot with every inbound route armed: PagerDuty secret, EventBridge token, pinned SNS cert."""
    return bot_factory(pagerduty_webhook_secrets=PAGERDUTY_SECRET, eventbridge_token=EVENTBRIDGE_TOKEN,
                       sns_certs_dir=str(certs_dir), sns_topic_arns=DEFAULT_TOPIC_ARN)


@pytest.fixture
def canary() -> Iterator[CanaryServer]:
    with CanaryServer() as server:
        yield server
