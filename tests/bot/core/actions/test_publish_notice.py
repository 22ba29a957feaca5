"""Planning a customer notice: the audience and the words are checked before anyone is asked
to approve them; the plan fixes the notice's id."""

from __future__ import annotations

import pytest

from bot.config import IncidentBotConfig
from bot.core.actions.errors import ActionInputError
from bot.core.actions.kinds import ActionKind
from bot.core.actions.publish_notice import notice_text, plan_publish_notice
from bot.core.actions.requests import ActionRequest

CONFIG = IncidentBotConfig.from_mapping({
    "services": {"scoring-engine": {"aliases": ["scoring"], "models": ["credit-scorer"]}},
    "communication": {"audiences": {
        "customers": {"channel": "customer-status", "template": "customer", "approval": True,
                      "status_page": {"url": "https://status.example.com/hook"}},
        "executives": {"channel": "exec", "template": "executive"},
        "board": {"channel": "board-room", "approval": True},
    }},
}, source="test")


def plan(text: str, audience: str = "customers"):
    return plan_publish_notice(ActionRequest(ActionKind.PUBLISH_NOTICE, parameter=audience, text=text),
                               config=CONFIG)


def test_a_good_notice_is_planned_with_its_outlets_status_and_a_fresh_id() -> None:
    first = plan("Monitoring: Degraded performance\nA fix is in place.")
    second = plan("Monitoring: Degraded performance\nA fix is in place.")
    assert first.target == "notice:customers"
    assert first.before["outlets"] == ["#customer-status", "the status page"]
    assert first.after["status"] == "monitoring" and first.after["audience"] == "customers"
    assert first.after["notice_id"] != second.after["notice_id"]


@pytest.mark.parametrize(("audience", "text", "expected"), [
    ("executives", "Resolved", "No audience 'executives' takes approved notices (audiences: board, customers)"),
    ("nobody", "Resolved", "No audience 'nobody'"),
    ("customers", " \n\t ", "it is empty"),
    ("customers", "Resolved. [Customer impact: what they saw]", "[Customer impact: what they saw]"),
    ("customers", "x" * 2001, "a status page takes 2000"),
    ("customers", "Resolved: credit-scorer v7 is serving again", "credit-scorer"),
    ("customers", "Resolved: the SCORING service is back", "scoring"),
    ("customers", "Resolved <!channel>", "<!channel>"),
])
def test_bad_notices_are_refused_before_approval(audience: str, text: str, expected: str) -> None:
    with pytest.raises(ActionInputError) as refused:
        plan(text, audience)
    assert expected in str(refused.value)


def test_internal_names_are_for_customer_audiences_only() -> None:
    assert plan("Resolved: credit-scorer v7 serves again", "board").after["text"].endswith("serves again")


def test_the_text_keeps_its_lines_but_not_control_characters_or_blank_runs() -> None:
    assert notice_text("Resolved\u0007: ok\r\n\n\n\nThanks  \n") == "Resolved: ok\n\nThanks"
