"""Provider failover and restore (seed 003) end to end: signed Slack requests to the real app, and
a real loopback orchestrator (sandbox/ai_providers.py) whose health URLs and admin API the bot
calls. The traffic is verified by reading the admin API's routing back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.ids import ActionId, BlockId
from sandbox.ai_providers import ProviderOrchestrator
from tests.inference.moto_server import moto_client
from tests.scenarios.actions_support import (
    ALICE,
    BOB,
    CAROL,
    action_message,
    all_text,
    audit_rows,
    button_values,
    confirm,
    declare,
    parameter,
    propose,
    wait_finished,
    wait_for,
)
from tests.scenarios.harness import Database, SlackUser

TOKEN_ENV = "TEST_ORCHESTRATOR_ADMIN_TOKEN"
TOKEN = "s3cret-admin-token"
SERVICE = "ai-orchestrator"

CONFIG = """
services:
  {service}:
    providers:
      primary: {{name: openai, health_url: "{base}/providers/openai/health"}}
      backups:
        - {{name: anthropic, health_url: "{base}/providers/anthropic/health"}}
        - {{name: bedrock, health_url: "{base}/providers/bedrock/health"}}
      switch:
        http:
          url: "{base}/admin/routing"
          method: PUT
          body: {{provider: "{{provider}}", share: "{{share}}", fallback: "{{fallback}}"}}
          token_env: {token_env}
          state_url: "{base}/admin/routing"
          weights: true
      restore_hold: 1s
rbac:
  roles:
    responder: {{users: [{alice}]}}
    approver: {{users: [{bob}]}}
  actions:
    failover: [responder]
actions:
  verify_timeout: 30s
  verify_every: 1s
"""


@pytest.fixture
def orchestrator() -> Iterator[ProviderOrchestrator]:
    with ProviderOrchestrator(["openai", "anthropic", "bedrock"], token=TOKEN) as server:
        yield server


@pytest.fixture
def failover_bot(bot_factory, orchestrator: ProviderOrchestrator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    path = tmp_path / "failover-config.yaml"
    path.write_text(CONFIG.format(service=SERVICE, base=orchestrator.base_url, token_env=TOKEN_ENV,
                                  alice=ALICE, bob=BOB))
    return bot_factory(config_path=str(path))


def person(bot, slack, http, user_id: str) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id=user_id, http=http)


def test_failover_moves_the_traffic_to_a_healthy_backup_verifies_it_and_audits(
        failover_bot, slack, http, db: Database, orchestrator: ProviderOrchestrator) -> None:
    alice, carol = person(failover_bot, slack, http, ALICE), person(failover_bot, slack, http, CAROL)
    channel = declare(alice, slack, db, title="OpenAI provider outage, requests failing")
    orchestrator.set_health("openai", 503)
    orchestrator.set_health("anthropic", 503)  # the first backup is down too: the plan skips it

    refused = carol.command("failover", channel=channel).json()
    assert "🔒" in refused["text"] and not button_values(refused.get("blocks"), ActionId.CONFIRM)

    action_id, answer = propose(alice, "failover", channel)
    text = all_text(answer)
    assert "openai → bedrock (100%)" in text
    assert "🔴 openai: down" in text and "🔴 anthropic: down" in text
    assert orchestrator.active == "openai" and not orchestrator.changes  # nothing before the confirmation

    assert confirm(carol, channel, action_id).status_code == 200  # not hers to confirm
    assert confirm(alice, channel, action_id).status_code == 200
    row = wait_finished(db, action_id)
    assert row.state == "succeeded", row.result
    assert orchestrator.weights == {"openai": 0, "anthropic": 0, "bedrock": 100}
    assert orchestrator.changes == [{"provider": "bedrock", "share": 100, "fallback": "openai"}]
    assert row.result["observed"]["active"] == "bedrock"
    db.wait_outbox_drained()
    message = all_text(action_message(slack, channel, action_id))
    assert "✅ Done" in message and "bedrock" in message

    outcomes = [(r.actor, r.action, r.outcome) for r in audit_rows(db)]
    assert (CAROL, "action.failover", "denied") in outcomes
    assert outcomes[-2:] == [(ALICE, "action.failover", "ok"), ("system", "action.failover", "ok")]
    assert audit_rows(db)[-1].detail["before"]["active"] == "openai"

    # Slack retrying the click, or a second click, acts no second time.
    confirm(alice, channel, action_id)
    clicks = [threading.Thread(target=confirm, args=(alice, channel, action_id)) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    assert len(orchestrator.changes) == 1
    assert [r.outcome for r in audit_rows(db) if r.actor == "system"] == ["ok"]


def test_failover_refuses_an_unknown_or_unhealthy_provider_and_changes_nothing(
        failover_bot, slack, http, db: Database, orchestrator: ProviderOrchestrator) -> None:
    alice = person(failover_bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    orchestrator.set_health("anthropic", 503)

    unknown = alice.command("failover ai-orchestrator <script>x</script>", channel=channel).json()
    assert "isn't a provider" in unknown["text"] and "<script>" not in unknown["text"]
    down = alice.command("failover anthropic", channel=channel).json()
    assert "anthropic is down" in down["text"] and not button_values(down.get("blocks"), ActionId.CONFIRM)
    primary = alice.command("failover openai", channel=channel).json()
    assert "primary" in primary["text"] and "failover restore" in primary["text"]
    restore = alice.command("failover restore", channel=channel).json()
    assert "already sends all its traffic to its primary" in restore["text"]
    assert not orchestrator.changes


def test_restore_goes_back_to_the_primary_in_canary_steps(
        failover_bot, slack, http, db: Database, orchestrator: ProviderOrchestrator) -> None:
    alice = person(failover_bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    orchestrator.route("anthropic")  # failed over earlier; openai is healthy again

    action_id, answer = propose(alice, "failover restore ai-orchestrator", channel)
    assert "anthropic → openai (10% → 50% → 100%)" in all_text(answer)
    confirm(alice, channel, action_id)
    row = wait_finished(db, action_id, timeout=60)
    assert row.state == "succeeded", row.result
    assert [c["share"] for c in orchestrator.changes] == [10, 50, 100]
    assert {c["fallback"] for c in orchestrator.changes} == {"anthropic"}
    assert orchestrator.weights["openai"] == 100
    assert [step["share"] for step in row.result["observed"]["steps"]] == [10, 50, 100]


def test_a_restore_step_whose_primary_fails_sends_the_traffic_back(
        failover_bot, slack, http, db: Database, orchestrator: ProviderOrchestrator) -> None:
    alice = person(failover_bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    orchestrator.route("anthropic")
    action_id, _ = propose(alice, "failover restore", channel)

    def fail_after_first_step() -> None:
        wait_for(lambda: orchestrator.changes, what="the first restore step")
        orchestrator.set_health("openai", 503)

    watcher = threading.Thread(target=fail_after_first_step)
    watcher.start()
    confirm(alice, channel, action_id)
    row = wait_finished(db, action_id, timeout=60)
    watcher.join()
    assert row.state == "failed", row.result
    assert "sent back to anthropic" in row.result["message"]
    assert orchestrator.changes[0]["share"] == 10
    assert orchestrator.changes[-1] == {"provider": "anthropic", "share": 100, "fallback": "openai"}
    assert orchestrator.weights["anthropic"] == 100


def test_a_wrong_admin_token_is_a_clear_failure_not_a_crash(
        failover_bot, slack, http, db: Database, orchestrator: ProviderOrchestrator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    alice = person(failover_bot, slack, http, ALICE)
    channel = declare(alice, slack, db)
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    answer = alice.command("failover bedrock", channel=channel).json()
    assert "401" in answer["text"] and "Nothing was changed" in answer["text"]
    assert not orchestrator.changes and json.dumps(answer).count("not-the-token") == 0


def test_diagnose_checks_the_providers_and_offers_the_failover(
        failover_bot, slack, http, db: Database, orchestrator: ProviderOrchestrator) -> None:
    alice = person(failover_bot, slack, http, ALICE)
    channel = declare(alice, slack, db, title="OpenAI provider outage")
    orchestrator.set_health("openai", 503)

    assert alice.command("diagnose", channel=channel).status_code == 200
    done = wait_for(lambda: [m for m in slack.messages(channel) if "done, overall" in all_text(m)],
                    what="diagnostics to finish", timeout=60)[-1]
    text = all_text(done)
    assert "providers: openai is down; anthropic is healthy" in text
    assert "🔴 openai: down (health URL answered 503" in text and "🟢 bedrock: healthy" in text
    accessories = [b["accessory"] for b in done.blocks if b.get("accessory", {}).get("type") == "button"]
    assert [a["value"] for a in accessories if a["action_id"] == ActionId.PROPOSE_FAILOVER.value] == ["failover"]
    assert not orchestrator.changes  # a check reads; it never switches

    alice.click(ActionId.PROPOSE_FAILOVER, channel=channel, message_ts=done.ts, value="failover",
                block_id="diagnostics")
    confirmation = wait_for(lambda: [v for v in slack.views() if "openai → anthropic" in json.dumps(v,
                                     ensure_ascii=False)], what="the failover's confirmation")[-1]
    assert alice.submit_view(confirmation, {}).status_code == 200
    action_id = json.loads(confirmation["private_metadata"])["action_id"]
    assert wait_finished(db, action_id).state == "succeeded"
    assert orchestrator.active == "anthropic"


def test_diagnose_skips_the_providers_check_for_a_service_without_providers(
        bot_factory, slack, http, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("services:\n  scoring-api:\n    models: [incident-text]\n")
    alice = person(bot_factory(config_path=str(path)), slack, http, ALICE)
    channel = declare(alice, slack, db)
    alice.command("diagnose", channel=channel)
    done = wait_for(lambda: [m for m in slack.messages(channel) if "done, overall" in all_text(m)],
                    what="diagnostics to finish", timeout=60)[-1]
    assert "providers" not in all_text(done) and "worker" in all_text(done)


def test_the_outage_runbooks_failover_step_proposes_the_failover_and_ticks_when_done(
        failover_bot, slack, http, db: Database, orchestrator: ProviderOrchestrator) -> None:
    alice = person(failover_bot, slack, http, ALICE)
    channel = declare(alice, slack, db, title="OpenAI provider outage")
    orchestrator.set_health("openai", 503)
    assert "Complete service outage" in alice.command("runbook service_outage", channel=channel).json()["text"]

    def checklist() -> Any:
        return next((m for m in slack.pins(channel) if "Runbook: Complete service outage" in all_text(m)), None)

    def step(message: Any, step_id: str) -> dict[str, Any]:
        return next(b for b in message.blocks if b.get("block_id") == f"{BlockId.RUNBOOK_STEP.value}-{step_id}")

    pinned = wait_for(checklist, what="the outage checklist")
    button = step(pinned, "provider-failover")["accessory"]
    assert button["action_id"] == ActionId.RUNBOOK_STEP and "Fail over" in button["text"]["text"]
    assert "Restore provider" in step(pinned, "restore-provider-traffic")["accessory"]["text"]["text"]
    alice.click(ActionId.RUNBOOK_STEP, channel=channel, message_ts=pinned.ts, value="provider-failover",
                block_id=f"{BlockId.RUNBOOK_STEP.value}-provider-failover")
    confirmation = wait_for(lambda: [v for v in slack.views() if "openai → anthropic" in json.dumps(v,
                                     ensure_ascii=False)], what="the failover's confirmation")[-1]
    alice.submit_view(confirmation, {})
    action_id = json.loads(confirmation["private_metadata"])["action_id"]
    assert wait_finished(db, action_id).state == "succeeded"
    assert orchestrator.active == "anthropic"
    wait_for(lambda: "✅" in step(checklist(), "provider-failover")["text"]["text"], what="the step's tick")


SSM_CONFIG = """
services:
  {service}:
    ecs: {{cluster: {cluster}, service: {ecs_service}, min: 2, max: 20}}
    providers:
      primary: {{name: openai, health_url: "{base}/providers/openai/health"}}
      backups: [{{name: anthropic, health_url: "{base}/providers/anthropic/health"}}]
      switch:
        ssm: {{parameter: {parameter}, redeploy: true}}
      restore_hold: 1s
rbac:
  roles:
    responder: {{users: [{alice}]}}
  actions:
    failover: [responder]
actions:
  verify_timeout: 30s
  verify_every: 1s
"""
ACTIVE_PROVIDER = "/orchestrator/prod/active_provider"


def test_an_ssm_switch_writes_the_parameter_redeploys_and_restores_in_one_step(
        bot_factory, slack, http, db: Database, orchestrator: ProviderOrchestrator, production, aws_env,
        tmp_path: Path) -> None:
    ssm, ecs = moto_client(aws_env, "ssm"), moto_client(aws_env, "ecs")
    ssm.put_parameter(Name=ACTIVE_PROVIDER, Value="openai", Type="String", Overwrite=True)
    path = tmp_path / "ssm-failover.yaml"
    path.write_text(SSM_CONFIG.format(service=SERVICE, cluster=production.cluster, ecs_service=production.service,
                                      base=orchestrator.base_url, parameter=ACTIVE_PROVIDER, alice=ALICE))
    alice = person(bot_factory(config_path=str(path), aws_endpoint_url=aws_env), slack, http, ALICE)
    channel = declare(alice, slack, db)

    def deployments() -> list[str]:
        service = ecs.describe_services(cluster=production.cluster, services=[production.service])["services"][0]
        return [d["id"] for d in service["deployments"]]

    before = deployments()
    orchestrator.set_health("openai", 503)
    action_id, answer = propose(alice, "failover anthropic", channel)
    assert "openai → anthropic (100%)" in all_text(answer)
    confirm(alice, channel, action_id)
    row = wait_finished(db, action_id)
    assert row.state == "succeeded", row.result
    assert parameter(aws_env, ACTIVE_PROVIDER) == "anthropic"
    assert deployments()[0] not in before  # the tasks were replaced, so they read the new provider

    orchestrator.set_health("openai", 200)
    action_id, answer = propose(alice, "failover restore", channel)
    assert "anthropic → openai (100%)" in all_text(answer) and "in one step" in all_text(answer)
    confirm(alice, channel, action_id)
    assert wait_finished(db, action_id).state == "succeeded"
    assert parameter(aws_env, ACTIVE_PROVIDER) == "openai"
    assert not orchestrator.changes  # the ssm switch never calls the admin API
