"""Logs: the service's log group over the incident window, as the seeds read it by hand.

Seed 000 greps ERROR lines and counts them by ``error_code`` (DOC_001, IMG_001, SYS_001,
RATE_001 ...); seed 004 logs JSON with ``level`` and ``error_type``. JSON lines are parsed;
plain lines are grepped for ERROR/FATAL/CRITICAL and for a code shaped like ``ABC_001``.

With a correlation id (the seeds' "track requests by correlation ID"), the finding is about
that request: its headline and summary say how many lines carry the id, when, and which were
errors; the window's error counts follow as context; the file holds the request's lines first.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bot.core.ports.logs import LogEvent, LogEvents, LogSource
from bot.core.text import escape_mrkdwn, truncate
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Attachment, Finding, InvestigationKind, Scope, unavailable

ERROR_LEVELS = frozenset({"ERROR", "FATAL", "CRITICAL"})
_PLAIN_ERROR = re.compile(r"\b(ERROR|FATAL|CRITICAL)\b")
_PLAIN_CODE = re.compile(r"error_code\W{1,4}([A-Za-z0-9_.-]{1,40})|\b([A-Z]{2,12}_\d{3})\b")
NO_CODE = "(no code)"
# A share of ERROR lines above this is critical (the seeds' critical error rate is 5%).
CRITICAL_SHARE = 0.05
MAX_EVENTS = 5000
MAX_CORRELATED = 200
TOP_CODES = 8
SAMPLES = 3
CORRELATED_SAMPLES = 5
# What a correlation id may be: one bounded token, safe inside a quoted CloudWatch filter pattern
# and in a file name.
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


def valid_correlation_id(text: str) -> bool:
    return CORRELATION_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class LogLine:
    event: LogEvent
    error: bool
    code: str | None
    correlation_id: str | None


def parse(event: LogEvent) -> LogLine:
    """One event read as the seeds read it: a JSON object's fields, or a plain line's words."""
    message = event.message.strip()
    fields = _json_object(message)
    if fields is not None:
        level = str(fields.get("level") or fields.get("severity") or fields.get("levelname") or "").upper()
        code = fields.get("error_code") or fields.get("error_type")
        correlation = fields.get("correlation_id") or fields.get("correlationId")
        return LogLine(event, error=level in ERROR_LEVELS, code=str(code)[:40] if code else None,
                       correlation_id=str(correlation) if correlation else None)
    error = bool(_PLAIN_ERROR.search(message))
    found = _PLAIN_CODE.search(message) if error else None
    code = (found.group(1) or found.group(2)) if found else None
    return LogLine(event, error=error, code=code, correlation_id=None)


def _json_object(message: str) -> dict[str, Any] | None:
    if not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class LogsInvestigation:
    kind = InvestigationKind.LOGS
    timeout_s = 20.0

    def __init__(self, source: LogSource, *, max_events: int = MAX_EVENTS) -> None:
        self._source = source
        self._max_events = max_events

    async def run(self, scope: Scope) -> Finding:
        if scope.service.logs is None:
            return unavailable(self.kind, "logs: no log group configured",
                               f"Add `logs: {{group: ...}}` to service {scope.service_name} in the config.")
        if scope.correlation_id is not None and not valid_correlation_id(scope.correlation_id):
            return unavailable(self.kind, "logs: that correlation id cannot be searched",
                               "A correlation id is one word of up to 128 letters, digits and `. _ : -`.")
        group = scope.service.logs.group
        reads = [self._source.events(group=group, start=scope.start, end=scope.end, limit=self._max_events)]
        if scope.correlation_id:
            reads.append(self._source.events(group=group, start=scope.start, end=scope.end,
                                             pattern=f'"{scope.correlation_id}"', limit=MAX_CORRELATED))
        answers = await asyncio.gather(*reads)
        return self._finding(scope, group, answers[0], answers[1] if len(answers) > 1 else None)

    def _finding(self, scope: Scope, group: str, window: LogEvents, correlated: LogEvents | None) -> Finding:
        lines = [parse(e) for e in window.events]
        errors = [line for line in lines if line.error]
        by_code = Counter(line.code or NO_CODE for line in errors)
        minutes = max(1, round((scope.end - scope.start).total_seconds() / 60))
        more = "+" if window.truncated else ""
        share = len(errors) / len(lines) if lines else 0.0
        verdict = Verdict.OK if not errors else Verdict.CRITICAL if share > CRITICAL_SHARE else Verdict.WARNING
        tops = ", ".join(f"{escape_mrkdwn(code)} ×{n}" for code, n in by_code.most_common(3))
        headline = (f"logs: {len(errors):,}{more} ERROR lines of {len(lines):,}{more} in {minutes} min"
                    + (f"; top {tops}" if tops else ""))
        shown = [f"Log group `{escape_mrkdwn(group)}`, {scope.start:%H:%M}–{scope.end:%H:%M} UTC: "
                 f"{len(lines):,}{more} lines, {len(errors):,} ERROR ({share:.1%})."]
        if by_code:
            shown.append("By error code: " + ", ".join(f"*{escape_mrkdwn(code)}* ×{n}"
                                                       for code, n in by_code.most_common(TOP_CODES)))
        for line in errors[-SAMPLES:]:
            sample = truncate(" ".join(line.event.message.split()), 160)
            shown.append(f"{line.event.at:%H:%M:%S} {escape_mrkdwn(sample)}")
        if window.truncated:
            shown.append(f"_Read stopped at {len(lines):,} lines; narrow the window in the console for the rest._")
        data: dict[str, Any] = {
            "group": group, "start": scope.start.isoformat(), "end": scope.end.isoformat(), "lines": len(lines),
            "errors": len(errors), "by_code": dict(by_code.most_common()), "truncated": window.truncated,
        }
        matched: list[LogLine] = []
        if correlated is not None and scope.correlation_id:
            matched = [parse(e) for e in correlated.events]
            headline, about = _correlation_summary(scope, scope.correlation_id, matched, correlated.truncated)
            data.update(correlation_id=scope.correlation_id, correlation_matches=len(matched),
                        correlation_errors=sum(1 for line in matched if line.error),
                        correlation_truncated=correlated.truncated)
            shown = [*about, "_In the whole window:_ " + shown[0], *shown[1:2]]
        attachment = _attachment(scope, errors, matched) if errors or matched else None
        return Finding(kind=self.kind, verdict=verdict, headline=headline, lines=tuple(shown), data=data,
                       attachment=attachment)


def _correlation_summary(scope: Scope, correlation_id: str, matched: list[LogLine],
                         truncated: bool) -> tuple[str, list[str]]:
    """The headline and first lines of a correlation search: how many lines carry the id, from
    when to when, which were errors and with which codes, and a few of them."""
    shown_id = escape_mrkdwn(correlation_id)
    if not matched:
        return (f"logs: no line carries correlation id {shown_id}",
                [f"No line of the window {scope.start:%H:%M}–{scope.end:%H:%M} UTC carries `{shown_id}`; "
                 "it may be older than the incident, or logged by another service."])
    errors = [line for line in matched if line.error]
    codes = Counter(line.code for line in errors if line.code)
    more = "+" if truncated else ""
    count = f"{len(matched)}{more} line{'s' if len(matched) != 1 else ''}"
    headline = f"logs: correlation id {shown_id} in {count}"
    if errors:
        headline += f", {len(errors)} ERROR" + (f" ({', '.join(escape_mrkdwn(c) for c in codes)})" if codes else "")
    first, last = matched[0].event.at, matched[-1].event.at
    about = [f"Correlation id `{shown_id}`: {count}, {first:%H:%M:%S}–{last:%H:%M:%S} UTC, "
             f"{len(errors)} ERROR."]
    for line in (errors or matched)[:CORRELATED_SAMPLES]:
        sample = truncate(" ".join(line.event.message.split()), 160)
        about.append(f"{line.event.at:%H:%M:%S} {escape_mrkdwn(sample)}")
    if truncated:
        about.append(f"_Read stopped at {len(matched)} lines; the file has those._")
    return headline, about


def _attachment(scope: Scope, errors: list[LogLine], matched: list[LogLine]) -> Attachment:
    """The long output: a correlation search's lines first (what was asked for), then the
    window's ERROR lines."""
    out: list[str] = []
    if scope.correlation_id:
        out.append(f"# incident #{scope.incident_number} {scope.service_name}: lines with correlation id "
                   f"{scope.correlation_id} ({len(matched)})")
        out.extend(_row(line) for line in matched)
        out.append("")
    out.append(f"# incident #{scope.incident_number} {scope.service_name}: ERROR lines "
               f"{scope.start:%Y-%m-%d %H:%M} to {scope.end:%H:%M} UTC ({len(errors)})")
    out.extend(_row(line) for line in errors)
    name = f"logs-incident-{scope.incident_number}-{scope.service_name}"
    if scope.correlation_id:
        name += "-" + _UNSAFE_IN_NAME.sub("-", scope.correlation_id[:40])
    return Attachment(filename=f"{name}.txt", content=("\n".join(out) + "\n").encode())


def _row(line: LogLine) -> str:
    event = line.event
    return f"{event.at:%Y-%m-%dT%H:%M:%S.%fZ}\t{event.stream}\t{line.code or ''}\t{event.message.rstrip()}"
