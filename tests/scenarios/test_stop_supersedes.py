"""An emergency stop wins over an action still verifying on the same service; other changes on
one target wait their turn, and changes on different targets run side by side.

Over HTTP against the served bot: signed Slack requests, a local moto server, a real worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.slack.ids import ActionId
from sandbox.aws_seed import SeededProduction, seed_production
from tests.inference.test_worker import start_worker
from tests.scenarios.actions_support import (
    ALICE,
    BOB,
    CONFIG,
    ONCALL_GROUP,
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
    wait_for,
)
from tests.scenarios.harness import BotServer, Database, SlackUser
from tests.scenarios.lagging_ssm import LaggingParameterStore

# Run with the long tests (make test-long): late in the full suite, the in-process moto server's
# never-settling deployments starve the bot's event loop in this test process enough that Bolt
# gives up on a first command's ack (404). Alone, as in their own job, they are reliable.
pytestmark = pytest.mark.long

SETTLED = {"succeeded", "no_change", "stale", "unverified", "failed", "interrupted", "superseded"}
AUTO_APPLY = "/multimodal/prod/AUTO_APPLY_ENABLED"


@pytest.fixture
def slow_production(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> SeededProduction:
    # moto counts no task of the service's first deployment as running, so a scale up never
    # settles: it stays in verification, as a real one does for the minutes ECS takes to start
    # tasks. Scaling to 0 settles at once.
    monkeypatch.delenv("MOTO_ECS_SERVICE_RUNNING", raising=False)
    return seed_production(aws_env)


@pytest.fixture
def start(bot_factory, slack, tmp_path: Path):
    add_oncall_group(slack)
    config = tmp_path / "actions-config.yaml"
    # A verification time far longer than any test, so nothing here ends by timing out.
    config.write_text(CONFIG.format(group=ONCALL_GROUP, alice=ALICE, bob=BOB, ttl="10m", dry_run="false")
                      .replace("verify_timeout: 30s", "verify_timeout: 10m"))

    def start_bot(aws_endpoint_url: str, **overrides: Any) -> BotServer:
        return bot_factory(config_path=str(config), aws_endpoint_url=aws_endpoint_url, **overrides)

    return start_bot


def person(bot: BotServer, slack, http: httpx.Client, user_id: str) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id=user_id, http=http)


def verifying(db: Database, action_id: int) -> Any:
    """Wait until the action has changed its target and is checking that the change took."""
    return wait_for(lambda: (row := action_row(db, action_id)).state == "running"
                    and row.progress.startswith("Verifying") and row, what=f"action {action_id} to verify")


def settled(db: Database, action_id: int, timeout: float = 30.0) -> Any:
    return wait_for(lambda: (row := action_row(db, action_id)).state in SETTLED and row, timeout=timeout,
                    what=f"action {action_id} to end")


def approve_stop(approver: SlackUser, slack, db: Database, channel: str, stop_id: int) -> Any:
    """Approve the stop as a second person; return it once it has run, or fail with the refusal."""
    request = wait_for(lambda: (m := action_message(slack, channel, stop_id))
                       and button_values(m.blocks, ActionId.APPROVE) and m, what="the approval request")
    approver.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(stop_id),
                   block_id="action_buttons")
    wait_for(lambda: action_row(db, stop_id).state != "awaiting_approval" or approver.responses(),
             what="the stop to start")
    refusals = [r["text"] for r in approver.responses() if "is running now" in r.get("text", "")]
    assert not refusals, f"the approved stop was refused: {refusals}"
    return settled(db, stop_id)


def request_stop(requester: SlackUser, db: Database, channel: str) -> int:
    stop_id, _ = propose(requester, "stop multimodal-api", channel)
    confirm(requester, channel, stop_id)
    wait_for(lambda: action_row(db, stop_id).state == "awaiting_approval", what="the stop's approval request")
    return stop_id


def test_an_approved_emergency_stop_supersedes_a_scale_that_is_still_verifying(
        start, slack, http, db: Database, slow_production, aws_env) -> None:
    bot = start(aws_env)
    alice, bob = person(bot, slack, http, ALICE), person(bot, slack, http, BOB)
    channel = declare(alice, slack, db)
    scale_id, _ = propose(alice, "scale multimodal-api 10", channel)
    confirm(alice, channel, scale_id)
    verifying(db, scale_id)
    assert desired_count(aws_env, slow_production) == 10

    stop_id = request_stop(alice, db, channel)
    stop = approve_stop(bob, slack, db, channel, stop_id)
    assert stop.state == "succeeded", stop.result
    assert stop.decided_by == BOB  # still approved by a second person
    assert desired_count(aws_env, slow_production) == 0

    db.wait_outbox_drained()
    scale = action_row(db, scale_id)
    assert scale.state == "superseded" and scale.active_target is None
    assert scale.result["superseded_by"] == stop_id
    superseded = [row for row in audit_rows(db) if row.detail.get("action_id") == scale_id][-1]
    assert superseded.outcome == "superseded" and superseded.actor == BOB
    assert f"#{stop_id}" in superseded.detail["note"]
    stop_audit = [row for row in audit_rows(db) if row.detail.get("action_id") == stop_id]
    assert [row.outcome for row in stop_audit] == ["requested", "requested", "approved", "ok"]

    said = [all_text(m) for m in slack.messages(channel)]
    assert any("superseded" in text and f"#{stop_id}" in text and "Action #" not in text for text in said), said
    assert "Superseded" in all_text(action_message(slack, channel, scale_id))

    # Its verification loop is over: nothing more is written to it, however long we wait.
    time.sleep(3)  # three verification intervals
    assert action_row(db, scale_id) == scale
    assert [row for row in audit_rows(db) if row.detail.get("action_id") == scale_id][-1] == superseded


def test_a_stop_asked_for_before_the_scale_still_wins_when_approved_during_it(
        start, slack, http, db: Database, slow_production, aws_env) -> None:
    bot = start(aws_env)
    alice, bob = person(bot, slack, http, ALICE), person(bot, slack, http, BOB)
    channel = declare(alice, slack, db)
    stop_id = request_stop(alice, db, channel)  # planned from desired 4
    scale_id, _ = propose(alice, "scale multimodal-api 10", channel)
    confirm(alice, channel, scale_id)
    verifying(db, scale_id)

    assert approve_stop(bob, slack, db, channel, stop_id).state == "succeeded"
    assert action_row(db, scale_id).state == "superseded"
    assert desired_count(aws_env, slow_production) == 0


def test_a_restart_leaves_a_superseded_action_as_it_is(start, slack, http, db: Database, slow_production,
                                                       aws_env) -> None:
    bot = start(aws_env)
    alice, bob = person(bot, slack, http, ALICE), person(bot, slack, http, BOB)
    channel = declare(alice, slack, db)
    scale_id, _ = propose(alice, "scale multimodal-api 10", channel)
    confirm(alice, channel, scale_id)
    verifying(db, scale_id)
    stop_id = request_stop(alice, db, channel)
    assert approve_stop(bob, slack, db, channel, stop_id).state == "succeeded"
    db.wait_outbox_drained()
    scale, messages = action_row(db, scale_id), len(slack.messages(channel))
    bot.stop()

    start(aws_env, action_sweep_interval=0.1)
    time.sleep(1.5)
    db.wait_outbox_drained()
    assert action_row(db, scale_id) == scale
    assert len(slack.messages(channel)) == messages
    assert desired_count(aws_env, slow_production) == 0


def test_a_second_scale_while_a_scale_verifies_waits_its_turn(start, slack, http, db: Database, slow_production,
                                                              aws_env) -> None:
    bot = start(aws_env)
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    first, _ = propose(alice, "scale multimodal-api 10", channel)
    confirm(alice, channel, first)
    verifying(db, first)

    second, _ = propose(alice, "scale multimodal-api 12", channel)
    confirm(alice, channel, second)
    refusal = wait_for(lambda: [r for r in alice.responses() if "is running now" in r.get("text", "")],
                       what="the refusal")[-1]
    assert f"#{first}" in refusal["text"]
    assert action_row(db, second).state == "proposed"
    assert action_row(db, first).state == "running"
    assert desired_count(aws_env, slow_production) == 10
    assert [row.outcome for row in audit_rows(db) if row.detail.get("action_id") == second][-1] == "conflict"


# --- different targets ---------------------------------------------------------------------


@pytest.fixture
def lagging_aws(aws_env: str) -> Iterator[LaggingParameterStore]:
    store = LaggingParameterStore(aws_env).start()
    yield store
    store.catch_up()
    store.stop()


@pytest.fixture
def worker(trained_registry: Path, tmp_path: Path):
    server = start_worker(trained_registry, tmp_path)
    # v1 serves; put v2 in service so there is a deploy to roll back.
    httpx.post(f"{server.url}/v1/models/incident-text/versions/v2:load", timeout=60).raise_for_status()
    yield server
    server.stop()


def test_a_model_rollback_while_a_flag_change_verifies_runs_and_both_finish(
        start, slack, http, db: Database, slow_production, lagging_aws, worker, aws_env) -> None:
    bot = start(lagging_aws.url, worker_url=worker.url)
    alice = person(bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    flag_id, _ = propose(alice, "flag AUTO_APPLY_ENABLED false", channel)
    lagging_aws.lag(AUTO_APPLY)
    confirm(alice, channel, flag_id)
    verifying(db, flag_id)
    wait_for(lambda: lagging_aws.stale_reads >= 2, what="the flag's verification to read the old value")

    rollback_id, _ = propose(alice, "rollback model incident-text", channel)
    confirm(alice, channel, rollback_id)
    rollback = settled(db, rollback_id, timeout=60)
    assert rollback.state == "succeeded", rollback.result
    assert action_row(db, flag_id).state == "running"  # still verifying, and not in the way

    lagging_aws.catch_up()
    assert settled(db, flag_id).state == "succeeded"
    assert parameter(aws_env, AUTO_APPLY) == "false"
    served = httpx.get(f"{worker.url}/v1/models/incident-text", timeout=30).json()
    assert served["version"] == "v1"
