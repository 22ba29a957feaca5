"""Drift of a served model: its recent predictions against the baseline published with its version.

Plain math on plain numbers; no torch. A baseline is what the trained model did on its held-out
(validation) split: the share of each predicted label, a histogram of confidences over fixed
bins, and the centroid of the embedding summaries that the prediction log keeps.

Three signals, each on the scale of a population stability index (PSI):

- ``label_psi``: PSI of the predicted-label shares, logged against baseline.
- ``confidence_psi``: PSI of the confidence histogram (``CONFIDENCE_BINS`` equal bins on [0, 1]).
- ``centroid_shift``: ``CENTROID_WEIGHT`` x the cosine distance between the logged embeddings'
  centroid and the baseline centroid (the raw distance is reported too, as ``centroid_distance``).

``drift_score = max(label_psi, confidence_psi, centroid_shift)``: any one signal moving is drift.
The verdict follows the seeds' threshold (a score above 0.1 is a warning):
``ok`` when score <= 0.1, ``warning`` when 0.1 < score <= 0.25, ``critical`` above 0.25 (the
usual PSI reading of "significant shift"). With fewer than ``MIN_PREDICTIONS`` logged
predictions the verdict is ``insufficient_data`` and no score is given.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

CONFIDENCE_BINS = 10
# An empty bin on either side would make PSI infinite; a share this small stands in for zero.
EPSILON = 1e-4
# Measured on incident-text: 200 held-out texts move the centroid of the logged 16-dim summaries
# by about 0.005 in cosine distance, 40 of them by about 0.05, a batch of one class or of
# off-topic text by 0.45-0.75; on that scale the distance can stand next to PSI as it is.
CENTROID_WEIGHT = 1.0
WARNING_ABOVE = 0.1
CRITICAL_ABOVE = 0.25
MIN_PREDICTIONS = 30


@dataclass(frozen=True)
class Baseline:
    labels: dict[str, float]
    confidence_histogram: list[float]
    mean_confidence: float
    centroid: list[float]
    examples: int

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "confidence_bins": CONFIDENCE_BINS}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Baseline:
        data = json.loads(text)
        if data.get("confidence_bins") != CONFIDENCE_BINS:
            raise ValueError(f"the baseline has {data.get('confidence_bins')} confidence bins, not {CONFIDENCE_BINS}")
        return cls(labels={str(k): float(v) for k, v in data["labels"].items()},
                   confidence_histogram=[float(x) for x in data["confidence_histogram"]],
                   mean_confidence=float(data["mean_confidence"]),
                   centroid=[float(x) for x in data["centroid"]], examples=int(data["examples"]))


def shares(labels: Sequence[str], known: Sequence[str]) -> dict[str, float]:
    """Each known label's share of ``labels``; labels outside ``known`` are ignored."""
    counts = Counter(labels)
    total = len(labels) or 1
    return {label: counts[label] / total for label in known}


def confidence_histogram(confidences: Sequence[float], bins: int = CONFIDENCE_BINS) -> list[float]:
    """Shares of ``confidences`` in ``bins`` equal bins on [0, 1] (1.0 falls in the last one)."""
    counts = [0] * bins
    for value in confidences:
        counts[min(max(int(value * bins), 0), bins - 1)] += 1
    total = len(confidences) or 1
    return [count / total for count in counts]


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """Population stability index of two distributions given as shares over the same bins."""
    if len(expected) != len(actual):
        raise ValueError("both distributions need the same bins")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, epsilon), max(a, epsilon)
        total += (a - e) * math.log(a / e)
    return total


def centroid(vectors: Sequence[Sequence[float]]) -> list[float]:
    vectors = [v for v in vectors if len(v)]
    if not vectors:
        return []
    dims = len(vectors[0])
    return [sum(v[i] for v in vectors) / len(vectors) for i in range(dims)]


def cosine_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """1 - cosine similarity; 0 when either vector is missing, empty or zero (nothing to compare)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        return 0.0
    return 1.0 - sum(x * y for x, y in zip(a, b, strict=True)) / norm


def baseline_from(*, labels: Sequence[str], predicted: Sequence[str], confidences: Sequence[float],
                  embeddings: Sequence[Sequence[float]]) -> Baseline:
    """The baseline of a model from its predictions on reference data."""
    return Baseline(
        labels={k: round(v, 6) for k, v in shares(predicted, labels).items()},
        confidence_histogram=[round(x, 6) for x in confidence_histogram(confidences)],
        mean_confidence=round(sum(confidences) / len(confidences), 6) if confidences else 0.0,
        centroid=[round(x, 6) for x in centroid(embeddings)],
        examples=len(predicted),
    )


def verdict(score: float) -> str:
    if score > CRITICAL_ABOVE:
        return "critical"
    if score > WARNING_ABOVE:
        return "warning"
    return "ok"


def compare(baseline: Baseline, *, predicted: Sequence[str], confidences: Sequence[float],
            embeddings: Sequence[Sequence[float]]) -> dict[str, Any]:
    """The drift report of logged predictions against ``baseline`` (see the module docstring)."""
    count = len(predicted)
    if count < MIN_PREDICTIONS:
        return {"verdict": "insufficient_data", "predictions": count, "min_predictions": MIN_PREDICTIONS,
                "drift_score": None}
    known = list(baseline.labels)
    label_psi = psi(list(baseline.labels.values()), list(shares(predicted, known).values()))
    confidence_psi = psi(baseline.confidence_histogram, confidence_histogram(confidences))
    distance = cosine_distance(centroid(embeddings), baseline.centroid)
    score = max(label_psi, confidence_psi, CENTROID_WEIGHT * distance)
    mean_confidence = sum(confidences) / count
    return {
        "verdict": verdict(score),
        "drift_score": round(score, 4),
        "predictions": count,
        "label_psi": round(label_psi, 4),
        "confidence_psi": round(confidence_psi, 4),
        "mean_confidence": round(mean_confidence, 4),
        "mean_confidence_delta": round(mean_confidence - baseline.mean_confidence, 4),
        "centroid_distance": round(distance, 4),
        "centroid_shift": round(CENTROID_WEIGHT * distance, 4),
        "label_shares": {k: round(v, 4) for k, v in shares(predicted, known).items()},
        "baseline_label_shares": dict(baseline.labels),
    }

