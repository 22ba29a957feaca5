"""Escalation keys this project adds to the agreed format.

- ``until``: how long a level keeps paging. The agreed format pages only while nobody has
  acknowledged; seeds 000, 002 and 004 go on escalating while an incident is unresolved.
- ``notify.schedules``: PagerDuty schedules whose on-call person is paged, looked up when the
  level fires (seed 000's primary and backup rotations live in PagerDuty).
- ``oncall.backup``: seed 000's backup on-call, paged when the primary has not acknowledged.
- ``mitigate_within`` / ``resolve_within`` (per severity) and ``escalation.runbook_deadlines``
  (per runbook class): deadlines beside the ack deadline (``respond_within``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from bot.config.base import Audience, ConfigModel
from bot.config.fields import Duration, PositiveDuration, short_repr

# PagerDuty object ids: an upper-case letter, then upper-case letters and digits (PABC123).
_PAGERDUTY_ID = re.compile(r"[A-Z][A-Z0-9]{5,19}")


class Until(StrEnum):
    """The status that stops a level: it fires only while the incident has not reached it."""

    ACKNOWLEDGED = "acknowledged"  # the agreed format's meaning, and the default
    MITIGATED = "mitigated"
    RESOLVED = "resolved"

    @property
    def missing(self) -> str:
        """What the incident still is not, in the words of a page's reason."""
        return {"acknowledged": "unacknowledged", "mitigated": "not mitigated", "resolved": "not resolved"}[self.value]


def _schedule_id(value: Any) -> str:
    if not isinstance(value, str) or not _PAGERDUTY_ID.fullmatch(value):
        raise PydanticCustomError(
            "pagerduty_id", f"invalid PagerDuty schedule id {short_repr(value)} (expected an id like PABC123)"
            .replace("{", "{{").replace("}", "}}"),
        )
    return value


PagerDutyScheduleId = Annotated[str, BeforeValidator(_schedule_id)]


class LevelNotify(Audience):
    """Who one escalation level pages: Slack users and groups, and PagerDuty schedules' on-call."""

    schedules: tuple[PagerDutyScheduleId, ...] = Field(
        default=(),
        description=(
            "PagerDuty schedules (PABC123) whose on-call person is paged when the level fires; needs "
            "PAGERDUTY_API_TOKEN."
        ),
    )

    def __bool__(self) -> bool:
        return bool(self.users or self.usergroups or self.schedules)


class OncallConfig(Audience):
    """The primary on-call (invited to every incident) and, optionally, the backup."""

    backup: Audience = Field(
        default_factory=Audience,
        description="The backup on-call, paged if nobody has acknowledged within backup_after.",
    )
    # When the backup is paged if nobody has acknowledged; unset, at the severity's respond_within
    # (seed 000: the on-call engineer responds within 15 minutes, or the backup is called).
    backup_after: Duration | None = Field(
        default=None,
        description="When the backup is paged if nobody has acknowledged; unset: at the severity's respond_within.",
    )


def _off_or_duration(value: Any) -> Any:
    # `false` turns a default deadline off; null, as everywhere, keeps the default.
    if value is True:
        raise PydanticCustomError("deadline", "expected a duration like 30m, or false for no deadline")
    return None if value is False else value


Deadline = Annotated[PositiveDuration | None, BeforeValidator(_off_or_duration)]


class RunbookDeadlines(ConfigModel):
    """A runbook class's own clock, where its seed states one; the earlier of it and the severity's wins."""

    respond_within: Deadline = Field(
        default=None,
        description=(
            "Time to acknowledge an incident of this runbook class; the earlier of it and the severity's holds. false: "
            "none."
        ),
    )
    mitigate_within: Deadline = Field(
        default=None,
        description=(
            "Time to mitigate, counted from the trigger; the earlier of it and the severity's holds. false: none."
        ),
    )
    resolve_within: Deadline = Field(
        default=None,
        description=(
            "Time to resolve, counted from the trigger; the earlier of it and the severity's holds. false: none."
        ),
    )


# Seed 001 (model performance regression): "Initial Response (15 minutes)", then
# "Mitigation (15 minutes)": acknowledged within 15 minutes and mitigated 15 minutes after.
DEFAULT_RUNBOOK_DEADLINES: dict[str, RunbookDeadlines] = {
    "model_regression": RunbookDeadlines(respond_within=timedelta(minutes=15), mitigate_within=timedelta(minutes=30)),
}
