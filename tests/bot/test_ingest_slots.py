"""How many webhook deliveries are stored at once, by database, unless set."""

from __future__ import annotations

import pytest

from bot.app import ingest_slots
from bot.config.settings import Settings


@pytest.mark.parametrize(("database_url", "configured", "expected"), [
    ("sqlite:///var/bot.db", None, 1),  # one writer: more slots only contend for it
    ("postgresql://postgres@127.0.0.1:5432/test", None, 4),
    ("sqlite:///var/bot.db", 3, 3),
    ("postgresql://postgres@127.0.0.1:5432/test", 12, 12),
])
def test_ingest_slots(database_url: str, configured: int | None, expected: int) -> None:
    settings = Settings(slack_bot_token="xoxb-x", slack_signing_secret="s", database_url=database_url,
                        ingest_concurrency=configured)
    assert ingest_slots(settings) == expected


def test_zero_slots_are_refused() -> None:
    with pytest.raises(ValueError, match=r"ingest_concurrency|INGEST_CONCURRENCY|greater than or equal"):
        Settings(slack_bot_token="xoxb-x", slack_signing_secret="s", ingest_concurrency=0)
