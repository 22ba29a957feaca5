"""People in a draft: ids found in the facts, and Slack's mention markup shown as names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from bot.core.postmortem.people import mention, people_in, person_name, plain_mentions
from bot.core.postmortem.render import md, person

NAMES = {"U0ALICE": "Alice Adams", "U0BOB": "Bob Brown"}


@dataclass(frozen=True)
class Fact:
    by: str
    text: str
    rows: tuple[str, ...] = ()


def test_ids_are_found_as_person_fields_and_as_mentions_in_text() -> None:
    fact = Fact(by="U0ALICE", text="paged <@U0BOB|bob> and <!subteam^S0MLONCALL>",
                rows=("<@W0CAROL1> approved", "pagerduty", "WARNING", "incident-bot"))
    assert people_in({"commander": fact, "n": 3}) == {"U0ALICE", "U0BOB", "W0CAROL1"}


def test_mentions_read_as_names_and_unknown_people_as_what_slack_sent() -> None:
    text = ("paged <@U0BOB|bob>, <@U0ALICE>, <@U0CAROL1|carol>, <@U0DAVE1>, <#C0123|ops>, "
            "<!subteam^S1|@ml-oncall>, <!here>")
    assert plain_mentions(text, NAMES) == "paged @Bob Brown, @Alice Adams, @carol, @U0DAVE1, #ops, @ml-oncall, @here"
    assert person_name("U0ALICE", NAMES) == "Alice Adams" and person_name("U0DAVE1", NAMES) == "@U0DAVE1"
    assert person_name("cloudwatch", NAMES) == "cloudwatch" and mention("U0BOB") == "<@U0BOB>"


def test_a_name_is_escaped_like_any_text_people_choose() -> None:
    names = {"U0EVE1": "Eve | *admin* [x]"}
    assert person("U0EVE1", names) == "Eve \\| \\*admin\\* \\[x\\]"
    assert md("ask <@U0EVE1>", names) == "ask @Eve \\| \\*admin\\* \\[x\\]"


@given(st.text(alphabet=st.sampled_from("<>@|!#^U0AB \\[]*\n"), max_size=40),
       st.text(alphabet=st.sampled_from("|*<>[]\\ab\n"), max_size=20))
def test_a_cell_with_mentions_never_splits_a_table_row(text: str, name: str) -> None:
    shown = md(f"{text} <@U0AB> {text}", {"U0AB": name})
    unescaped = shown.replace("\\\\", "")  # drop escaped backslashes; what is left escapes one character
    assert "\n" not in shown and not re.search(r"(?<!\\)\|", unescaped), shown
