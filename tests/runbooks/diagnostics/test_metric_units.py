"""The chart's value-axis unit, named from what the metric is."""

from __future__ import annotations

import pytest

from runbooks.diagnostics.metric_units import unit_of


@pytest.mark.parametrize(("namespace", "name", "unit"), [
    ("AWS/ApplicationELB", "TargetResponseTime", "Seconds"),
    ("AWS/ECS", "CPUUtilization", "Percent"),
    ("Multimodal/Prod", "inference_latency_seconds", "Seconds"),
    ("Scoring/Prod", "p95_latency_ms", "Milliseconds"),
    ("AI/Performance", "ProviderErrors", "Count"),
    ("Multimodal/Prod", "classification_accuracy_7d", ""),  # a ratio: no unit, rather than a wrong one
    ("Other/Namespace", "TargetResponseTime", ""),  # a name alone is not AWS's metric
])
def test_the_unit_comes_from_the_metric(namespace: str, name: str, unit: str) -> None:
    assert unit_of(namespace, name) == unit
