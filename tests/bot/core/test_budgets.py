"""Error-budget arithmetic (seed 004): budget, spent, left, burn rates, the multiwindow verdict,
where an incident's impact began, and when the budget timers fall due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.config.budgets import BurnAlertConfig, BurnAlertsConfig
from bot.core.budget_schedule import burn_check_key, digest_key, next_check_at, next_digest_at
from bot.core.budgets import (
    HOUR,
    MINUTE,
    Budget,
    Burn,
    Counts,
    burn_rate,
    count,
    downtime_allowed,
    judge_burn,
    percent,
    plan_reads,
    times,
    window_length,
    window_start,
)
from bot.core.incident_budgets import describe, impact_start
from bot.core.ports.budgets import EventBucket
from bot.slack.budget_blocks import digest
from storage.models import IncidentBudget
from tests.scenarios.harness import all_text

NOW = datetime(2026, 12, 7, 12, 30, tzinfo=UTC)
ALERTS = BurnAlertsConfig()
TARGET = 0.999


def minutes(error_rate_by_age: dict[range, float], *, per_minute: float = 1000) -> list[EventBucket]:
    """A bucket a minute for the last six hours; ages (minutes ago) in a range get that error rate."""
    buckets = []
    for age in range(6 * 60, 0, -1):
        rate = next((r for ages, r in error_rate_by_age.items() if age in ages), 0.0003)
        buckets.append(EventBucket(start=NOW - timedelta(minutes=age), total=per_minute, bad=per_minute * rate))
    return buckets


def test_the_monthly_budget_is_about_43_minutes_of_outage() -> None:
    # Seed 004: 0.1% of requests, "approximately 43 minutes of downtime per month".
    assert downtime_allowed(TARGET, timedelta(days=30)) == pytest.approx(timedelta(minutes=43.2),
                                                                         abs=timedelta(seconds=1))
    assert window_start(NOW, "month") == datetime(2026, 12, 1, tzinfo=UTC)
    assert window_length(NOW, "month") == timedelta(days=31)
    assert window_length(datetime(2026, 2, 10, tzinfo=UTC), "month") == timedelta(days=28)
    assert window_start(NOW, timedelta(days=30)) == NOW - timedelta(days=30)


def test_spent_and_left_are_shares_of_what_the_window_allows() -> None:
    budget = Budget(target=TARGET, start=NOW, counts=Counts(total=1_000_000, bad=400))
    assert budget.allowed == pytest.approx(1000)
    assert budget.spent == pytest.approx(0.4) and budget.left == pytest.approx(0.6)
    assert Budget(target=TARGET, start=NOW, counts=Counts(total=1000, bad=3)).left == pytest.approx(-2)
    assert Budget(target=TARGET, start=NOW, counts=Counts()).spent is None
    assert burn_rate(Counts(total=1000, bad=25), target=TARGET) == pytest.approx(25)
    assert burn_rate(Counts(), target=TARGET) is None
    assert (percent(0.382), percent(0.004), percent(None), times(14.23), times(None)) == (
        "38%", "0.4%", "n/a", "14.2x", "n/a")


def test_count_takes_the_buckets_that_start_in_the_range() -> None:
    buckets = minutes({})
    counted = count(buckets, start=NOW - timedelta(minutes=5), end=NOW)
    assert counted.total == 5000


def test_a_fast_burn_needs_both_of_its_windows_over_10x() -> None:
    fast = judge_burn(minutes({range(0, 61): 0.025}), now=NOW, target=TARGET, fast=ALERTS.fast_burn,
                      slow=ALERTS.slow_burn, min_events=100)
    assert fast.burn == Burn.FAST and fast.short_rate == pytest.approx(25) and fast.long_rate == pytest.approx(25)
    # A spike that already stopped: the hour is over 10x, the last five minutes are not.
    over = judge_burn(minutes({range(10, 61): 0.03}), now=NOW, target=TARGET, fast=ALERTS.fast_burn,
                      slow=ALERTS.slow_burn, min_events=100)
    assert over.burn != Burn.FAST


def test_a_slow_burn_is_over_2x_and_under_10x_for_hours() -> None:
    slow = judge_burn(minutes({range(0, 400): 0.003}), now=NOW, target=TARGET, fast=ALERTS.fast_burn,
                      slow=ALERTS.slow_burn, min_events=100)
    assert slow.burn == Burn.SLOW and slow.long_rate == pytest.approx(3)
    calm = judge_burn(minutes({}), now=NOW, target=TARGET, fast=ALERTS.fast_burn, slow=ALERTS.slow_burn,
                      min_events=100)
    assert calm.burn == Burn.NONE


def test_too_few_events_judge_nothing() -> None:
    rule = BurnAlertConfig(rate=10, long_window=timedelta(hours=1), short_window=timedelta(minutes=5))
    sparse = minutes({range(0, 61): 0.5}, per_minute=1)
    assert judge_burn(sparse, now=NOW, target=TARGET, fast=rule, slow=rule, min_events=100).burn == Burn.NONE


def test_reads_are_minutes_for_the_recent_hours_and_hours_before() -> None:
    reads = plan_reads(now=NOW, budget_start=window_start(NOW, "month"), recent=timedelta(hours=6))
    assert [(r.start, r.end, r.period) for r in reads] == [
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 7, 6, tzinfo=UTC), HOUR),
        (datetime(2026, 12, 7, 6, tzinfo=UTC), NOW, MINUTE),
    ]


def test_the_impact_began_where_the_unbroken_burn_began() -> None:
    buckets = minutes({range(0, 51): 0.025, range(70, 80): 0.02})
    declared = NOW - timedelta(minutes=1)
    assert impact_start(buckets, declared_at=declared, target=TARGET) == NOW - timedelta(minutes=50)
    assert impact_start(minutes({}), declared_at=declared, target=TARGET) == declared


def test_the_timers_fall_due_on_a_grid_every_replica_agrees_on() -> None:
    assert next_check_at(NOW, timedelta(minutes=5)) == NOW + timedelta(minutes=5)
    assert next_check_at(NOW + timedelta(seconds=7), timedelta(minutes=5)) == NOW + timedelta(minutes=5)
    assert next_digest_at(NOW, time(9, 0)) == datetime(2026, 12, 8, 9, tzinfo=UTC)
    assert next_digest_at(NOW, time(13, 0)) == datetime(2026, 12, 7, 13, tzinfo=UTC)
    assert burn_check_key(NOW) == "burn_check:2026-12-07T12:30:00+00:00"
    assert digest_key(datetime(2026, 12, 8, 9, tzinfo=UTC)) == "budget_digest:2026-12-08"


def test_the_stored_figures_read_as_spent_and_left() -> None:
    row = IncidentBudget(incident_id=1, service="scoring-api", measured_at=NOW, target=TARGET,
                         window_start=datetime(2026, 12, 1, tzinfo=UTC), window_total=1_000_000, window_bad=700,
                         incident_total=60_000, incident_bad=300, burn_rate=21.25)
    assert describe(row) == ("this incident spent 30% of the error budget (300 of 60,000 requests failed) · "
                             "30% left this month · burning at 21.2x")
    row.window_bad = 1200
    assert "overspent" in describe(row)


def test_the_digest_shows_the_budget_the_burn_and_the_slow_burn_seen() -> None:
    text = rendered_text({
        "service": "scoring-api", "date": "2026-12-07", "target": 0.999, "spent": 0.25, "left": 0.75,
        "total": 1e6, "bad": 250, "rate_1h": 3.0, "rate_24h": 1.2, "burn": "slow",
        "seen_slow_burn": {"since": "2026-12-07T03:05:00+00:00", "peak": 3.4},
    })
    assert "99.90%" in text and "25% spent" in text and "75% left" in text
    assert "3.0x last hour" in text and "1.2x last day" in text and "slow burn" in text
    assert "since 2026-12-07 03:05 UTC, peak 3.4x" in text
    assert "could not be read" in rendered_text({"service": "scoring-api", "unread": True})


def rendered_text(figures: dict[str, object]) -> str:
    return all_text({"blocks": digest(figures)})
