"""Guarded actions end to end: signed Slack requests to the real app, a local moto server seeded
like the seeds' production, and (for model rollback) a real worker process on a quick registry."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from tests.inference.moto_server import moto_client
from tests.inference.test_worker import start_worker
from tests.scenarios.actions_support import (
    ALICE,
    BOB,
    CAROL,
    action_message,
    action_row,
    add_oncall_group,
    all_text,
    audit_rows,
    button_values,
    confirm,
    declare,
    desired_count,
    parameter,
    propose,
    wait_finished,
    wait_for,
    write_config,
)
from tests.scenarios.harness import Database, SlackUser


@pytest.fixture
def action_bot(bot_factory, slack, production, aws_env, tmp_path: Path):
    add_oncall_group(slack)

    def start(**overrides):
        config = write_config(tmp_path, **{k: overrides.pop(k) for k in ("ttl", "dry_run") if k in overrides})
        return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, **overrides)

    return start


def person(bot, slack, http, user_id: str) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id=user_id, http=http)


def test_an_unauthorized_click_or_command_changes_nothing_and_is_audited(action_bot, slack, http, db: Database,
                                                                         production, aws_env) -> None:
    bot = action_bot()
    alice, carol = person(bot, slack, http, ALICE), person(bot, slack, http, CAROL)
    channel = declare(alice, slack, db)
    headline = slack.pins(channel)[0]
    assert ActionId.OPEN_SCALE.value in json.dumps(headline.blocks)

    carol.click(ActionId.OPEN_SCALE, channel=channel, message_ts=headline.ts)
    refusal = wait_for(lambda: carol.responses(), what="carol's refusal")[-1]
    assert "responder" in refusal["text"] and "commander" in refusal["text"]
    assert f"<@{ALICE}>" in refusal["text"]  # who can do it
    assert not slack.views()  # no modal opened

    answer = carol.command("scale multimodal-api 10", channel=channel).json()
    assert "🔒" in answer["text"] and "Confirm" not in json.dumps(answer.get("blocks") or [])
    assert desired_count(aws_env, production) == 4
    denied = [row for row in audit_rows(db, actor=CAROL) if row.outcome == "denied"]
    assert len(denied) == 2 and {row.action for row in denied} == {"action.scale"}


def test_an_authorized_scale_changes_the_desired_count_and_posts_the_verified_result(
        action_bot, slack, http, db: Database, production, aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)  # a responder through the on-call user group
    channel = declare(alice, slack, db)
    action_id, answer = propose(alice, "scale multimodal-api 10", channel)
    assert "desired 4 → 10" in all_text(answer)
    assert desired_count(aws_env, production) == 4  # nothing happens before confirmation

    assert confirm(alice, channel, action_id).status_code == 200
    row = wait_finished(db, action_id)
    assert row.state == "succeeded" and row.result["observed"] == {"desired": 10, "running": 10}
    assert desired_count(aws_env, production) == 10
    db.wait_outbox_drained()
    message = all_text(action_message(slack, channel, action_id))
    assert "✅ Done" in message and "Verified: desired 10, running 10" in message
    outcomes = [(row.actor, row.outcome) for row in audit_rows(db)]
    assert outcomes == [(ALICE, "requested"), (ALICE, "ok"), ("system", "ok")]
    final = audit_rows(db)[-1].detail
    assert final["before"] == {"desired": 4, "running": 4} and final["after"] == {"desired": 10}


def test_the_scale_modal_shows_the_current_state_and_confirms_before_acting(
        action_bot, slack, http, db: Database, production, aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    alice.click(ActionId.OPEN_SCALE, channel=channel, message_ts=slack.pins(channel)[0].ts)
    modal = wait_for(lambda: [v for v in slack.views() if "Desired *4*" in json.dumps(v)], what="the filled modal")[-1]
    assert "multimodal-api:3" in json.dumps(modal)

    values = {BlockId.SCALE_COUNT.value: {InputId.COUNT.value: {"type": "number_input", "value": "25"}}}
    refused = alice.submit_view(modal, values).json()
    assert refused["response_action"] == "errors" and "from 2 to 20" in refused["errors"][BlockId.SCALE_COUNT.value]

    values[BlockId.SCALE_COUNT.value][InputId.COUNT.value]["value"] = "6"
    update = alice.submit_view(modal, values).json()
    assert update["response_action"] == "update" and "desired 4 → 6" in json.dumps(update["view"], ensure_ascii=False)
    assert desired_count(aws_env, production) == 4
    confirmation = update["view"]
    assert confirmation["callback_id"] == CallbackId.CONFIRM_MODAL.value
    done = alice.submit_view(confirmation, {}).json()
    assert done["response_action"] == "update"
    action_id = json.loads(confirmation["private_metadata"])["action_id"]
    assert wait_finished(db, action_id).state == "succeeded"
    assert desired_count(aws_env, production) == 6


@pytest.mark.parametrize(("text", "expected"), [
    ("scale multimodal-api 50", "from 2 to 20"),
    ("scale multimodal-api ten", "from 2 to 20"),
    ("scale payments-api 5", "`multimodal-api`"),
    ("flag NOT_A_FLAG true", "`AUTO_APPLY_ENABLED`"),
    ("rollback model gpt-9", "`incident-text`"),
])
def test_bad_input_gets_an_ephemeral_error_naming_the_valid_choices(action_bot, slack, http, db: Database,
                                                                   production, aws_env, text, expected) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    answer = alice.command(text, channel=channel).json()
    assert answer["response_type"] == "ephemeral" and expected in answer["text"]
    assert not button_values(answer.get("blocks"), ActionId.CONFIRM)
    assert desired_count(aws_env, production) == 4
    assert [row.outcome for row in audit_rows(db)] == ["invalid"]


def test_emergency_stop_waits_for_a_second_person_and_refuses_the_requesters_own_approval(
        action_bot, slack, http, db: Database, production, aws_env) -> None:
    bot = action_bot()
    alice, bob = person(bot, slack, http, ALICE), person(bot, slack, http, BOB)
    channel = declare(alice, slack, db)
    action_id, answer = propose(alice, "stop multimodal-api", channel)
    assert "desired 4 → 0" in all_text(answer) and "approver" in all_text(answer)
    confirm(alice, channel, action_id)
    wait_for(lambda: action_row(db, action_id).state == "awaiting_approval", what="approval request")
    db.wait_outbox_drained()
    request = action_message(slack, channel, action_id)
    assert button_values(request.blocks, ActionId.APPROVE) == [str(action_id)]

    alice.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(action_id),
                block_id="action_buttons")
    refusal = wait_for(lambda: alice.responses(), what="the self-approval refusal")[-1]
    assert "can't approve your own" in refusal["text"]
    assert action_row(db, action_id).state == "awaiting_approval"
    assert desired_count(aws_env, production) == 4

    bob.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(action_id),
              block_id="action_buttons")
    row = wait_finished(db, action_id)
    assert row.state == "succeeded" and row.decided_by == BOB
    assert desired_count(aws_env, production) == 0
    db.wait_outbox_drained()
    assert f"approved by <@{BOB}>" in all_text(action_message(slack, channel, action_id))
    outcomes = [(row.actor, row.outcome) for row in audit_rows(db)]
    assert outcomes == [(ALICE, "requested"), (ALICE, "requested"), (ALICE, "denied"), (BOB, "approved"),
                        ("system", "ok")]


def test_an_approval_nobody_gives_in_time_expires_and_does_nothing(action_bot, slack, http, db: Database,
                                                                   production, aws_env) -> None:
    bot = action_bot(ttl="1s", action_sweep_interval=0.2)
    alice, bob = person(bot, slack, http, ALICE), person(bot, slack, http, BOB)
    channel = declare(alice, slack, db)
    action_id, _ = propose(alice, "stop multimodal-api", channel)
    confirm(alice, channel, action_id)
    assert wait_finished(db, action_id, timeout=10).state == "expired"
    db.wait_outbox_drained()
    message = action_message(slack, channel, action_id)
    assert "Nobody approved in time" in all_text(message) and not button_values(message.blocks, ActionId.APPROVE)
    bob.click(ActionId.APPROVE, channel=channel, message_ts=message.ts, value=str(action_id),
              block_id="action_buttons")
    assert "expired" in wait_for(lambda: bob.responses(), what="bob's answer")[-1]["text"]
    assert desired_count(aws_env, production) == 4
    assert [row.outcome for row in audit_rows(db)][-1] == "expired"


def test_config_rollback_restores_the_previous_parameter_value(action_bot, slack, http, db: Database,
                                                               aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    action_id, answer = propose(alice, "rollback config max_batch_size", channel)
    assert "32 → 16" in all_text(answer)
    confirm(alice, channel, action_id)
    row = wait_finished(db, action_id)
    assert row.state == "succeeded"
    assert parameter(aws_env, "/multimodal/prod/max_batch_size") == "16"


def test_disable_auto_apply_is_one_click_to_its_confirmation(action_bot, slack, http, db: Database,
                                                             aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    alice.click(ActionId.DISABLE_AUTO_APPLY, channel=channel, message_ts=slack.pins(channel)[0].ts)
    modal = wait_for(lambda: [v for v in slack.views() if v.get("callback_id") == CallbackId.CONFIRM_MODAL.value],
                     what="the confirmation")[-1]
    assert "true → false" in json.dumps(modal, ensure_ascii=False)
    alice.submit_view(modal, {})
    action_id = json.loads(modal["private_metadata"])["action_id"]
    assert wait_finished(db, action_id).state == "succeeded"
    assert parameter(aws_env, "/multimodal/prod/AUTO_APPLY_ENABLED") == "false"


def test_a_double_submitted_action_acts_once(action_bot, slack, http, db: Database, production, aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    action_id, _ = propose(alice, "scale multimodal-api 8", channel)
    # Two clicks at once, then Slack retrying the same interaction.
    clicks = [threading.Thread(target=confirm, args=(alice, channel, action_id)) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    confirm(alice, channel, action_id)
    assert wait_finished(db, action_id).state == "succeeded"
    assert [(row.actor, row.outcome) for row in audit_rows(db)] == [(ALICE, "requested"), (ALICE, "ok"),
                                                                    ("system", "ok")]
    assert desired_count(aws_env, production) == 8


def test_two_people_scaling_at_once_run_one_change_and_the_other_sees_it(
        action_bot, slack, http, db: Database, production, aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    dave = person(bot, slack, http, "U0DAVE")
    slack.add_usergroup(_group_with(ALICE, "U0DAVE"))
    channel = declare(alice, slack, db)
    first, _ = propose(alice, "scale multimodal-api 8", channel)
    second, _ = propose(dave, "scale multimodal-api 12", channel)
    threads = [threading.Thread(target=confirm, args=(alice, channel, first)),
               threading.Thread(target=confirm, args=(dave, channel, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: (action_row(db, first).state not in ("proposed", "running")
             and action_row(db, second).state not in ("proposed", "running"))
             or _one_refused(db, first, second), what="both to settle")
    states = sorted([action_row(db, first).state, action_row(db, second).state])
    assert states.count("succeeded") == 1, states
    assert states[0] in ("proposed", "stale"), states  # refused while the other ran, or found it changed
    winner = first if action_row(db, first).state == "succeeded" else second
    assert desired_count(aws_env, production) == (8 if winner == first else 12)


def _one_refused(db: Database, first: int, second: int) -> bool:
    states = {action_row(db, first).state, action_row(db, second).state}
    return "succeeded" in states and "proposed" in states


def _group_with(*users: str):
    from sandbox.models import UserGroup

    return UserGroup(id="S0MLONCALL", handle="ml-oncall", name="ML on-call", users=list(users))


def test_dry_run_shows_what_would_happen_and_changes_nothing(action_bot, slack, http, db: Database,
                                                             production, aws_env) -> None:
    bot = action_bot(dry_run=True)
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    action_id, answer = propose(alice, "scale multimodal-api 9", channel)
    assert "Dry-run mode is on" in all_text(answer)
    confirm(alice, channel, action_id)
    assert wait_finished(db, action_id).state == "dry_run"
    assert desired_count(aws_env, production) == 4
    assert [row.outcome for row in audit_rows(db)] == ["requested", "dry_run"]


# --- the model worker ------------------------------------------------------------------------


@pytest.fixture
def worker(trained_registry: Path, tmp_path: Path):
    server = start_worker(trained_registry, tmp_path)  # a copy: the rollback must not change the shared one
    # v1 serves; put v2 in service so there is a deploy to roll back.
    httpx.post(f"{server.url}/v1/models/incident-text/versions/v2:load", timeout=60).raise_for_status()
    yield server
    server.stop()


def test_model_rollback_changes_the_version_the_worker_serves(action_bot, slack, http, db: Database,
                                                              worker) -> None:
    bot = action_bot(worker_url=worker.url)
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    action_id, answer = propose(alice, "rollback model incident-text", channel)
    assert "serving v2 → v1" in all_text(answer)
    assert "accuracy" in all_text(answer)  # the version listing, as in the seeds
    assert "Accuracy gate: v1 scores" in all_text(answer) and "at or above the 80% bar" in all_text(answer)
    confirm(alice, channel, action_id)
    row = wait_finished(db, action_id, timeout=60)
    assert row.state == "succeeded", row.result
    served = httpx.post(f"{worker.url}/v1/models/incident-text:predict",
                        json={"instances": [{"text": "p95 latency up after deploy"}]}, timeout=30).json()
    assert served["model_version"] == "v1"
    deploys = httpx.get(f"{worker.url}/v1/models/incident-text", timeout=30).json()["deploys"]
    assert deploys[-1]["action"] == "rollback" and deploys[-1]["actor"] == ALICE


def test_model_rollback_with_the_worker_down_reports_it_and_changes_nothing(action_bot, slack, http,
                                                                            db: Database) -> None:
    bot = action_bot(worker_url="http://127.0.0.1:9")  # nothing listens there
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    answer = alice.command("rollback model incident-text", channel=channel).json()
    assert "worker" in answer["text"] and "Nothing was changed" in answer["text"]
    assert not button_values(answer.get("blocks"), ActionId.CONFIRM)


def test_the_rollback_modal_rolls_the_deployment_back_even_with_the_worker_down(
        action_bot, slack, http, db: Database, production, aws_env) -> None:
    bot = action_bot(worker_url="http://127.0.0.1:9")
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    alice.click(ActionId.OPEN_ROLLBACK, channel=channel, message_ts=slack.pins(channel)[0].ts)
    modal = wait_for(lambda: [v for v in slack.views() if v.get("submit")], what="the filled modal")[-1]
    shown = json.dumps(modal, ensure_ascii=False)
    assert "multimodal-api:3 → multimodal-api:2" in shown  # the deployment, from ECS
    assert "max_batch_size: 32 → 16" in shown  # the config, from Parameter Store
    assert "Could not read model" in shown and "worker" in shown  # the worker's part says why it is blank

    values = {BlockId.ROLLBACK_TARGET.value: {InputId.TARGET.value: {"selected_option": {"value": "deploy"}}}}
    confirmation = alice.submit_view(modal, values).json()["view"]
    assert "task definition multimodal-api:3 → multimodal-api:2" in json.dumps(confirmation, ensure_ascii=False)
    alice.submit_view(confirmation, {})
    action_id = json.loads(confirmation["private_metadata"])["action_id"]
    assert wait_finished(db, action_id).state == "succeeded"
    ecs = moto_client(aws_env, "ecs")
    service = ecs.describe_services(cluster=production.cluster, services=[production.service])["services"][0]
    assert service["taskDefinition"] == production.task_definitions[1]


def test_the_flags_modal_sets_a_flag_and_reads_it_back(action_bot, slack, http, db: Database, aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    alice.click(ActionId.OPEN_FLAGS, channel=channel, message_ts=slack.pins(channel)[0].ts)
    modal = wait_for(lambda: [v for v in slack.views() if v.get("submit")], what="the filled modal")[-1]
    assert "`rate_limit_rpm` = `600`" in json.dumps(modal, ensure_ascii=False)
    values = {BlockId.FLAG_NAME.value: {InputId.FLAG.value: {"selected_option": {"value": "rate_limit_rpm"}}},
              BlockId.FLAG_VALUE.value: {InputId.VALUE.value: {"value": "300"}}}
    confirmation = alice.submit_view(modal, values).json()["view"]
    assert "600 → 300" in json.dumps(confirmation, ensure_ascii=False)
    alice.submit_view(confirmation, {})
    row = wait_finished(db, json.loads(confirmation["private_metadata"])["action_id"])
    assert row.state == "succeeded" and row.result["observed"]["value"] == "300"
    assert parameter(aws_env, "/multimodal/prod/rate_limit_rpm") == "300"


def test_redeploy_starts_a_new_deployment_and_waits_for_it(action_bot, slack, http, db: Database,
                                                           production, aws_env) -> None:
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    ecs = moto_client(aws_env, "ecs")
    before = ecs.describe_services(cluster=production.cluster, services=[production.service])["services"][0]
    action_id, answer = propose(alice, "redeploy multimodal-api", channel)
    assert "new deployment of multimodal-api:3" in all_text(answer)
    confirm(alice, channel, action_id)
    assert wait_finished(db, action_id).state == "succeeded"
    after = ecs.describe_services(cluster=production.cluster, services=[production.service])["services"][0]
    assert after["deployments"][0]["id"] != before["deployments"][0]["id"]


SUBCOMMAND_ARGS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subcommand=st.sampled_from(["scale", "stop", "rollback", "rollback model", "rollback config",
                                   "rollback deploy", "flag", "redeploy"]), args=SUBCOMMAND_ARGS)
def test_any_action_arguments_get_an_answer_and_change_nothing(action_bot_once, subcommand: str, args: str) -> None:
    alice, channel, check_unchanged = action_bot_once
    response = alice.command(f"{subcommand} {args}", channel=channel)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral" and body["text"].strip()
    check_unchanged()


@pytest.fixture
def action_bot_once(action_bot, slack, http, db: Database, production, aws_env):
    """One bot and incident for every generated example (hypothesis reuses function fixtures)."""
    bot = action_bot()
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)

    def check_unchanged() -> None:
        # A subcommand only ever proposes: nothing changes before someone confirms.
        assert desired_count(aws_env, production) == 4
        assert parameter(aws_env, "/multimodal/prod/AUTO_APPLY_ENABLED") == "true"

    return alice, channel, check_unchanged


def test_only_the_requester_confirms_or_cancels_and_cancelling_does_nothing(
        action_bot, slack, http, db: Database, production, aws_env) -> None:
    bot = action_bot()
    alice, bob = person(bot, slack, http, ALICE), person(bot, slack, http, BOB)
    channel = declare(alice, slack, db)
    action_id, _ = propose(alice, "scale multimodal-api 12", channel)
    confirm(bob, channel, action_id)
    assert "Only <@U0ALICE> can confirm" in wait_for(lambda: bob.responses(), what="bob's refusal")[-1]["text"]
    alice.click(ActionId.CANCEL, channel=channel, message_ts="1.000001", value=str(action_id),
                block_id="action_buttons")
    assert wait_finished(db, action_id).state == "cancelled"
    confirm(alice, channel, action_id)  # a late confirm of a cancelled request does nothing
    assert action_row(db, action_id).state == "cancelled"
    assert desired_count(aws_env, production) == 4
    assert [(row.actor, row.outcome) for row in audit_rows(db)] == [(ALICE, "requested"), (BOB, "denied"),
                                                                    (ALICE, "cancelled")]
