"""Runbook checklists end to end: the real app, the local Slack server, moto seeded like the
seeds' production, and (for the model's choice) a real worker on a quickly trained registry.

A CloudWatch latency alarm gets the high-latency checklist by the runbook's own match rules;
its Scale step opens the Scale form prefilled from the step, and the action it leads to ticks
the step. A declared incident with no alert gets its runbook from the incident-text model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.core.text import escape_mrkdwn
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from runbooks.engine.loader import load_library
from sandbox.aws_seed import SeededProduction
from storage.models import IncidentRunbook, TimelineEvent
from tests.handlers.webhooks.sns_fixtures import (
    eventbridge_alarm_event,
    eventbridge_body,
)
from tests.inference.test_worker import start_worker
from tests.scenarios.actions_support import (
    ALICE,
    CONFIG,
    ONCALL_GROUP,
    add_oncall_group,
    all_text,
    confirm,
    declare,
    desired_count,
    propose,
    wait_finished,
    wait_for,
)
from tests.scenarios.harness import Database, SlackUser

TOKEN = "eventbridge-test-token"
LIBRARY = load_library()


@pytest.fixture
def checklist_bot(bot_factory, slack, production, aws_env, tmp_path: Path):
    add_oncall_group(slack)

    def start(*, min_confidence: float = 0.5, **overrides: Any):
        config = tmp_path / "config.yaml"
        config.write_text(CONFIG.format(group=ONCALL_GROUP, alice=ALICE, bob="U0BOB", ttl="10m", dry_run="false")
                          + f"runbooks:\n  min_confidence: {min_confidence}\n")
        return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, eventbridge_token=TOKEN, **overrides)

    return start


def checklist(slack, channel: str) -> Any:  # type: ignore[no-untyped-def]
    """The pinned checklist message, as Slack has it now."""
    return next((m for m in slack.pins(channel) if "Runbook" in all_text(m) or "runbook" in all_text(m)), None)


def step_block(message: Any, step_id: str) -> dict[str, Any]:
    return next(b for b in message.blocks if b.get("block_id") == f"{BlockId.RUNBOOK_STEP.value}-{step_id}")


def runbook_events(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "runbook")
                                 .order_by(TimelineEvent.id)).all())


def choice(db: Database) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(IncidentRunbook)).one_or_none()


def raise_alarm(bot, http: httpx.Client, **fields: Any) -> None:  # type: ignore[no-untyped-def]
    event = eventbridge_alarm_event(**fields)
    body = eventbridge_body(event)
    for _attempt in range(3):
        response = http.post(f"{bot.url}/webhooks/eventbridge", content=body,
                             headers={"X-Incident-Bot-Token": TOKEN, "Content-Type": "application/json"})
        if response.status_code != 503:
            break
        # A 503 is the bot's honest "not stored in time, send it again" (a loaded machine, a
        # fresh app): EventBridge retries, and the retry of a delivery whose commit finished
        # after the answer is then a duplicate, answered 200. Do what the sender does.
        assert response.headers.get("Retry-After"), response.text
        time.sleep(1)
    assert response.status_code == 200, response.text


def test_a_latency_alarm_gets_the_high_latency_checklist_and_its_scale_step_ticks_when_scaled(
        checklist_bot, slack, http: httpx.Client, db: Database, production: SeededProduction, aws_env: str) -> None:
    bot = checklist_bot()
    raise_alarm(bot, http, alarm_name="multimodal-api-p95-latency-high", dimensions={"ServiceName": "multimodal-api"})
    wait_for(lambda: bool(db.incidents() and db.incidents()[0].channel_id), what="the incident channel")
    channel = db.incidents()[0].channel_id
    pinned = wait_for(lambda: checklist(slack, channel), what="the pinned checklist")
    text = all_text(pinned)
    assert "Runbook: High latency" in text
    # the rule, not a guess; its glob's stars shown as typed, not as bold
    assert escape_mrkdwn("multimodal-api-p95-latency-high matches *p95-latency*") in text
    runbook = LIBRARY.runbooks["high_latency"]
    for _, step in runbook.steps():  # every step is on it, with its control
        block = step_block(pinned, step.id)
        assert step.title in block["text"]["text"]
        expected = "checkboxes" if step.action is None else "button"
        assert block["accessory"]["type"] == expected, step.id
    assert db.incidents()[0].runbook_class == "high_latency"

    # The Scale step: its button opens the Scale form prefilled from the step (count: 10).
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    scale = step_block(pinned, "scale-up")["accessory"]
    assert scale["action_id"] == ActionId.RUNBOOK_STEP and "Scale" in scale["text"]["text"]
    alice.click(ActionId.RUNBOOK_STEP, channel=channel, message_ts=pinned.ts, value="scale-up",
                block_id=f"{BlockId.RUNBOOK_STEP.value}-scale-up")
    form = wait_for(lambda: [v for v in slack.views() if v.get("callback_id") == CallbackId.SCALE_MODAL
                             and v.get("submit")], what="the filled Scale form")[-1]
    count_input = next(b for b in form["blocks"] if b.get("block_id") == BlockId.SCALE_COUNT)["element"]
    assert count_input["initial_value"] == "10"
    assert "Prefilled from the runbook step" in json.dumps(form, ensure_ascii=False)
    assert json.loads(form["private_metadata"])["runbook_step"]["step"] == "scale-up"

    # Submitting it goes through the guarded pipeline: a confirmation, then the change on ECS.
    confirmation = alice.submit_view(form, {BlockId.SCALE_COUNT.value: {InputId.COUNT.value: {"value": "10"}}})
    confirm_view = confirmation.json()["view"]
    assert "4 → 10" in json.dumps(confirm_view, ensure_ascii=False)
    waiting = wait_for(lambda: "is under way" in step_block(checklist(slack, channel), "scale-up")["text"]["text"],
                       what="the step waiting on its action")
    assert waiting
    alice.submit_view(confirm_view, {})
    action_id = json.loads(confirm_view["private_metadata"])["action_id"]
    assert wait_finished(db, action_id).state == "succeeded"
    assert desired_count(aws_env, production) == 10

    # The finished action ticks the step: on the checklist, and on the timeline with who and how.
    wait_for(lambda: "✅" in step_block(checklist(slack, channel), "scale-up")["text"]["text"], what="the tick")
    ticked = step_block(checklist(slack, channel), "scale-up")["text"]["text"]
    assert f"Done by <@{ALICE}>" in ticked
    done = [e for e in runbook_events(db) if e.data.get("step") == "scale-up"]
    assert len(done) == 1 and done[0].actor == ALICE and done[0].data["done"] is True
    assert done[0].data["via"] == f"action #{action_id}"
    assert "1/19 steps done" in all_text(checklist(slack, channel))
    assert len([m for m in slack.pins(channel) if "Runbook" in all_text(m)]) == 1, "edited in place"


def test_manual_steps_tick_and_untick_from_their_checkbox_and_the_runbook_can_be_switched(
        checklist_bot, slack, http: httpx.Client, db: Database) -> None:
    bot = checklist_bot()
    raise_alarm(bot, http, alarm_name="multimodal-api-p95-latency-high", dimensions={"ServiceName": "multimodal-api"})
    wait_for(lambda: bool(db.incidents() and db.incidents()[0].channel_id), what="the incident channel")
    channel = db.incidents()[0].channel_id
    pinned = wait_for(lambda: checklist(slack, channel), what="the pinned checklist")
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    block_id = f"{BlockId.RUNBOOK_STEP.value}-check-recent-deploys"

    assert alice.tick(ActionId.RUNBOOK_STEP_CHECK, channel=channel, message_ts=pinned.ts, block_id=block_id,
                      value="check-recent-deploys").status_code == 200
    wait_for(lambda: "initial_options" in step_block(checklist(slack, channel), "check-recent-deploys")["accessory"],
             what="the ticked checkbox")
    alice.tick(ActionId.RUNBOOK_STEP_CHECK, channel=channel, message_ts=pinned.ts, block_id=block_id,
               value="check-recent-deploys", checked=False)
    wait_for(lambda: "initial_options" not in step_block(checklist(slack, channel),
                                                         "check-recent-deploys")["accessory"], what="the untick")
    changes = [(e.actor, e.data["done"]) for e in runbook_events(db) if e.data.get("step") == "check-recent-deploys"]
    assert changes == [(ALICE, True), (ALICE, False)]

    # An action that does a step ticks it even when it was not started from the checklist.
    action_id, _ = propose(alice, "scale multimodal-api 10", channel)
    confirm(alice, channel, action_id)
    assert wait_finished(db, action_id).state == "succeeded"
    wait_for(lambda: "✅" in step_block(checklist(slack, channel), "scale-up")["text"]["text"], what="the tick")
    assert [e.data["via"] for e in runbook_events(db) if e.data.get("step") == "scale-up"] == [f"action #{action_id}"]

    # Switching is explicit, recorded, and the same pinned message shows the new runbook.
    answer = alice.command("runbook model_regression", channel=channel).json()
    title = LIBRARY.runbooks["model_regression"].title
    assert title in answer["text"]
    wait_for(lambda: f"Runbook: {title}" in all_text(checklist(slack, channel)), what="the new checklist")
    assert choice(db).chosen_by == "person" and db.incidents()[0].runbook_class == "model_regression"
    switched = runbook_events(db)[-1]
    assert switched.actor == ALICE and switched.data == {"runbook": "model_regression", "previous": "high_latency"}
    assert len([m for m in slack.pins(channel) if "Runbook" in all_text(m)]) == 1
    unknown = alice.command("runbook no_such_runbook", channel=channel).json()
    assert "There is no runbook" in unknown["text"] and "high_latency" in unknown["text"]


@pytest.fixture(scope="module")
def text_worker(trained_registry: Path, tmp_path_factory: pytest.TempPathFactory):
    # One worker for the module: it only answers predictions here, and starting one takes seconds.
    server = start_worker(trained_registry, tmp_path_factory.mktemp("text-worker"))
    yield server
    server.stop()


TEXT_ONLY_TITLE = "P95 latency above the SLO on the inference API, requests time out"
VAGUE_TITLE = "Customers say something looks off since this morning"


def worker_reading(worker, http: httpx.Client,  # type: ignore[no-untyped-def]
                   title: str = TEXT_ONLY_TITLE) -> dict[str, Any]:
    response = http.post(f"{worker.url}/v1/models/incident-text:predict", json={"instances": [{"text": title}]})
    return response.json()["predictions"][0]


def test_a_declared_incident_gets_its_runbook_from_the_text_model_with_its_confidence(
        checklist_bot, slack, http: httpx.Client, db: Database, text_worker) -> None:
    bot = checklist_bot(worker_url=text_worker.url, min_confidence=0.0)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title=TEXT_ONLY_TITLE)
    reading = worker_reading(text_worker, http)
    assert reading["label"] == "high_latency"  # the quick model reads this title right
    pinned = wait_for(lambda: checklist(slack, channel), what="the checklist")
    wait_for(lambda: choice(db) is not None, what="the choice")
    chosen = choice(db)
    assert (chosen.runbook, chosen.chosen_by) == ("high_latency", "model")
    assert chosen.confidence == pytest.approx(reading["confidence"], abs=1e-4)
    assert "Runbook: High latency" in all_text(pinned)
    assert f"({reading['confidence']:.0%} sure)" in all_text(pinned)
    event = runbook_events(db)[0]
    assert "incident-text model" in event.text and event.data["runbook"] == "high_latency"


def test_an_unsure_model_suggests_and_a_person_picks(checklist_bot, slack, http: httpx.Client, db: Database,
                                                     text_worker) -> None:
    reading = worker_reading(text_worker, http, VAGUE_TITLE)
    assert reading["confidence"] < 1.0, "the vague title must leave the model short of certain"
    bot = checklist_bot(worker_url=text_worker.url, min_confidence=1.0)
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title=VAGUE_TITLE)
    pinned = wait_for(lambda: checklist(slack, channel), what="the picker")
    guess = reading["label"]  # every text class has the runbook of its name
    assert "No runbook chosen yet" in all_text(pinned)
    assert f"*{guess}* ({reading['confidence']:.0%} sure)" in all_text(pinned)
    picker = next(b for b in pinned.blocks if b.get("block_id") == BlockId.RUNBOOK_PICK)["elements"][0]
    assert picker["initial_option"]["value"] == guess
    assert choice(db).runbook is None and choice(db).suggestion["runbook"] == guess
    assert db.incidents()[0].runbook_class is None

    picked = "high_error_rate" if guess != "high_error_rate" else "high_latency"
    alice.choose(ActionId.RUNBOOK_PICK, channel=channel, message_ts=pinned.ts, block_id=BlockId.RUNBOOK_PICK,
                 value=picked)
    title = LIBRARY.runbooks[picked].title
    wait_for(lambda: f"Runbook: {title}" in all_text(checklist(slack, channel)), what="the checklist")
    assert choice(db).chosen_by == "person" and choice(db).actor == ALICE
    assert db.incidents()[0].runbook_class == picked


def test_with_the_worker_down_the_checklist_asks_a_person(checklist_bot, slack, http: httpx.Client,
                                                           db: Database) -> None:
    bot = checklist_bot(worker_url="http://127.0.0.1:9")  # nothing listens there
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db, title=TEXT_ONLY_TITLE)
    pinned = wait_for(lambda: checklist(slack, channel), what="the picker")
    assert "No runbook chosen yet" in all_text(pinned) and "could not be asked" in all_text(pinned)
    assert choice(db).chosen_by == "none"


@pytest.fixture
def checklist_once(checklist_bot, slack, http: httpx.Client, db: Database):
    """One bot and one incident with its checklist, for every generated example."""
    bot = checklist_bot()
    raise_alarm(bot, http, alarm_name="multimodal-api-p95-latency-high", dimensions={"ServiceName": "multimodal-api"})
    wait_for(lambda: bool(db.incidents() and db.incidents()[0].channel_id), what="the incident channel")
    channel = db.incidents()[0].channel_id
    pinned = wait_for(lambda: checklist(slack, channel), what="the pinned checklist")
    return SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http), channel, pinned


STEP_IDS = {step.id for _, step in LIBRARY.runbooks["high_latency"].steps()}
junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
odd_json = st.one_of(st.none(), st.integers(), junk, st.lists(junk, max_size=2),
                     st.dictionaries(junk, junk, max_size=2))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from([ActionId.RUNBOOK_STEP, ActionId.RUNBOOK_STEP_CHECK, ActionId.RUNBOOK_PICK]),
       value=junk.filter(lambda v: v not in STEP_IDS and v not in LIBRARY.runbooks), block_id=junk, extra=odd_json)
def test_any_checklist_control_payload_is_answered_and_changes_nothing(checklist_once, db: Database, action: ActionId,
                                                                       value: str, block_id: str, extra: Any) -> None:
    alice, channel, pinned = checklist_once
    before = (choice(db).runbook, choice(db).version, len(runbook_events(db)))
    element = {"type": "button", "action_id": action.value, "block_id": block_id, "value": value,
               "selected_options": extra, "selected_option": extra}
    response = alice.client.interact(element, channel=channel, message_ts=pinned.ts)
    assert response.status_code == 200
    answers = wait_for(lambda: alice.responses(), what="the answer to the person")
    assert "⚠️" in answers[-1]["text"] and answers[-1]["response_type"] == "ephemeral"
    assert (choice(db).runbook, choice(db).version, len(runbook_events(db))) == before


def test_steps_show_their_filled_commands_and_a_rollback_step_preselects_its_target(
        checklist_bot, slack, http: httpx.Client, db: Database) -> None:
    bot = checklist_bot()
    raise_alarm(bot, http, alarm_name="multimodal-api-p95-latency-high", dimensions={"ServiceName": "multimodal-api"})
    wait_for(lambda: bool(db.incidents() and db.incidents()[0].channel_id), what="the incident channel")
    channel = db.incidents()[0].channel_id
    pinned = wait_for(lambda: checklist(slack, channel), what="the pinned checklist")
    # Triage is the current phase: its steps show their commands, filled in from the service's config.
    deploys = step_block(pinned, "check-recent-deploys")["text"]["text"]
    assert ("```aws ecs describe-services --cluster multimodal-prod --services multimodal-api "
            "--query 'services[0].deployments'") in deploys
    assert "{" not in all_text(pinned).replace("{\"", "")  # no placeholder left unfilled
    assert "```" not in step_block(pinned, "restore-batch-size")["text"]["text"]  # resolution comes later

    # The step names /multimodal/prod/max_batch_size; its button opens Roll back with that chosen.
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    alice.click(ActionId.RUNBOOK_STEP, channel=channel, message_ts=pinned.ts, value="restore-batch-size",
                block_id=f"{BlockId.RUNBOOK_STEP.value}-restore-batch-size")
    form = wait_for(lambda: [v for v in slack.views() if v.get("callback_id") == CallbackId.ROLLBACK_MODAL
                             and v.get("submit")], what="the filled Roll back form")[-1]
    target = next(b for b in form["blocks"] if b.get("block_id") == BlockId.ROLLBACK_TARGET)["element"]
    assert target["initial_option"]["value"] == "config:max_batch_size"
    assert "32 → 16" in target["initial_option"]["text"]["text"]
    assert json.loads(form["private_metadata"])["runbook_step"]["step"] == "restore-batch-size"
