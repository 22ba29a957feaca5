"""The demo's leaked-key scenario (seeds 002, 003), as people in the sandbox do it: the GuardDuty
alarm opens a confidential incident (a private channel for the security group, a neutral line in
#incidents), Bob preserves the evidence, asks to deactivate the key, and Vera, paged in as the
compliance officer and an approver, approves it; the key then lists as Inactive in IAM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import boto3

from bot.slack.ids import ActionId, BlockId
from sandbox.aws_seed import SECURITY_KEY_USER
from tests.test_demo import incidents, scenario, wait_until
from tests.test_demo_failover import action_state

RESPONDER, APPROVER = "U0BOB", "U0VPENG01"  # the security group's member; the compliance stand-in


def _buttons(blocks: list[dict], action_id: ActionId) -> list[str]:
    return [e.get("value", "") for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])
            if e.get("action_id") == action_id.value]


def test_the_leaked_key_scenario_is_private_keeps_evidence_and_deactivates_the_key(demo, tmp_path: Path) -> None:
    stack, running = demo
    sandbox = stack.sandbox
    assert sandbox is not None
    note = scenario(stack, "leaked-key")
    assert note is not None and note.startswith("Opened incident #1.") and "deactivate-key" in note
    key_id = note.split(f"deactivate-key {SECURITY_KEY_USER} ")[1].split("`")[0]
    (incident, _choice), = wait_until(lambda: [(i, r) for i, r in incidents(tmp_path / "demo")
                                               if r is not None and i.channel_id])
    assert incident.runbook_class == "security"
    channel = str(incident.channel_id)
    place = sandbox.workspace.channels[channel]
    assert place.is_private
    wait_until(lambda: APPROVER in sandbox.members(channel))
    announced = " ".join(str(m.text) for m in sandbox.messages("incidents"))
    assert "unauthorized" not in announced and SECURITY_KEY_USER not in announced

    evidence = asyncio.run(sandbox.web.command(user=RESPONDER, channel=channel, text="/incident evidence"))
    assert "Evidence preserved" in str(evidence["bot"]["body"].get("text")), evidence

    answer = asyncio.run(sandbox.web.command(user=RESPONDER, channel=channel,
                                             text=f"/incident deactivate-key {SECURITY_KEY_USER} {key_id}"))
    blocks = answer["bot"]["body"].get("blocks") or []
    [action_id] = _buttons(blocks, ActionId.CONFIRM)
    proposal = next(e for e in sandbox.ephemerals(channel) if e.user == RESPONDER and e.blocks == blocks)
    asyncio.run(sandbox.web.act(user=RESPONDER, action_id=ActionId.CONFIRM.value,
                                block_id=BlockId.ACTION_BUTTONS.value, channel=channel,
                                message_ts=proposal.message_ts, value=action_id))
    request = wait_until(lambda: next((m for m in sandbox.messages(channel)
                                       if action_id in _buttons(m.blocks or [], ActionId.APPROVE)), None))
    asyncio.run(sandbox.web.act(user=APPROVER, action_id=ActionId.APPROVE.value,
                                block_id=BlockId.ACTION_BUTTONS.value, channel=channel,
                                message_ts=request.ts, value=action_id))
    done = wait_until(lambda: (row := action_state(tmp_path / "demo", int(action_id))) is not None
                      and row.state != "awaiting_approval" and row, timeout=60)
    assert done.state == "succeeded", done.result
    iam = boto3.client("iam", endpoint_url=running.aws_url, region_name="us-east-1")
    [key] = iam.list_access_keys(UserName=SECURITY_KEY_USER)["AccessKeyMetadata"]
    assert key["AccessKeyId"] == key_id and key["Status"] == "Inactive"
