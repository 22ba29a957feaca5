"""The customer-facing notice over HTTP (seeds 002 and 003: "notify affected customers", "update
status page"): drafted in the incident channel on resolve, edited by a responder, and sent to
the customer channel and the status page only once a second person approved it, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from tests.scenarios.actions_support import (
    action_message,
    action_row,
    audit_rows,
    button_values,
    wait_finished,
    wait_for,
)
from tests.scenarios.harness import Database, SlackUser, all_text
from tests.scenarios.notice_support import (
    ALICE,
    BOB,
    CAROL,
    STATUS_PATH,
    STATUS_TOKEN,
    LoopbackServer,
    declare_for_service,
    notice_rows,
    texts,
    write_config,
)

CUSTOMER_TEXT = ("Resolved: Major service disruption\n"
                 "Between 14:05 and 14:40 UTC some credit decisions took up to a minute. "
                 "All requests are answered normally again.\nWe apologise for the disruption.")


@pytest.fixture
def status_page() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def notice_bot(bot_factory, slack, tmp_path: Path, status_page: LoopbackServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STATUS_PAGE_TOKEN", STATUS_TOKEN)
    slack.add_channel("exec-summary")
    slack.add_channel("customer-status")
    config = write_config(tmp_path, status_url=f"{status_page.url}{STATUS_PATH}")
    return bot_factory(config_path=str(config), worker_url="http://127.0.0.1:9")


@pytest.fixture
def people(notice_bot, slack, http) -> dict[str, SlackUser]:
    return {who: SlackUser(bot=notice_bot, slack=slack, user_id=who, http=http) for who in (ALICE, BOB, CAROL)}


def notice_views(slack: Any) -> list[dict[str, Any]]:
    return [view for view in slack.views() if view.get("callback_id") == CallbackId.NOTICE_MODAL]


def typed(text: str) -> dict[str, Any]:
    return {BlockId.NOTICE_TEXT: {InputId.NOTICE: {"type": "plain_text_input", "value": text}}}


def resolved_with_draft(people: dict[str, SlackUser], slack: Any, db: Database) -> tuple[str, Any]:
    alice = people[ALICE]
    channel = declare_for_service(alice, slack, db, title="Scoring latency above SLO", service="scoring-engine")
    alice.command("resolve scaled out; backlog drained", channel=channel)
    draft = wait_for(lambda: next((m for m in slack.messages(channel) if "Draft notice for" in all_text(m)), None),
                     what="the customer draft in the incident channel")
    return channel, draft


def open_form(user: SlackUser, slack: Any, channel: str, draft: Any) -> dict[str, Any] | None:
    before = len(notice_views(slack))
    [value] = button_values(draft.blocks, ActionId.EDIT_NOTICE)
    assert user.click(ActionId.EDIT_NOTICE, channel=channel, message_ts=draft.ts, value=value,
                      block_id=BlockId.NOTICE_ACTIONS).status_code == 200
    try:
        return wait_for(lambda: len(notice_views(slack)) > before and notice_views(slack)[-1], timeout=5,
                        what="the notice form")
    except AssertionError:
        return None


def request_approval(alice: SlackUser, slack: Any, channel: str, draft: Any, text: str) -> int:
    form = open_form(alice, slack, channel, draft)
    assert form is not None
    answer = alice.submit_view(form, typed(text)).json()
    assert answer["response_action"] == "update", answer
    confirm_view = answer["view"]
    assert confirm_view["callback_id"] == CallbackId.CONFIRM_MODAL
    assert "Between 14:05 and 14:40 UTC" in all_text(confirm_view)  # the requester reads what will go out
    action_id = int(json.loads(confirm_view["private_metadata"])["action_id"])
    assert alice.submit_view(confirm_view, {}).status_code == 200
    return action_id


def approve(user: SlackUser, channel: str, action_id: int) -> None:
    assert user.click(ActionId.APPROVE, channel=channel, message_ts="1.000001", value=str(action_id),
                      block_id="action_buttons").status_code == 200


def test_the_customer_notice_leaves_only_after_a_second_persons_approval_and_only_once(
    people: dict[str, SlackUser], slack, db: Database, status_page: LoopbackServer,
) -> None:
    alice, bob, carol = people[ALICE], people[BOB], people[CAROL]
    channel, draft = resolved_with_draft(people, slack, db)

    # Carol holds no role that may publish notices: no form, a refusal.
    assert open_form(carol, slack, channel, draft) is None
    assert any("publish customer notices" in r.get("text", "") for r in carol.responses())

    form = open_form(alice, slack, channel, draft)
    assert form is not None
    prefilled = next(b for b in form["blocks"] if b.get("block_id") == BlockId.NOTICE_TEXT)["element"]["initial_value"]
    assert prefilled.startswith("Resolved: Major service disruption") and "[Customer impact:" in prefilled
    # The draft as it is still asks its question; a notice naming an internal service is refused.
    unchanged = alice.submit_view(form, typed(prefilled)).json()
    assert unchanged["response_action"] == "errors" and "[Customer impact:" in unchanged["errors"][BlockId.NOTICE_TEXT]
    leaky = alice.submit_view(form, typed("Resolved: the scoring-engine ECS service was scaled out")).json()
    assert leaky["response_action"] == "errors" and "scoring-engine" in leaky["errors"][BlockId.NOTICE_TEXT]

    action_id = request_approval(alice, slack, channel, draft, CUSTOMER_TEXT)
    assert action_row(db, action_id).state == "awaiting_approval"
    message = wait_for(lambda: action_message(slack, channel, action_id), what="the approval request")
    assert "Between 14:05 and 14:40 UTC" in all_text(message)  # the approver reads the words they approve
    assert button_values(message.blocks, ActionId.APPROVE) == [str(action_id)]

    # The requester cannot approve their own notice, nor can someone without the approver role.
    approve(alice, channel, action_id)
    approve(carol, channel, action_id)

    def refused_approvals() -> set[str]:
        return {row.actor for row in audit_rows(db) if row.outcome == "denied" and (row.detail or {}).get("action_id")}

    assert wait_for(lambda: refused_approvals() >= {ALICE, CAROL} and refused_approvals(),
                    what="both refusals in the audit log") == {ALICE, CAROL}
    assert action_row(db, action_id).state == "awaiting_approval"
    assert status_page.posts == [] and texts(slack, "customer-status") == []

    approve(bob, channel, action_id)
    assert wait_finished(db, action_id).state == "succeeded"
    wait_for(lambda: status_page.posts, what="the status page POST")
    wait_for(lambda: texts(slack, "customer-status"), what="the notice in the customer channel")

    # A replayed approval, and the same click again, send nothing more.
    approve(bob, channel, action_id)
    approve(bob, channel, action_id)
    db.wait_outbox_drained()
    assert len(status_page.posts) == 1 and len(texts(slack, "customer-status")) == 1
    posted = status_page.posts[0]
    assert posted.path == STATUS_PATH
    assert posted.headers["authorization"] == f"Bearer {STATUS_TOKEN}"
    assert posted.headers["idempotency-key"] == action_row(db, action_id).after["notice_id"]
    assert posted.body["status"] == "resolved" and posted.body["body"] == CUSTOMER_TEXT
    assert "Between 14:05 and 14:40 UTC" in texts(slack, "customer-status")[0]


def test_a_status_page_that_is_down_is_retried_with_the_same_notice(
    people: dict[str, SlackUser], slack, db: Database, status_page: LoopbackServer,
) -> None:
    alice, bob = people[ALICE], people[BOB]
    channel, draft = resolved_with_draft(people, slack, db)
    status_page.failures_left = 2  # 503, 503, then taken
    action_id = request_approval(alice, slack, channel, draft, CUSTOMER_TEXT)
    approve(bob, channel, action_id)
    assert wait_finished(db, action_id).state == "succeeded"
    wait_for(lambda: len(status_page.posts) >= 3, timeout=30, what="the retried status page POSTs")
    db.wait_outbox_drained()
    assert len(status_page.posts) == 3
    assert len({post.headers["idempotency-key"] for post in status_page.posts}) == 1
    # The channel did not wait for the status page, and got the notice once.
    assert len(texts(slack, "customer-status")) == 1


def test_notify_names_an_approval_audience_and_refuses_others(
    people: dict[str, SlackUser], slack, db: Database,
) -> None:
    alice = people[ALICE]
    channel = declare_for_service(alice, slack, db, title="Scoring latency above SLO", service="scoring-engine")
    before = len(notice_views(slack))
    alice.command("notify executives", channel=channel, trigger_id="trig.notify1")
    alice.command("notify nobody", channel=channel, trigger_id="trig.notify2")
    refusals = wait_for(lambda: [r["text"] for r in alice.responses() if "takes approved notices" in r["text"]],
                        what="the refusals")
    assert "customers" in refusals[-1]
    assert len(notice_views(slack)) == before
    # While the incident is open too, `/incident notify customers` opens the form with the draft.
    alice.command("notify customers", channel=channel, trigger_id="trig.notify3")
    form = wait_for(lambda: len(notice_views(slack)) > before and notice_views(slack)[-1], what="the form")
    prefilled = next(b for b in form["blocks"] if b.get("block_id") == BlockId.NOTICE_TEXT)["element"]["initial_value"]
    assert prefilled.startswith("Investigating: Major service disruption")


def test_a_status_page_that_refuses_is_given_up_on_and_a_forged_form_changes_nothing(
    people: dict[str, SlackUser], slack, db: Database, status_page: LoopbackServer,
) -> None:
    alice, bob = people[ALICE], people[BOB]
    channel, draft = resolved_with_draft(people, slack, db)

    # A form whose metadata was edited to name a direct audience: refused on the field, nothing proposed.
    form = open_form(alice, slack, channel, draft)
    assert form is not None
    forged = {**form, "private_metadata": json.dumps({**json.loads(form["private_metadata"]),
                                                       "audience": "executives"})}
    answer = alice.submit_view(forged, typed(CUSTOMER_TEXT)).json()
    assert answer["response_action"] == "errors" and "takes approved notices" in answer["errors"][BlockId.NOTICE_TEXT]
    assert not [row for row in notice_rows(db) if row.payload.get("publish")]

    status_page.reject = True  # 422: retrying the same notice will not help
    action_id = request_approval(alice, slack, channel, draft, CUSTOMER_TEXT)
    approve(bob, channel, action_id)
    assert wait_finished(db, action_id).state == "succeeded"
    wait_for(lambda: status_page.posts, what="the refused POST")
    db.wait_outbox_drained()
    assert len(status_page.posts) == 1  # given up on, not retried
    assert len(texts(slack, "customer-status")) == 1
    failed = [row for row in notice_rows(db) if row.payload.get("outlet") == "status_page"]
    assert [row.state for row in failed] == ["failed"]
