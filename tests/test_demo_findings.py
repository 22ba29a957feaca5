"""The demo's scenarios surface what the seeds look for, clicked as a person does in the sandbox:
the deployment scenario's Tasks names why tasks stopped, the outage's Logs counts the error codes,
and the data-quality scenario's Data quality names the stale feature.

The whole demo stack runs (the bot, the sandbox Slack, the local AWS seeded at start), less the
model worker; each finding is read back from the incident channel the bot posted it in.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.slack.ids import ActionId, BlockId
from demo.stack import DemoStack
from sandbox.aws_seed import STALE_FEATURE, STOP_REASONS
from sandbox.slack_api import LocalSlackServer
from tests.scenarios.harness import all_text
from tests.test_demo import incidents, scenario, wait_until

RESPONDER = "U0ALICE"


def investigate(stack: DemoStack, channel: str, kind: str, words: str) -> str:
    """Choose ``kind`` in the channel's headline Investigate menu; the finding's text once it names ``words``."""
    sandbox = stack.sandbox
    assert sandbox is not None
    headline = wait_until(lambda: next((m for m in sandbox.pins(channel)
                                        if any(b.get("block_id") == BlockId.HEADLINE_ACTIONS.value
                                               for b in m.blocks or [])), None))
    answer = asyncio.run(sandbox.web.act(user=RESPONDER, action_id=ActionId.INVESTIGATE.value,
                                         block_id=BlockId.HEADLINE_ACTIONS.value, channel=channel,
                                         message_ts=headline.ts, value=kind))
    assert answer.get("ok", True), answer
    return wait_until(lambda: _finding(sandbox, channel, words), timeout=60)


def _finding(sandbox: LocalSlackServer, channel: str, words: str) -> str | None:
    for message in sandbox.messages(channel):
        text = all_text(message)
        if "Investigation for incident" in text and words in text:
            return text
    return None


def channel_of(state: Path, service: str, number: int) -> str:
    incident = wait_until(lambda: next((i for i, _ in incidents(state)
                                        if i.number == number and i.service == service and i.channel_id), None))
    return str(incident.channel_id)


def test_each_scenario_surfaces_its_finding_from_the_headlines_investigate_menu(demo, tmp_path: Path) -> None:
    stack, _running = demo
    state = tmp_path / "demo"

    # Seed 000's deployment failure: the new tasks die, and Tasks says why.
    assert scenario(stack, "latency-after-deploy") == "Opened incident #1. Its channel is in the list."
    tasks = investigate(stack, channel_of(state, "multimodal-api", 1), "tasks", "tasks:")
    assert STOP_REASONS[0] in tasks and "failed of" in tasks

    # The scoring API's outage: Logs counts its errors by the seeds' error codes.
    assert scenario(stack, "pagerduty-outage") == "Opened incident #2. Its channel is in the list."
    logs = investigate(stack, channel_of(state, "scoring-api", 2), "logs", "ERROR lines")
    assert "By error code" in logs and "SYS_001" in logs and "RATE_001" in logs

    # A feature that stopped materializing: Data quality names it.
    note = scenario(stack, "data-quality")
    # Within the demo's two-minute group window it joins the outage's incident, on the same service.
    assert note is not None
    assert note.startswith(("Opened incident #3", "The alert joined incident #2")), note
    number = 3 if note.startswith("Opened") else 2
    quality = investigate(stack, channel_of(state, "scoring-api", number), "data_quality", "data quality:")
    assert f"feature {STALE_FEATURE} is 3h" in quality
