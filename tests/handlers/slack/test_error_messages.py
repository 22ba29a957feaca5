"""The one place errors become messages: refusals as they are, outages plainly, bugs with an id."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.core.errors import CoreError
from handlers.slack.errors import DATABASE_UNAVAILABLE_MESSAGE, message_for


def test_a_refusal_is_shown_as_it_is() -> None:
    assert message_for(CoreError("Incident #4 is resolved.")) == "⚠️ Incident #4 is resolved."


@pytest.mark.parametrize("exc", [
    OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused")),
    ConnectionRefusedError("connection refused"),
])
def test_a_database_outage_says_so_without_an_error_id(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="incident_bot.errors"):
        assert message_for(exc) == DATABASE_UNAVAILABLE_MESSAGE
    assert "error id" not in DATABASE_UNAVAILABLE_MESSAGE
    assert all(record.levelno == logging.WARNING and record.exc_info is None for record in caplog.records)


def test_anything_else_gets_an_error_id_that_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="incident_bot.errors"):
        text = message_for(KeyError("surprise"))
    error_id = text.split("`")[1]
    assert len(error_id) == 10 and error_id in caplog.records[-1].getMessage()
    assert caplog.records[-1].exc_info is not None
