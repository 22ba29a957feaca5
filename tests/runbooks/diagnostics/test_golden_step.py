"""The Diagnose `golden` step as seed 002 reads a golden set: per-class precision and recall drops
over 15% are findings, and the macro-F1 drop suggests the severity. Against a real worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.integrations.worker import HttpWorkerClient
from runbooks.diagnostics.results import StepResult, Verdict
from runbooks.diagnostics.steps import Findings, Subject, Tools, golden_set, per_class_drops, suggested_severity
from tests.inference.test_worker import start_worker


def test_a_precision_or_recall_drop_over_15_percent_is_a_finding_worst_first() -> None:
    previous = {"per_class_precision": {"a": 0.80, "b": 0.90, "c": 0.50},
                "per_class_recall": {"a": 0.80, "b": 0.60, "c": 0.0}}
    current = {"per_class_precision": {"a": 0.70, "b": 0.60, "c": 0.50},  # a: -12.5%, b: -33%
               "per_class_recall": {"a": 0.64, "b": 0.60}}  # a: -20%; c had no recall to lose
    drops = per_class_drops(current, previous)
    assert [(d["class"], d["metric"]) for d in drops] == [("b", "precision"), ("a", "recall")]
    assert drops[0]["drop"] == pytest.approx(1 / 3, abs=1e-3) and drops[1]["previous"] == 0.80
    # A worker from before precision and recall were reported: nothing to compare, no finding.
    assert per_class_drops({"per_class_f1": {"a": 0.1}}, {"per_class_f1": {"a": 0.9}}) == []


@pytest.mark.parametrize(("drop", "severity"), [
    (0.05, None), (0.10, None), (0.11, "P2"), (0.20, "P2"), (0.21, "P1"), (0.60, "P1"),
])
def test_the_f1_drop_sets_the_suggested_severity_as_seed_002s_table_does(drop: float, severity: str | None) -> None:
    found = suggested_severity(drop)
    assert (found[0] if found else None) == severity


@pytest.fixture
def worse_serving(golden_registry: Path, tmp_path: Path):
    """v1 served, then the clearly worse v3 put in service after it."""
    server = start_worker(golden_registry, tmp_path)
    httpx.post(f"{server.url}/v1/models/incident-text/versions/v3:load", timeout=120).raise_for_status()
    yield server
    server.stop()


class _NoFiles:
    async def upload_file(self, channel: str, **_: object) -> str:
        raise AssertionError("the golden step uploads nothing")


def test_the_golden_step_reports_class_drops_and_suggests_the_severity(worse_serving) -> None:
    subject = Subject(number=1, title="accuracy drop", alert_titles=(), channel_id="C1", text_model="incident-text",
                      chart_model=None, fusion_model=None, metric=None, threshold=None, alarm_at=None,
                      now=datetime.now(UTC))

    async def go() -> StepResult:
        async with HttpWorkerClient(worse_serving.url, timeout=300) as client:
            tools = Tools(worker=client, metrics=None, files=_NoFiles(), publisher=None)
            return await golden_set(subject, Findings(), tools)

    result = asyncio.run(go())
    data = result.data["incident-text"]
    current, previous = data["current"], data["previous"]
    assert data["previous_version"] == "v1" and current["version"] == "v3" and previous["golden_version"] == "v3"
    # The worker's new fields reach the step, and the step judges them.
    assert set(current["per_class_precision"]) == set(current["per_class_recall"]) == set(current["per_class_f1"])
    assert current["confusion_matrix"] and data["class_drops"]
    assert all(d["drop"] > 0.15 for d in data["class_drops"])
    assert data["f1_drop"] > 0.20 and data["suggested_severity"] == "P1"
    assert result.verdict == Verdict.CRITICAL
    text = "\n".join(result.lines)
    assert "Per-class drops over 15%:" in text and ("recall" in text or "precision" in text)
    assert "Suggested severity: P1 (High: F1 drop over 20%, seed 002)" in text
    assert "(suggest P1)" in result.headline
