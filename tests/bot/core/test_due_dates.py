"""Due dates as people type them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.due_dates import DueDateError, parse_due

TODAY = date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize(("token", "expected"), [
    ("2026-12-24", date(2026, 12, 24)), ("today", TODAY), ("tomorrow", date(2026, 12, 3)),
    ("3d", date(2026, 12, 5)), ("+2w", date(2026, 12, 16)), ("due:5d", date(2026, 12, 7)),
    ("friday", date(2026, 12, 4)), ("wed", date(2026, 12, 9)), ("Monday", date(2026, 12, 7)),
])
def test_due_dates_people_type(token: str, expected: date) -> None:
    assert parse_due(token, today=TODAY) == expected


@pytest.mark.parametrize("token", ["soon", "the", "3x", "", "2026-12"])
def test_words_that_are_not_dates_are_left_alone(token: str) -> None:
    assert parse_due(token, today=TODAY) is None


@pytest.mark.parametrize("token", ["2026-02-30", "9999-01-01", "999w"])
def test_impossible_or_far_dates_are_refused_with_a_reason(token: str) -> None:
    with pytest.raises(DueDateError):
        parse_due(token, today=TODAY)


@given(token=st.text(max_size=30))
def test_any_token_is_a_date_at_most_ten_years_ahead_none_or_a_clear_refusal(token: str) -> None:
    try:
        due = parse_due(token, today=TODAY)
    except DueDateError as exc:
        assert str(exc)
        return
    assert due is None or due - TODAY <= timedelta(days=3650)
