"""user_text: people's words in mrkdwn keep mentions of one person and lose everything louder."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.format import user_text


def test_a_user_mention_is_kept_and_broadcasts_and_links_are_disarmed() -> None:
    text = user_text("ask <@U0ALICE> and <!channel> at <https://evil.example|docs> & <!subteam^S0SEC>")
    assert "<@U0ALICE>" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://" not in text and "<!subteam" not in text
    assert "&amp;" in text


@given(st.text(max_size=300))
def test_nothing_but_user_mentions_survives_as_markup(raw: str) -> None:
    stripped = re.sub(r"<@[UW][A-Z0-9]{2,31}>", "", user_text(raw))
    assert "<" not in stripped and ">" not in stripped
