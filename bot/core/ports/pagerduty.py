"""What the bot asks of PagerDuty: acknowledge, resolve and annotate incidents, send events.

The core and the runbooks depend on these types; `bot.integrations.pagerduty` implements them.
"""

from __future__ import annotations

from typing import Literal, Protocol

IncidentStatus = Literal["acknowledged", "resolved"]
EventAction = Literal["trigger", "acknowledge", "resolve"]
EventSeverity = Literal["critical", "error", "warning", "info"]


class PagerDutyClient(Protocol):
    """What the bot asks of PagerDuty's REST API for an incident that came from PagerDuty."""

    async def set_status(self, incident_id: str, status: IncidentStatus) -> None: ...

    async def add_note(self, incident_id: str, content: str) -> None: ...


class PagerDutyEventSender(Protocol):
    """Paging through the Events API v2 (escalations page people this way)."""

    async def send_event(self, routing_key: str, action: EventAction,
                         dedup_key: str | None = None, summary: str = "", source: str = "",
                         severity: EventSeverity = "critical") -> str: ...


class OncallDirectory(Protocol):
    """Who is on call now in a PagerDuty schedule (a level's `notify.schedules`)."""

    async def oncall_emails(self, schedule_id: str) -> tuple[str, ...]:
        """The emails of the people on call in ``schedule_id`` now; empty when nobody is."""
        ...
