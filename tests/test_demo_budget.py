"""The demo's fast-burn scenario (seed 004): the scoring engine's counters show 25x the pace its
monthly budget allows, and the bot's own burn check (no alarm) opens a P1 incident whose
headline shows the budget the incident spent."""

from __future__ import annotations

from pathlib import Path

from tests.scenarios.harness import all_text
from tests.test_demo import incidents, scenario, wait_until


def test_the_fast_burn_scenario_opens_a_p1_incident_with_the_budget_on_its_headline(demo, tmp_path: Path) -> None:
    stack, _running = demo
    note = scenario(stack, "budget-fast-burn")
    assert note is not None and "burn check opens a P1 incident" in note
    found = wait_until(lambda: [i for i, _ in incidents(tmp_path / "demo") if i.service == "scoring-api"],
                       timeout=60)
    incident = found[0]
    assert incident.severity == "P1" and "fast burn" in incident.title and incident.declared_by == "error-budget"
    sandbox = stack.sandbox
    assert sandbox is not None
    channel = wait_until(lambda: incidents(tmp_path / "demo")[0][0].channel_id, timeout=30)
    assert isinstance(channel, str)
    headline = wait_until(lambda: next((m for m in sandbox.pins(channel) if "Error budget" in all_text(m)),
                                       None), timeout=60)
    assert "this incident spent" in all_text(headline)
