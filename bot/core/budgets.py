"""Error budgets and burn rates, as plain arithmetic over event counts (seed 004).

An SLO of 99.9% allows 0.1% of the events in its window to fail: that share is the *budget*.
The *burn rate* over a stretch of time is the error rate then divided by that allowance, so a
burn rate of 1 spends the budget exactly by the end of the window, and 10 spends a month's
budget in three days. The seeds page on a fast burn (over 10x) and summarise a slow one (over
2x) daily; each is judged over a pair of windows, as in the SRE workbook's multiwindow alerts:
the long window says enough budget went to matter, the short one that it is still going.

Counts come in buckets (`EventBucket`): a minute each for the recent hours, an hour each before
that, so a month is a few hundred numbers. Windows are counted to their buckets, so a 24-hour
figure is good to the hour and the burn windows to the minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from bot.config.budgets import MONTH, BurnAlertConfig
from bot.core.ports.budgets import EventBucket

BudgetWindow = timedelta | Literal["month"]

MINUTE = 60
HOUR = 3600
# The digest's two burn rates, besides the alert windows.
DIGEST_WINDOWS = (timedelta(hours=1), timedelta(hours=24))


@dataclass(frozen=True)
class Counts:
    total: float = 0.0
    bad: float = 0.0

    @property
    def error_rate(self) -> float | None:
        return self.bad / self.total if self.total > 0 else None


def count(buckets: Iterable[EventBucket], *, start: datetime, end: datetime) -> Counts:
    """The events of the buckets that start in [start, end)."""
    total = bad = 0.0
    for bucket in buckets:
        if start <= bucket.start < end:
            total += bucket.total
            bad += bucket.bad
    return Counts(total=total, bad=bad)


def allowed_error_rate(target: float) -> float:
    return 1.0 - target


def burn_rate(counts: Counts, *, target: float) -> float | None:
    """How many times faster than the sustainable pace the budget burns; None without events."""
    rate = counts.error_rate
    return None if rate is None else rate / allowed_error_rate(target)


def window_start(now: datetime, window: BudgetWindow) -> datetime:
    """Where the budget's window begins: the 1st of this month (UTC), or ``window`` ago."""
    if window == MONTH:
        return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert isinstance(window, timedelta)
    return now - window


def window_length(now: datetime, window: BudgetWindow) -> timedelta:
    """The whole window: this calendar month's days, or the rolling duration."""
    if window == MONTH:
        first = window_start(now, MONTH)
        following = (first + timedelta(days=32)).replace(day=1)
        return following - first
    assert isinstance(window, timedelta)
    return window


def downtime_allowed(target: float, length: timedelta) -> timedelta:
    """The budget as minutes of complete outage: 99.9% of 30 days is about 43 minutes (seed 004)."""
    return length * allowed_error_rate(target)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Read:
    """One read of the event counts: [start, end) in buckets of ``period`` seconds."""

    start: datetime
    end: datetime
    period: int


def plan_reads(*, now: datetime, budget_start: datetime, recent: timedelta) -> tuple[Read, ...]:
    """Minute buckets for the ``recent`` hours (whole hours, so the two reads meet on an hour
    boundary, where CloudWatch's hourly buckets also begin), and hourly ones back to the start
    of the budget's window or a day ago, whichever is earlier."""
    recent_start = floor_hour(now - recent)
    older_start = floor_hour(min(budget_start, now - DIGEST_WINDOWS[-1]))
    reads = [Read(recent_start, now, MINUTE)]
    if older_start < recent_start:
        reads.insert(0, Read(older_start, recent_start, HOUR))
    return tuple(reads)


def recent_span(*rules: BurnAlertConfig) -> timedelta:
    """How far back minute buckets are needed: the longest burn window, and at least an hour."""
    return max([timedelta(hours=1), *(rule.long_window for rule in rules)])


class Burn(StrEnum):
    NONE = "none"
    SLOW = "slow"
    FAST = "fast"


@dataclass(frozen=True)
class BurnVerdict:
    burn: Burn
    long_rate: float | None = None  # the burn rate over the rule's long window
    short_rate: float | None = None
    rule: BurnAlertConfig | None = None


def judge_burn(buckets: Sequence[EventBucket], *, now: datetime, target: float, fast: BurnAlertConfig,
               slow: BurnAlertConfig, min_events: int) -> BurnVerdict:
    """Fast if both of the fast rule's windows burn over its rate, else slow if the slow rule's
    do; a long window with fewer than ``min_events`` events judges nothing."""
    for burn, rule in ((Burn.FAST, fast), (Burn.SLOW, slow)):
        long = count(buckets, start=now - rule.long_window, end=now)
        short = count(buckets, start=now - rule.short_window, end=now)
        if long.total < max(min_events, 1):
            continue
        long_rate, short_rate = burn_rate(long, target=target), burn_rate(short, target=target)
        if long_rate is not None and short_rate is not None and long_rate > rule.rate and short_rate > rule.rate:
            return BurnVerdict(burn=burn, long_rate=long_rate, short_rate=short_rate, rule=rule)
    return BurnVerdict(burn=Burn.NONE)


@dataclass(frozen=True)
class Budget:
    """A budget over its window so far: the events counted since the window began."""

    target: float
    start: datetime
    counts: Counts

    @property
    def allowed(self) -> float:
        """How many of the window's events so far may fail."""
        return allowed_error_rate(self.target) * self.counts.total

    def share(self, bad: float) -> float | None:
        """``bad`` failures as a share of the budget (1.0 is all of it); None without events."""
        return bad / self.allowed if self.allowed > 0 else None

    @property
    def spent(self) -> float | None:
        return self.share(self.counts.bad)

    @property
    def left(self) -> float | None:
        """The share still unspent; below zero once the budget is overspent."""
        spent = self.spent
        return None if spent is None else 1.0 - spent


def percent(share: float | None) -> str:
    """0.382 -> "38%", small shares with a decimal ("0.4%"), None -> "n/a"."""
    if share is None:
        return "n/a"
    value = share * 100
    if value != 0 and abs(value) < 10:
        return f"{value:.1f}%"
    return f"{value:.0f}%"


def times(rate: float | None) -> str:
    """A burn rate as people say it: "14.2x"; "n/a" with no events."""
    return "n/a" if rate is None else f"{rate:.1f}x"
