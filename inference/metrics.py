"""The worker's Prometheus metrics, by the seeds' names."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("inference_requests_total", "Prediction requests.", ["model"], registry=r)
        self.latency = Histogram(
            "inference_latency_seconds", "Time from request to prediction.", ["model"], registry=r,
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
        )
        self.errors = Counter("error_count", "Refused or failed requests, by code.", ["code"], registry=r)
        self.confidence = Histogram(
            "model_confidence_scores", "Confidence of the predicted label.", ["model"], registry=r,
            buckets=(0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0),
        )
        self.predictions = Counter(
            "prediction_distribution", "Predictions, by label.", ["model", "label"], registry=r,
        )
        self.drift = Gauge("drift_score", "The latest drift score computed for a model.", ["model"], registry=r)
        self.golden_scorings = Counter(
            "golden_scorings_total", "Versions scored on a golden set (a stored score answers without one).",
            ["model"], registry=r,
        )
        self.batch_size = Histogram(
            "inference_batch_size", "Requests per executed batch.", ["model"], registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
