"""Golden sets: the labelled held-out examples published with a model version, and scoring on them.

A version's ``golden.jsonl`` holds one ``{"text": ..., "label": ...}`` object a line; it travels
with the weights, so any two versions can be compared on the same data years later. No torch
here: a model is anything with ``predict(instances)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from inference.inputs import Instance
from inference.models.base import Prediction, ServedModel

GOLDEN_FILE = "golden.jsonl"
BASELINE_FILE = "baseline.json"
EVALUATION_BATCH = 32


class GoldenSetError(ValueError):
    """A golden set file that cannot be read."""


def dump_text_golden(examples: Iterable[tuple[str, str]]) -> bytes:
    """``(text, label)`` pairs as golden.jsonl bytes."""
    return "".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in examples).encode()


def parse_golden(raw: bytes) -> list[tuple[Instance, str]]:
    rows = []
    for lineno, line in enumerate(raw.decode("utf-8", errors="strict").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise GoldenSetError(f"{GOLDEN_FILE} line {lineno} is not JSON") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("label"), str):
            raise GoldenSetError(f'{GOLDEN_FILE} line {lineno}: expected {{"text": ..., "label": ...}}')
        rows.append((Instance(text=row["text"]), row["label"]))
    if not rows:
        raise GoldenSetError(f"{GOLDEN_FILE} holds no examples")
    return rows


def predict_all(model: ServedModel, instances: Sequence[Instance]) -> list[Prediction]:
    predictions: list[Prediction] = []
    for start in range(0, len(instances), EVALUATION_BATCH):
        predictions.extend(model.predict(instances[start:start + EVALUATION_BATCH]))
    return predictions


def score(predictions: Sequence[Prediction], truth: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over ``labels`` (plus any golden label the model does not know), per-class F1."""
    classes = list(labels) + sorted(set(truth) - set(labels))
    predicted = [p.label for p in predictions]
    per_class: dict[str, float] = {}
    for label in classes:
        true_positive = sum(1 for p, t in zip(predicted, truth, strict=True) if p == t == label)
        predicted_count, actual_count = predicted.count(label), list(truth).count(label)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / actual_count if actual_count else 0.0
        per_class[label] = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    # Classes absent from the golden set and never predicted say nothing about the model.
    scored = {k: v for k, v in per_class.items() if k in truth or k in predicted}
    correct = sum(1 for p, t in zip(predicted, truth, strict=True) if p == t)
    return {
        "examples": len(truth),
        "accuracy": round(correct / len(truth), 4),
        "macro_f1": round(sum(scored.values()) / len(scored), 4),
        "per_class_f1": scored,
        "mean_confidence": round(sum(p.confidence for p in predictions) / len(predictions), 4),
    }


def evaluate(model: ServedModel, raw_golden: bytes) -> dict[str, Any]:
    """Blocking: run ``model`` over a golden set and score it."""
    rows = parse_golden(raw_golden)
    predictions = predict_all(model, [instance for instance, _ in rows])
    return score(predictions, [label for _, label in rows], model.labels)
