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

    namespace: Name = Field(description="The metric's CloudWatch namespace.")
    name: Name = Field(description="The metric's name; it must count events (read as its Sum per period), not a rate.")
    dimensions: dict[Name, str] = Field(
        default_factory=dict,
        description="The metric's CloudWatch dimensions, name to value.",
    )


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

    target: Target = Field(
        description=(
            "The share of requests that must succeed, strictly between 0 and 1 (0.999, not 99.9); the rest is the "
            "budget."
        ),
    )
    window: BudgetWindow = Field(
        default=MONTH,
        description="month (the calendar month in UTC) or a rolling duration such as 30d.",
    )
    total_events: EventMetricConfig = Field(description="The metric that counts every request.")
    bad_events: EventMetricConfig | None = Field(
        default=None,
        description="The metric that counts failed requests (5xx); give this or good_events.",
    )
    good_events: EventMetricConfig | None = Field(
        default=None,
        description=(
            "The metric that counts successful requests, instead of bad_events: failures are then total minus good."
        ),
    )
    channel: ChannelRef | None = Field(
        default=None,
        description="Where this service's daily digest goes; unset: channels.announce.",
    )

    @model_validator(mode="after")
    def _one_counter(self) -> ErrorBudgetConfig:
        if (self.bad_events is None) == (self.good_events is None):
            raise NestedProblems([(("bad_events",), "give exactly one of bad_events or good_events "
                                                    "(the other is total_events minus it)")])
        return self


class BurnAlertConfig(ConfigModel):
    """Burning faster than ``rate`` times the sustainable pace over both windows (multiwindow:
    the long window says it matters, the short one that it is still going on)."""

    rate: PositiveNumber = Field(
        description="How many times faster than the sustainable pace the budget must burn, over both windows.",
    )
    long_window: PositiveDuration = Field(description="The long window: the burn is big enough to matter.")
    short_window: PositiveDuration = Field(
        description="The short window, shorter than long_window: the burn is still going on.",
    )

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

    check_every: PositiveDuration = Field(
        default=timedelta(minutes=5),
        description="How often the budgets are read from CloudWatch and judged (scaled by time_scale).",
    )
    # Seed 004: fast burn over 10x pages at once; the SRE workbook's pair of windows, 1 h and 5 min.
    fast_burn: BurnAlertConfig = Field(
        default=BurnAlertConfig(rate=10, long_window=timedelta(hours=1), short_window=timedelta(minutes=5)),
        description="A burn that pages: it opens an incident at fast_burn_severity at once.",
    )
    # Seed 004: slow burn over 2x goes into the daily summary; 6 h confirmed over the last 30 min.
    slow_burn: BurnAlertConfig = Field(
        default=BurnAlertConfig(rate=2, long_window=timedelta(hours=6), short_window=timedelta(minutes=30)),
        description="A burn that goes into the daily digest.",
    )
    fast_burn_severity: SeverityValue = Field(
        default=Severity.P1,
        description="The severity a fast burn opens its incident at, or raises the open one to.",
    )
    # Fewer events than this in a long window judge nothing: three errors in five requests is
    # not an outage worth a page.
    min_events: Annotated[int, Strict(), Field(ge=0)] = Field(
        default=100,
        description=(
            "A long window with fewer requests than this judges nothing (three errors in five requests is no outage)."
        ),
    )
    digest_at: ClockTime = Field(
        default=time(9, 0),
        description="When the daily digest is posted, UTC; quoted, as YAML reads 09:00 as a number.",
    )
