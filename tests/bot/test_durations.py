"""parse_duration and format_duration: the spellings config and commands accept, and the
compact form headlines show."""

import contextlib
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("0m", timedelta(0)),
        ("0s", timedelta(0)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("  2 h ", timedelta(hours=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("007m", timedelta(minutes=7)),
        ("1500ms", timedelta(milliseconds=1500)),
        ("1s 500ms", timedelta(milliseconds=1500)),
    ],
)
def test_parses_accepted_spellings(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5m", "negative"),
        ("5", "no unit"),
        ("1h30", "no unit"),
        ("1.5h", "unexpected"),
        ("5x", "unknown unit 'x'"),
        ("5M", "unknown unit 'M'"),
        ("5 minutes", "unknown unit 'minutes'"),
        ("30m1h", "out of order"),
        ("1h1h", "repeated"),
        ("m", "unexpected"),
        ("99999999999999d", "too large"),
        ("1" * 400 + "s", "too large"),
        ("\u0663m", "unexpected"),  # a non-ASCII digit
        ("500ms1s", "out of order"),
        ("1.5s", "unexpected"),
    ],
)
def test_rejects_with_a_message_that_says_what_is_accepted(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="expected whole numbers with a unit s, m, h or d") as info:
        parse_duration(text)
    assert reason in str(info.value)


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_duration(30)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=14), "14m"),
        (timedelta(minutes=14, seconds=32), "14m 32s"),
        (timedelta(hours=1, minutes=5), "1h 5m"),
        (timedelta(hours=2, minutes=3, seconds=59), "2h 3m"),
        (timedelta(days=2, hours=3, minutes=4), "2d 3h"),
        (timedelta(days=1, minutes=5), "1d"),  # the hour slot is empty, minutes are beyond it
        (timedelta(seconds=1.9), "1s"),
        (timedelta(milliseconds=300), "0s"),
        (-timedelta(minutes=5), "-5m"),
        (timedelta(seconds=-0.5), "0s"),
    ],
)
def test_formats_compactly(duration: timedelta, expected: str) -> None:
    assert format_duration(duration) == expected


def test_format_keeps_every_unit_when_asked() -> None:
    duration = timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert format_duration(duration, max_units=None) == "1d 2h 3m 4s"
    assert format_duration(duration, max_units=1) == "1d"


def test_format_handles_the_extremes() -> None:
    assert format_duration(timedelta.max) == "999999999d 23h"
    assert format_duration(timedelta.min) == "-999999999d"


whole_seconds = st.integers(min_value=0, max_value=10**9 * 86_400 - 1).map(
    lambda seconds: timedelta(seconds=seconds)
)


@given(whole_seconds)
def test_format_then_parse_round_trips(duration: timedelta) -> None:
    assert parse_duration(format_duration(duration, max_units=None)) == duration


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=4, max_size=4),
    st.sampled_from(["", " "]),
)
def test_parse_sums_the_units(amounts: list[int], gap: str) -> None:
    days, hours, minutes, seconds = amounts
    text = gap.join(f"{n}{unit}" for n, unit in zip(amounts, "dhms", strict=True))
    expected = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    assert parse_duration(text) == expected


@given(st.text())
def test_arbitrary_text_parses_or_raises_value_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except ValueError:
        return
    assert result >= timedelta(0)


@given(st.from_regex(r"\A\s*[0-9]{1,20}\s*[a-zA-Z]{0,3}\s*([0-9]{0,20}[a-z]?\s*){0,4}\Z"))
def test_near_miss_text_parses_or_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_duration(text)
