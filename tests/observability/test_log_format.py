"""The log format every process shares: one JSON object a line with the correlation id, or text
for a person at a terminal; and the ids that come from outside are checked before use."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import httpx
import pytest

from observability import correlation
from observability.asgi import CorrelationMiddleware
from observability.logs import LogSettings, configure_logging

REQUIRED_KEYS = {"time", "level", "logger", "message", "correlation_id"}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_is_one_object_a_line_with_the_correlation_id(restore_logging) -> None:
    out = io.StringIO()
    assert configure_logging(LogSettings(log_format="json"), out) == "json"
    with correlation.bound("pagerduty:Q1ABC"):
        logging.getLogger("incident_bot.test").info("paged %s\nsecond line", "Dana")
    logging.getLogger("incident_bot.test").warning("outside any work")
    first, second = lines(out)
    assert set(first) == REQUIRED_KEYS
    assert first["message"] == "paged Dana\nsecond line"  # a newline stays inside its one JSON line
    assert (first["level"], first["logger"], first["correlation_id"]) == ("INFO", "incident_bot.test",
                                                                         "pagerduty:Q1ABC")
    assert first["time"].endswith("+00:00")
    assert second["correlation_id"] == "-"


def test_an_exception_is_kept_in_its_line_and_extra_fields_are_not_written(restore_logging) -> None:
    out = io.StringIO()
    configure_logging(LogSettings(log_format="json"), out)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed", extra={"token": "xoxb-not-for-logs"})
    (line,) = lines(out)
    assert "ValueError: boom" in line["exception"]
    assert "xoxb-not-for-logs" not in out.getvalue()


def test_the_format_follows_the_terminal_unless_set(restore_logging) -> None:
    assert LogSettings().format_for(Terminal()) == "text"
    assert LogSettings().format_for(io.StringIO()) == "json"
    assert LogSettings(log_format="json").format_for(Terminal()) == "json"
    out = Terminal()
    configure_logging(LogSettings(), out)
    with correlation.bound("timer:7"):
        logging.getLogger("incident_bot.test").info("fired")
    assert "INFO incident_bot.test [timer:7]: fired" in out.getvalue()


def test_log_settings_take_any_case(monkeypatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert (LogSettings().log_level, LogSettings().log_format) == ("DEBUG", "json")


def test_log_settings_refuse_an_unknown_format_or_level() -> None:
    with pytest.raises(ValueError):
        LogSettings(log_format="xml")
    with pytest.raises(ValueError):
        LogSettings(log_level="LOUD")


@pytest.mark.parametrize("sent", ["pagerduty:Q1ABC", "3f2a9c", "req-1.2_3@edge/4+5=6"])
def test_a_usable_id_from_outside_is_taken_as_sent(sent: str) -> None:
    assert correlation.accepted(sent) == sent
    assert correlation.scoped("sns", sent) == f"sns:{sent}"


@pytest.mark.parametrize("hostile", ["", " ", "a b", "x\n{\"level\": \"CRITICAL\"}", "-leading-dash",
                                     "é", "a" * 129, "\x00", "id;rm"])
def test_a_hostile_id_is_replaced_never_logged_as_sent(hostile: str) -> None:
    assert correlation.accepted(hostile) is None
    kind, _, fresh = correlation.scoped("webhook", hostile).partition(":")
    assert kind == "webhook"
    # A fresh id (the process's random prefix and a counter), nothing of what was sent.
    prefix, _, number = fresh.partition("-")
    assert len(prefix) == 12 and int(prefix, 16) >= 0 and int(number, 16) > 0
    assert correlation.accepted(fresh) == fresh


def test_fresh_ids_never_repeat() -> None:
    ids = {correlation.new_id("request") for _ in range(1000)}
    assert len(ids) == 1000


def test_an_id_bound_in_one_task_does_not_leak_into_another() -> None:
    async def scenario() -> tuple[str | None, str | None]:
        async def inner() -> str | None:
            correlation.bind("action:9")
            return correlation.current()

        with correlation.bound("slack:1"):
            inside = await asyncio.create_task(inner())
            after = correlation.current()
        return inside, after

    assert asyncio.run(scenario()) == ("action:9", "slack:1")
    assert correlation.current() is None


async def echo_app(scope, receive, send) -> None:
    logging.getLogger("incident_bot.test").info("handling")
    body = (correlation.current() or "").encode()
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(("sent", "kept"), [("bot-call-42", True), ("x\ny", False), (None, False)])
async def test_the_middleware_runs_a_request_under_its_id_and_echoes_it(sent, kept, restore_logging) -> None:
    out = io.StringIO()
    configure_logging(LogSettings(log_format="json"), out)
    app = CorrelationMiddleware(echo_app, log_requests="all", logger="incident_bot.http")
    headers = {"X-Request-Id": sent} if sent is not None else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as client:
        response = await client.post("/webhooks/pagerduty?token=not-for-logs", headers=headers)
    assert response.status_code == 201
    seen = response.headers["X-Request-Id"]
    assert response.text == seen
    assert seen == sent if kept else seen.startswith("webhook:")
    handled, answered = lines(out)
    assert handled["correlation_id"] == answered["correlation_id"] == seen
    assert answered["logger"] == "incident_bot.http"
    assert answered["message"].startswith("POST /webhooks/pagerduty 201 in ")
    assert "not-for-logs" not in out.getvalue()


async def test_the_worker_logs_only_requests_that_name_their_id(restore_logging) -> None:
    out = io.StringIO()
    configure_logging(LogSettings(log_format="json"), out)
    app = CorrelationMiddleware(echo_app, log_requests="sent", logger="inference.http")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker") as client:
        await client.get("/v1/models/incident-text")
        await client.get("/v1/models/incident-text", headers={"X-Request-Id": "pagerduty:Q2"})
    answered = [line for line in lines(out) if line["logger"] == "inference.http"]
    assert [line["correlation_id"] for line in answered] == ["pagerduty:Q2"]
