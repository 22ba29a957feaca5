"""Typed mentions in a slash command, escaped the way Slack escapes them (manifest: should_escape)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.mentions import Directory, escape_mentions
from sandbox.models import Channel, User, UserGroup

DIRECTORY = Directory.of(
    users=[User("U0ALICE", "alice"), User("U0MLLEAD1", "ml-lead"), User("U0BOT", "incident-bot", is_bot=True)],
    usergroups=[UserGroup("S0MLONCALL", "ml-oncall", "ML on-call")],
    channels=[Channel("C0GENERAL", "general", 0, "U0ALICE"), Channel("C0SECRET", "secret", 0, "U0ALICE",
                                                                      is_private=True)],
)


@pytest.mark.parametrize(("typed", "sent"), [
    ("role commander @alice", "role commander <@U0ALICE|alice>"),
    ("escalate @ml-lead", "escalate <@U0MLLEAD1|ml-lead>"),
    ("escalate @ML-ONCALL", "escalate <!subteam^S0MLONCALL|@ml-oncall>"),
    ("followup rotate keys @alice friday", "followup rotate keys <@U0ALICE|alice> friday"),
    ("note ask @alice. then @channel", "note ask <@U0ALICE|alice>. then <!channel>"),
    ("note see #general, not #secret", "note see <#C0GENERAL|general>, not #secret"),
    ("note `@alice` in code too", "note `<@U0ALICE|alice>` in code too"),
    ("role commander @nobody", "role commander @nobody"),
    ("note mail alice@example.com", "note mail alice@example.com"),
    ("note @incident-bot is no person to mention", "note @incident-bot is no person to mention"),
    ("role commander <@U0ALICE|alice>", "role commander <@U0ALICE|alice>"),
    ("escalate <!subteam^S0MLONCALL|@ml-oncall>", "escalate <!subteam^S0MLONCALL|@ml-oncall>"),
    ("note it&#39;s #general", "note it&#39;s <#C0GENERAL|general>"),
])
def test_known_names_are_escaped_and_the_rest_stays_as_typed(typed: str, sent: str) -> None:
    assert escape_mentions(typed, DIRECTORY) == sent


@given(st.text(alphabet=st.sampled_from(list("@#<>|^!&; .,-_abcdeilnorgU0AL")), max_size=60))
def test_escaping_is_stable_and_only_adds_escapes(text: str) -> None:
    once = escape_mentions(text, DIRECTORY)
    assert escape_mentions(once, DIRECTORY) == once  # an escape already made is never escaped again
    assert once.replace("<@U0ALICE|alice>", "@alice").replace("<@U0MLLEAD1|ml-lead>", "@ml-lead") \
        .replace("<!subteam^S0MLONCALL|@ml-oncall>", "@ml-oncall").replace("<#C0GENERAL|general>", "#general") \
        .replace("<!here>", "@here").replace("<!channel>", "@channel").replace("<!everyone>", "@everyone") \
        .lower() == text.lower()
