"""The unit to print on a chart's value axis, from the metric's namespace and name.

GetMetricData returns values without their unit, so the chart names it from what is known:
AWS's own metrics by name, and the seeds' custom metrics by the suffix convention they follow
(``inference_latency_seconds``). Unknown metrics get no unit rather than a guess.
"""

from __future__ import annotations

# AWS metrics the seeds' alarms watch, with the unit AWS documents for each.
_KNOWN = {
    ("AWS/ApplicationELB", "TargetResponseTime"): "Seconds",
    ("AWS/ApplicationELB", "RequestCount"): "Count",
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): "Count",
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): "Count",
    ("AWS/ECS", "CPUUtilization"): "Percent",
    ("AWS/ECS", "MemoryUtilization"): "Percent",
    ("AWS/SageMaker", "ModelLatency"): "Microseconds",
    ("AWS/SageMaker", "Invocations"): "Count",
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): "Count",
}
# Name endings, tried in order (longest first where one ends another).
_SUFFIXES = (
    ("_milliseconds", "Milliseconds"), ("_ms", "Milliseconds"), ("_seconds", "Seconds"),
    ("_percent", "Percent"), ("_pct", "Percent"), ("_bytes", "Bytes"), ("_count", "Count"),
    ("_total", "Count"), ("errors", "Count"),
)


def unit_of(namespace: str, name: str) -> str:
    """``"Seconds"``, ``"Percent"``...; ``""`` when the metric does not say."""
    known = _KNOWN.get((namespace, name))
    if known is not None:
        return known
    lowered = name.lower()
    return next((unit for suffix, unit in _SUFFIXES if lowered.endswith(suffix)), "")
