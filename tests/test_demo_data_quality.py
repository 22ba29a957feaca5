"""The demo's data-quality scenario: its freshness alarm opens a scoring-api incident on the
data_quality runbook, and Data quality, read from the demo's own AWS stand-in with the demo's
config, names the stale feature."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.integrations.cloudwatch import Boto3CloudWatch
from bot.integrations.http_probe import HttpxProbe
from demo.config import demo_config
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import InvestigationKind, Scope, configured_kinds, investigate
from runbooks.investigations.data_quality import DataQualityInvestigation
from sandbox.aws_seed import DATA_QUALITY_SERVICE, NULL_HEAVY_FEATURE, STALE_FEATURE
from tests.test_demo import incidents, scenario, wait_until


async def data_quality(aws_url: str):
    service = demo_config().services[DATA_QUALITY_SERVICE]
    now = datetime.now(UTC)
    scope = Scope(incident_number=1, service_name=DATA_QUALITY_SERVICE, service=service,
                  start=now - timedelta(minutes=30), end=now)
    http = HttpxProbe()
    try:
        return await investigate(DataQualityInvestigation(Boto3CloudWatch(endpoint_url=aws_url), http), scope)
    finally:
        await http.aclose()


def test_the_data_quality_scenario_opens_an_incident_whose_data_quality_names_the_stale_feature(
        demo, tmp_path: Path) -> None:
    stack, running = demo
    note = scenario(stack, "data-quality")
    assert note is not None and note.startswith("Opened incident #1.") and "Investigate → Data quality" in note
    (incident, choice), = wait_until(lambda: [(i, r) for i, r in incidents(tmp_path / "demo") if r is not None])
    assert (incident.service, incident.source) == (DATA_QUALITY_SERVICE, "eventbridge")
    assert choice is not None and choice.runbook == "data_quality"
    assert InvestigationKind.DATA_QUALITY in configured_kinds(demo_config().services[DATA_QUALITY_SERVICE])

    finding = asyncio.run(data_quality(running.aws_url))
    assert finding.verdict == Verdict.WARNING
    assert finding.headline.startswith(f"data quality: feature {STALE_FEATURE} is 3h")
    assert finding.data["over_null_rate"] == [NULL_HEAVY_FEATURE]
