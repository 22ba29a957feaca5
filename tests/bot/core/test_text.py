import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.core.text import (
    clean_text,
    display_title,
    escape_mrkdwn,
    incident_channel_name,
)

SLACK_CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
DECLARED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_channel_name_has_date_number_and_slug() -> None:
    name = incident_channel_name(declared_at=DECLARED, number=42, title="P95 latency > 1s on Multimodal-API!")
    assert name == "inc-20261123-42-p95-latency-1s-on-multimodal-api"


def test_clash_suffix_is_added_and_name_stays_valid() -> None:
    long_title = "x" * 200
    name = incident_channel_name(declared_at=DECLARED, number=42, title=long_title, attempt=3)
    assert name.endswith("-4")
    assert len(name) <= 80


def test_emoji_only_title_gives_a_name_without_slug() -> None:
    assert incident_channel_name(declared_at=DECLARED, number=3, title="🔥🔥🔥") == "inc-20261123-3"


@given(st.text(max_size=500), st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=50))
def test_channel_names_are_always_valid_for_slack(title: str, number: int, attempt: int) -> None:
    name = incident_channel_name(declared_at=DECLARED, number=number, title=title, attempt=attempt)
    assert SLACK_CHANNEL_NAME.match(name), name


def test_mentions_and_control_characters_are_disarmed() -> None:
    title = "Help <!channel> \x07now\u202e <@U123>\n\nplease"
    shown = escape_mrkdwn(display_title(title))
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert "‹!channel›" in shown
    assert escape_mrkdwn("a <!here> & b") == "a &lt;!here&gt; &amp; b"
    assert "\x07" not in shown and "\u202e" not in shown and "\n" not in shown


@given(st.text(max_size=2000))
def test_display_title_is_short_printable_one_line(title: str) -> None:
    shown = display_title(title)
    assert 0 < len(shown) <= 150
    assert "\n" not in shown
    assert all(ch.isprintable() or ch == " " for ch in shown)


@given(st.text(max_size=300))
def test_escaped_text_has_no_raw_angle_brackets(text: str) -> None:
    escaped = escape_mrkdwn(clean_text(text))
    assert "<" not in escaped and ">" not in escaped
