"""People's words in mrkdwn: shown exactly as typed, never as bold, code, quotes or broadcasts.

The renderer is the model in tests/slack_mrkdwn.py; the strings are built from every mark that
Slack's mrkdwn reads, with letters, spaces and newlines around them.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from bot.core.text import display_title, escape_mrkdwn
from tests.slack_mrkdwn import formatting, read_back

MARKS = "*_~`<>&|!@#:"
PIECES = [*MARKS, "a", "b", "1", " ", "\n", "&lt;", "&amp;", "<!channel>", "<@U0ALICE>", "```"]
hostile_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def test_the_model_sees_what_slack_would_format() -> None:
    """The model is honest: raw marks do format, so the escaping tests below can fail."""
    assert formatting("latency spiking *again* _now_ ~gone~ `x`")
    assert formatting("> quoted") and formatting("&gt; quoted") and formatting("<!channel>")
    assert formatting("a ```pre``` b")
    assert not formatting("snake_case_name and 2*3*4")


@given(hostile_text)
@example("latency spiking *again* <!channel> _now_")
@example("*a*b*")
@example("&gt; not a quote")
@example("~/.config and ~/.cache~")
def test_escaped_text_has_no_formatting_and_reads_back_as_typed(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert formatting(escaped) == [], (text, escaped)
    assert read_back(escaped) == text


@given(hostile_text)
def test_escaped_text_stays_unformatted_inside_the_bots_own_markup(text: str) -> None:
    """Bold around a title (the announcement's ``*Incident #1: title*``) keeps its own pair only."""
    line = f"🚨 *Incident #7: {escape_mrkdwn(display_title(text))}* · P1"
    assert [f for f in formatting(line) if not f.startswith("bold: '*Incident #7")] == []


def test_words_inside_identifiers_are_left_alone() -> None:
    """Marks between letters never format, so names people copy stay exactly as typed."""
    assert escape_mrkdwn("ticket_classifier p99_latency a*b") == "ticket_classifier p99_latency a*b"
