"""The demo's provider-outage scenario (seed 003), as a person in the sandbox does it: the alarm
opens an ai-orchestrator incident on the outage runbook, `/incident failover` moves the traffic
to a healthy backup on the demo's stand-in orchestrator, and once the primary is back,
`/incident failover restore` brings it back in canary steps."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.slack.ids import ActionId, BlockId
from demo.stack import DemoStack
from storage.models import ResponseAction
from tests.test_demo import incidents, scenario, wait_until

RESPONDER = "U0ALICE"


def run_and_confirm(stack: DemoStack, channel: str, text: str) -> int:
    """Type ``text`` in the channel, then press Confirm on the proposal the bot answers with."""
    sandbox = stack.sandbox
    assert sandbox is not None
    asyncio.run(sandbox.web.join(user=RESPONDER, channel=channel))
    answer = asyncio.run(sandbox.web.command(user=RESPONDER, channel=channel, text=text))
    blocks = answer["bot"]["body"].get("blocks") or []
    values = [e["value"] for b in blocks if b.get("block_id") == BlockId.ACTION_BUTTONS.value
              for e in b["elements"] if e["action_id"] == ActionId.CONFIRM.value]
    assert values, answer["bot"]["body"].get("text")
    proposal = next(e for e in sandbox.ephemerals(channel) if e.user == RESPONDER and e.blocks == blocks)
    clicked = asyncio.run(sandbox.web.act(user=RESPONDER, action_id=ActionId.CONFIRM.value,
                                          block_id=BlockId.ACTION_BUTTONS.value, channel=channel,
                                          message_ts=proposal.message_ts, value=values[0]))
    assert clicked["ok"], clicked
    return int(values[0])


def action_state(state: Path, action_id: int) -> ResponseAction | None:
    engine = create_engine(f"sqlite:///{state / 'incident-bot.db'}")
    try:
        with Session(engine) as session:
            row = session.get(ResponseAction, action_id)
            return row if row is not None and row.state not in ("proposed", "running") else None
    finally:
        engine.dispose()


def test_the_provider_outage_scenario_fails_over_and_restores(demo, tmp_path: Path) -> None:
    stack, _running = demo
    orchestrator = stack.providers
    assert orchestrator is not None and orchestrator.active == "openai"
    note = scenario(stack, "provider-outage")
    assert note is not None and note.startswith("Opened incident #1.") and "Fail over" in note
    (incident, choice), = wait_until(lambda: [(i, r) for i, r in incidents(tmp_path / "demo")
                                             if r is not None and i.channel_id])
    assert incident.service == "ai-orchestrator" and choice is not None and choice.runbook == "service_outage"
    channel = str(incident.channel_id)

    failover = run_and_confirm(stack, channel, "/incident failover")
    done = wait_until(lambda: action_state(tmp_path / "demo", failover), timeout=60)
    assert done.state == "succeeded", done.result
    assert orchestrator.active == "anthropic"

    orchestrator.set_health("openai", 200)  # the provider recovered (the scenario's timer, sooner)
    restore = run_and_confirm(stack, channel, "/incident failover restore")
    done = wait_until(lambda: action_state(tmp_path / "demo", restore), timeout=90)
    assert done.state == "succeeded", done.result
    assert [c["share"] for c in orchestrator.changes] == [100, 10, 50, 100]
    assert orchestrator.weights["openai"] == 100
