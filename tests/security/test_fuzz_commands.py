"""Structured fuzzing of what a person can send: every /incident subcommand (and alias) with
random arguments, in an incident channel and out of one, and well-formed clicks of every ActionId
with random values. tests/scenarios/test_bad_input.py covers unstructured bodies and forms."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.ids import ActionId, BlockId
from handlers.slack.commands.router import SUBCOMMANDS
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import SlackUser

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = sorted({name for sub in SUBCOMMANDS for name in (sub.name, *sub.aliases)})
WORDS = st.one_of(
    st.sampled_from(["P0", "P1", "P4", "#1", "1", "0", "-1", "999999999999", "<@U0BOB>", "<!here>", "10m", "on",
                     "off", "true", "multimodal-api", "ticket-classifier", "commander", "'", '"', "--", "\\"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
ARGS = st.lists(WORDS, max_size=5).map(" ".join)


@pytest.fixture
def incident_channel(alice: SlackUser, db) -> str:
    """One incident for every generated example (hypothesis reuses function-scoped fixtures)."""
    assert alice.command("declare P2 fuzz target").status_code == 200
    return str(db.wait_incident_ready(1).channel_id)


@SETTINGS
@given(name=st.sampled_from(NAMES), args=ARGS, in_incident=st.booleans(),
       case=st.sampled_from([str, str.upper, str.title]))
def test_every_subcommand_with_random_arguments_gets_an_answer(alice: SlackUser, slack, incident_channel: str,
                                                               name: str, args: str, in_incident: bool,
                                                               case) -> None:
    channel = incident_channel if in_incident else slack.channel_id("general")
    views_before = len(slack.views())
    response = alice.command(f"{case(name)} {args}".strip(), channel=channel)
    assert response.status_code == 200, response.text
    if not response.content:
        # An empty ack answers just after it: a modal opens (``declare`` alone, ``notify``), or,
        # when the form cannot open, a message comes through the response_url.
        wait_for(lambda: len(slack.views()) > views_before or alice.responses(), timeout=10,
                 what=f"an answer to /incident {name} {args!r}")
        return
    body = response.json()
    assert str(body.get("text", "")).strip() or body.get("blocks"), body


VALUES = st.one_of(st.none(), st.integers(-2, 5).map(str), st.text(max_size=20),
                   st.builds(lambda a, b: f"{a}:{b}", st.integers(-1, 3), st.integers(-1, 3)))


@SETTINGS
@given(action=st.sampled_from(list(ActionId)), value=VALUES,
       block=st.sampled_from([b.value for b in BlockId] + ["", "runbook_step-x"]), kind=st.sampled_from(
           ["button", "checkboxes", "static_select"]))
def test_every_action_with_random_values_is_answered_without_a_server_error(
        alice: SlackUser, db, incident_channel: str, action: ActionId, value: str | None, block: str,
        kind: str) -> None:
    headline_ts = db.incident(1).headline_ts
    if kind == "button":
        response = alice.click(action.value, channel=incident_channel, message_ts=headline_ts, value=value,
                               block_id=block)
    elif kind == "checkboxes":
        response = alice.tick(action.value, channel=incident_channel, message_ts=headline_ts, block_id=block,
                              value=value or "", checked=bool(value))
    else:
        response = alice.choose(action.value, channel=incident_channel, message_ts=headline_ts, block_id=block,
                                value=value or "")
    assert response.status_code < 500, response.text
    assert response.status_code != 401, "a signed click must not be taken for a replay"
