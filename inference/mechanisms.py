"""What is probably behind an incident, read from its runbook class and its chart together.

The ``fusion`` model predicts one of ``MECHANISMS`` next to the runbook class. A mechanism is the
answer to "what kind of failure is this?", and it is what picks the first action: the same latency
alert means a rollback when the chart steps up right after a deploy, and more capacity when it
climbs with traffic.

``mechanism_for(runbook_class, chart_pattern)`` is the table the labelled pairs are built from
(``inference.datasets.paired``). It is the on-call reading of a chart, written down once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from inference.charts.patterns import CHART_PATTERNS
from runbooks.classes import RUNBOOK_CLASSES


@dataclass(frozen=True)
class Mechanism:
    name: str
    meaning: str
    first_action: str


_MECHANISM_LIST: Final = (
    Mechanism("bad_change", "a change shipped and the metric moved with it, at once", "roll back the change"),
    Mechanism("capacity", "demand is outgrowing capacity: the metric degrades steadily", "scale out"),
    Mechanism("transient", "a short burst that recovered by itself", "watch; no change needed yet"),
    Mechanism("stopped", "something stopped: the metric fell to zero or stopped reporting",
              "restart or fail over the stopped component"),
    Mechanism("gradual_shift", "inputs or the world drifted slowly away from what the model knows",
              "retrain or recalibrate; check the data"),
    Mechanism("flapping", "the system swings back and forth: autoscaling, retries or health checks fighting",
              "pin capacity and damp the retries or health checks"),
    Mechanism("attack", "hostile or abusive traffic", "block the source and rotate exposed credentials"),
    Mechanism("unclear", "the chart shows nothing abnormal: go by the words", "investigate from the alert's text"),
)
MECHANISMS: Final[tuple[str, ...]] = tuple(m.name for m in _MECHANISM_LIST)
MECHANISM_INFO: Final[dict[str, Mechanism]] = {m.name: m for m in _MECHANISM_LIST}

# Runbook classes about the model's quality, where a slow change is drift rather than load.
_QUALITY_CLASSES: Final = frozenset({"model_drift", "model_regression", "data_quality"})


def mechanism_for(runbook_class: str, pattern: str) -> str:
    """The mechanism an on-call engineer reads from a runbook class and a chart pattern."""
    if runbook_class not in RUNBOOK_CLASSES:
        raise ValueError(f"unknown runbook class {runbook_class!r}")
    if pattern not in CHART_PATTERNS:
        raise ValueError(f"unknown chart pattern {pattern!r}")
    if pattern == "normal":
        return "unclear"
    if pattern == "flatline":
        return "stopped"
    if pattern == "oscillation":
        return "flapping"
    if runbook_class == "security":
        # Abuse shows as more traffic; a security alert whose metric fell is not read from the chart.
        return "attack" if pattern in {"spike", "step_up", "trend_up"} else "unclear"
    if pattern == "spike":
        return "transient"
    if pattern in {"step_up", "step_down"}:
        return "bad_change"
    # trend_up / trend_down
    return "gradual_shift" if runbook_class in _QUALITY_CLASSES else "capacity"
