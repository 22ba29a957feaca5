"""The logs investigation searching for one request's correlation id: a short summary of its
lines, the window as context, and the lines first in the file. A log source of fixed lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.config import IncidentBotConfig
from bot.core.ports.logs import LogEvent, LogEvents
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Scope, investigate
from runbooks.investigations.logs import LogsInvestigation, valid_correlation_id

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
ID = "550e8400-e29b-41d4-a716-446655440000"


def line(minutes_ago: int, level: str, correlation: str, code: str | None = None) -> LogEvent:
    body = {"level": level, "correlation_id": correlation, "message": "POST /classify",
            **({"error_code": code} if code else {})}
    return LogEvent(NOW - timedelta(minutes=minutes_ago), json.dumps(body), stream="api/1")


WINDOW = (line(9, "INFO", ID), line(8, "ERROR", "other", "SYS_001"), line(7, "ERROR", ID, "DOC_001"),
          line(6, "INFO", "other"))


class FixedLogs:
    """Answers a pattern read with the lines that contain the quoted term, as CloudWatch does."""

    def __init__(self, events: tuple[LogEvent, ...]) -> None:
        self.events_read = events
        self.patterns: list[str | None] = []

    async def events(self, *, group: str, start: datetime, end: datetime, pattern: str | None = None,
                     limit: int = 5000) -> LogEvents:
        self.patterns.append(pattern)
        term = pattern.strip('"') if pattern else None
        found = tuple(e for e in self.events_read if term is None or term in e.message)
        return LogEvents(events=found[:limit], truncated=len(found) > limit)


def scope(correlation_id: str | None) -> Scope:
    service = IncidentBotConfig.from_mapping(
        {"services": {"multimodal-api": {"logs": {"group": "/aws/ecs/multimodal-prod"}}}}).services["multimodal-api"]
    return Scope(incident_number=7, service_name="multimodal-api", service=service, start=NOW - timedelta(minutes=40),
                 end=NOW, correlation_id=correlation_id)


async def test_a_correlation_search_leads_with_the_requests_lines_and_files_them_first() -> None:
    source = FixedLogs(WINDOW)
    finding = await investigate(LogsInvestigation(source), scope(ID))
    assert f'"{ID}"' in source.patterns
    assert finding.headline == f"logs: correlation id {ID} in 2 lines, 1 ERROR (DOC_001)"
    assert finding.lines[0].startswith(f"Correlation id `{ID}`: 2 lines, 10:21:00–10:23:00 UTC, 1 ERROR")
    assert any("In the whole window" in shown and "2 ERROR" in shown for shown in finding.lines)
    assert finding.data["correlation_matches"] == 2 and finding.data["correlation_errors"] == 1
    assert finding.data["errors"] == 2  # the window's counts are kept for the postmortem
    assert finding.attachment is not None and ID in finding.attachment.filename
    requested, window = finding.attachment.content.decode().split("\n\n")
    assert requested.count(ID) == 3  # the header and the two lines
    assert "SYS_001" not in requested and "SYS_001" in window


async def test_an_id_no_line_carries_says_so_and_where_it_looked() -> None:
    finding = await investigate(LogsInvestigation(FixedLogs(WINDOW)), scope("no-such-request"))
    assert finding.headline == "logs: no line carries correlation id no-such-request"
    assert "09:50–10:30 UTC" in finding.lines[0] and finding.data["correlation_matches"] == 0


async def test_an_id_that_is_not_one_token_is_refused_before_any_read() -> None:
    source = FixedLogs(WINDOW)
    for hostile in ('" OR "', "a b", "x" * 129, "<!channel>", ""):
        assert not valid_correlation_id(hostile)
        finding = await investigate(LogsInvestigation(source), scope(hostile))
        assert finding.verdict == Verdict.UNAVAILABLE and "cannot be searched" in finding.headline
    assert source.patterns == []
