"""The runbook classes that the ``incident-text`` model predicts, and what each one means.

The order of ``RUNBOOK_CLASSES`` is the order of the model's output logits; change it only
together with a retrain.
"""

from __future__ import annotations

from typing import Final

RUNBOOK_CLASSES: Final[tuple[str, ...]] = (
    "high_latency",
    "high_error_rate",
    "model_drift",
    "model_regression",
    "deployment_failure",
    "service_outage",
    "security",
    "data_quality",
)

CLASS_DESCRIPTIONS: Final[dict[str, str]] = {
    "high_latency": "P95/P99 above SLO, slow responses, timeouts caused by slowness.",
    "high_error_rate": (
        "Elevated 5xx or errors, failed requests, corrupt-input rejections "
        "(DOC_001, IMG_001), rate-limit errors."
    ),
    "model_drift": (
        "Input or prediction distribution shift, drift-score alerts, confidence "
        "sliding over time."
    ),
    "model_regression": (
        "Accuracy, F1, precision or recall down after a model change; users reporting "
        "wrong predictions; quality gates failing."
    ),
    "deployment_failure": (
        "Failed or stuck rollouts, tasks failing health checks, artifacts failing to "
        "load, canary failing."
    ),
    "service_outage": (
        "Service down, no healthy targets, everything failing, upstream provider outage."
    ),
    "security": (
        "Unauthorized access, leaked credentials, PII exposure, suspicious access, "
        "adversarial or injection inputs."
    ),
    "data_quality": (
        "Feature store down or stale, null rates, pipeline or ETL failures, schema "
        "changes, stale normalization context."
    ),
}
