"""Parsing `/incident investigate [kind] [correlation-id]`: what it asks for, or why it is refused."""

from __future__ import annotations

import pytest

from handlers.slack.commands.base import UsageError
from handlers.slack.commands.investigate import Asked, parse
from runbooks.investigations.base import InvestigationKind


@pytest.mark.parametrize(("args", "asked"), [
    ("", Asked()),
    ("   ", Asked()),
    ("logs", Asked(kind=InvestigationKind.LOGS)),
    ("TASKS", Asked(kind=InvestigationKind.TASKS)),
    ("data-quality", Asked(kind=InvestigationKind.DATA_QUALITY)),
    ("logs 550e8400-e29b-41d4-a716-446655440000",
     Asked(kind=InvestigationKind.LOGS, correlation_id="550e8400-e29b-41d4-a716-446655440000")),
    ("logs req:42.a_b", Asked(kind=InvestigationKind.LOGS, correlation_id="req:42.a_b")),
    ("logs " + "a" * 128, Asked(kind=InvestigationKind.LOGS, correlation_id="a" * 128)),
    ("nonsense", Asked(unknown="nonsense")),
    ("<!channel> and more", Asked(unknown="<!channel>")),
])
def test_what_is_asked(args: str, asked: Asked) -> None:
    assert parse(args) == asked


@pytest.mark.parametrize(("args", "said"), [
    ('logs "a" OR x', "at most one correlation id"),
    ('logs a"b', "not a correlation id"),
    ("logs <@U0ALICE>", "not a correlation id"),
    ("logs " + "a" * 129, "not a correlation id"),
    ("logs ünïcode", "not a correlation id"),
    ("logs a\u200bb", "not a correlation id"),
    ("tasks abc", "Only `logs` searches by correlation id"),
])
def test_a_malformed_ask_is_a_usage_error_that_says_why(args: str, said: str) -> None:
    with pytest.raises(UsageError, match=said.replace("`", ".")):
        parse(args)
