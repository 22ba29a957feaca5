"""Error budgets (seed 004): a service's SLO as CloudWatch event counts, and the burn alerts.

Two sections of their own module (see `bot/config/base.py`):

- ``services.<name>.error_budget`` (`ErrorBudgetConfig`): the target, the budget window, and
  the metric pair that counts events: ``total_events`` and either ``bad_events`` or
  ``good_events``, each read from CloudWatch as the Sum per period.
- ``error_budgets`` (`BurnAlertsConfig`) at the top level: how often the bot checks, the fast
  burn (a page: an incident at P1) and the slow burn (the daily digest), and when the digest goes.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainValidator, Strict, model_validator
from pydantic_core import PydanticCustomError

from bot.config.base import ConfigModel
from bot.config.durations import parse_duration
from bot.config.errors import NestedProblems
from bot.config.fields import ChannelRef, Name, PositiveDuration, PositiveNumber, SeverityValue, short_repr
from bot.config.severity import Severity

MONTH: Literal["month"] = "month"
_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class EventMetricConfig(ConfigModel):
    """One CloudWatch metric whose Sum over a period counts events (requests, 5xx responses)."""

    namespace: Name
    name: Name
    dimensions: dict[Name, str] = Field(default_factory=dict)


def _window(value: Any) -> timedelta | Literal["month"]:
    # "month" is the calendar month in UTC, the seeds' "monthly error budget"; anything else is a
    # duration and the window rolls (30d: the last thirty days).
    if isinstance(value, str) and value.strip().lower() == MONTH:
        return MONTH
    try:
        window = parse_duration(value) if isinstance(value, str) else None
    except ValueError as exc:
        raise _error(f"expected month or a duration: {exc}") from None
    if window is None or window <= timedelta(0):
        raise _error(f"expected month or a positive duration such as 30d, got {short_repr(value)}")
    return window


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("budget_window", message.replace("{", "{{").replace("}", "}}"))


BudgetWindow = Annotated[timedelta | Literal["month"], PlainValidator(_window)]
Target = Annotated[float, Strict(), Field(gt=0, lt=1, allow_inf_nan=False)]


class ErrorBudgetConfig(ConfigModel):
    """A service's availability SLO counted in events; the budget is the share allowed to fail."""

    target: Target  # 0.999: 99.9% of requests succeed, so 0.1% of them is the budget (seed 004)
    window: BudgetWindow = MONTH
    total_events: EventMetricConfig
    bad_events: EventMetricConfig | None = None
    good_events: EventMetricConfig | None = None
    # Where the daily digest for this service goes; unset: channels.announce.
    channel: ChannelRef | None = None

    @model_validator(mode="after")
    def _one_counter(self) -> ErrorBudgetConfig:
        if (self.bad_events is None) == (self.good_events is None):
            raise NestedProblems([(("bad_events",), "give exactly one of bad_events or good_events "
                                                    "(the other is total_events minus it)")])
        return self


class BurnAlertConfig(ConfigModel):
    """Burning faster than ``rate`` times the sustainable pace over both windows (multiwindow:
    the long window says it matters, the short one that it is still going on)."""

    rate: PositiveNumber
    long_window: PositiveDuration
    short_window: PositiveDuration

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnAlertConfig:
        if self.short_window >= self.long_window:
            raise NestedProblems([(("short_window",), "must be shorter than long_window")])
        return self


def _clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    # YAML 1.1 reads an unquoted 09:00 as the number 540 (sexagesimal); ask for quotes.
    if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value.strip()):
        raise PydanticCustomError("clock_time", "expected a UTC time of day in quotes, like \"09:00\", got "
                                  + short_repr(value).replace("{", "{{").replace("}", "}}"))
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class BurnAlertsConfig(ConfigModel):
    """The top-level ``error_budgets:`` section."""

    # How often the budgets are read from CloudWatch and judged (scaled by time_scale).
    check_every: PositiveDuration = timedelta(minutes=5)
    # Seed 004: fast burn over 10x pages at once; the SRE workbook's pair of windows, 1 h and 5 min.
    fast_burn: BurnAlertConfig = BurnAlertConfig(rate=10, long_window=timedelta(hours=1),
                                                 short_window=timedelta(minutes=5))
    # Seed 004: slow burn over 2x goes into the daily summary; 6 h confirmed over the last 30 min.
    slow_burn: BurnAlertConfig = BurnAlertConfig(rate=2, long_window=timedelta(hours=6),
                                                 short_window=timedelta(minutes=30))
    fast_burn_severity: SeverityValue = Severity.P1
    # Fewer events than this in a long window judge nothing: three errors in five requests is
    # not an outage worth a page.
    min_events: Annotated[int, Strict(), Field(ge=0)] = 100
    digest_at: ClockTime = time(9, 0)  # UTC, every day
