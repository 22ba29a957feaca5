"""Golden sets: the labelled held-out examples published with a model version, and scoring on them.

A version's ``golden.jsonl`` holds one JSON object a line: ``label`` and the model's input, which is
``text`` (incident-text), ``image_b64`` (chart-vit: a base64 PNG) or both (fusion). Every row of a
set has the same inputs. The set travels with the weights, so any two versions can be compared on
the same data years later. No torch here: a model is anything with ``predict(instances)``.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from inference import drift
from inference.errors import BadImage
from inference.inputs import Instance, decode_image
from inference.models.base import Prediction, ServedModel

GOLDEN_FILE = "golden.jsonl"
BASELINE_FILE = "baseline.json"
EVALUATION_BATCH = 32
# The inputs a model of each kind reads (the keys of its golden rows besides "label").
INPUT_KEYS = {"text": ("text",), "image": ("image_b64",), "fusion": ("text", "image_b64")}


class GoldenSetError(ValueError):
    """A golden set file that cannot be read."""


def dump_text_golden(examples: Iterable[tuple[str, str]]) -> bytes:
    """``(text, label)`` pairs as golden.jsonl bytes."""
    return dump_golden((Instance(text=text), label) for text, label in examples)


def dump_golden(rows: Iterable[tuple[Instance, str]]) -> bytes:
    """``(instance, label)`` rows as golden.jsonl bytes; an instance's image is stored as a base64 PNG."""
    lines = []
    for instance, label in rows:
        row: dict[str, str] = {}
        if instance.text is not None:
            row["text"] = instance.text
        if instance.image is not None:
            buffer = io.BytesIO()
            instance.image.save(buffer, format="PNG", compress_level=9)
            row["image_b64"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        lines.append(json.dumps({**row, "label": label}) + "\n")
    return "".join(lines).encode()


def parse_golden(raw: bytes) -> list[tuple[Instance, str]]:
    rows: list[tuple[Instance, str]] = []
    inputs: set[str] | None = None
    for lineno, line in enumerate(raw.decode("utf-8", errors="strict").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise GoldenSetError(f"{GOLDEN_FILE} line {lineno} is not JSON") from exc
        if not isinstance(row, dict) or not isinstance(row.get("label"), str) or not (
                set(row) - {"label"}) or not set(row) <= {"text", "image_b64", "label"}:
            raise GoldenSetError(f'{GOLDEN_FILE} line {lineno}: expected {{"text" and/or "image_b64", "label"}}')
        if inputs is None:
            inputs = set(row) - {"label"}
        elif set(row) - {"label"} != inputs:
            raise GoldenSetError(f"{GOLDEN_FILE} line {lineno} has other inputs than line 1: {sorted(set(row))}")
        if "text" in row and not isinstance(row["text"], str):
            raise GoldenSetError(f"{GOLDEN_FILE} line {lineno}: text must be a string")
        image = None
        if "image_b64" in row:
            try:
                image = decode_image(row["image_b64"], where=f"{GOLDEN_FILE} line {lineno} image_b64")
            except BadImage as exc:
                raise GoldenSetError(str(exc)) from exc
        rows.append((Instance(text=row.get("text"), image=image), row["label"]))
    if not rows:
        raise GoldenSetError(f"{GOLDEN_FILE} holds no examples")
    return rows


def check_inputs(model: ServedModel, rows: Sequence[tuple[Instance, str]]) -> None:
    """Refuse a golden set that lacks an input ``model`` reads (say, texts for chart-vit)."""
    needed = INPUT_KEYS.get(model.kind, ())
    instance = rows[0][0]
    have = {key for key, value in (("text", instance.text), ("image_b64", instance.image)) if value is not None}
    missing = [key for key in needed if key not in have]
    if missing:
        raise GoldenSetError(f"a {model.kind} model reads {', '.join(needed)}; "
                             f"the golden set has {', '.join(sorted(have))}")


def predict_all(model: ServedModel, instances: Sequence[Instance]) -> list[Prediction]:
    predictions: list[Prediction] = []
    for start in range(0, len(instances), EVALUATION_BATCH):
        predictions.extend(model.predict(instances[start:start + EVALUATION_BATCH]))
    return predictions


def score(predictions: Sequence[Prediction], truth: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over ``labels`` (plus any golden label the model does not know), and per
    class F1, precision, recall and support, with the confusion matrix (rows: the golden label,
    columns: the predicted one, both in ``confusion_labels`` order)."""
    classes = list(labels) + sorted(set(truth) - set(labels))
    predicted = [p.label for p in predictions]
    classes += sorted(set(predicted) - set(classes))
    pairs = list(zip(truth, predicted, strict=True))
    per_class: dict[str, float] = {}
    precisions: dict[str, float] = {}
    recalls: dict[str, float] = {}
    for label in classes:
        true_positive = sum(1 for t, p in pairs if p == t == label)
        predicted_count, actual_count = predicted.count(label), list(truth).count(label)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / actual_count if actual_count else 0.0
        precisions[label], recalls[label] = round(precision, 4), round(recall, 4)
        per_class[label] = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    # Classes absent from the golden set and never predicted say nothing about the model.
    seen = [label for label in classes if label in truth or label in predicted]
    scored = {k: per_class[k] for k in seen}
    index = {label: i for i, label in enumerate(seen)}
    matrix = [[0] * len(seen) for _ in seen]
    for t, p in pairs:
        matrix[index[t]][index[p]] += 1
    correct = sum(1 for t, p in pairs if p == t)
    return {
        "examples": len(truth),
        "accuracy": round(correct / len(truth), 4),
        "macro_f1": round(sum(scored.values()) / len(scored), 4),
        "per_class_f1": scored,
        "per_class_precision": {k: precisions[k] for k in seen},
        "per_class_recall": {k: recalls[k] for k in seen},
        "support": {k: list(truth).count(k) for k in seen},
        "confusion_labels": seen,
        "confusion_matrix": matrix,
        "mean_confidence": round(sum(p.confidence for p in predictions) / len(predictions), 4),
    }


def evaluate(model: ServedModel, raw_golden: bytes) -> dict[str, Any]:
    """Blocking: run ``model`` over a golden set and score it."""
    rows = parse_golden(raw_golden)
    check_inputs(model, rows)
    predictions = predict_all(model, [instance for instance, _ in rows])
    return score(predictions, [label for _, label in rows], model.labels)


def baseline(model: ServedModel, predictions: Sequence[Prediction]) -> drift.Baseline:
    """The drift baseline of ``model`` from its predictions (as serving logs them) on reference data."""
    return drift.baseline_from(labels=model.labels, predicted=[p.label for p in predictions],
                               confidences=[p.confidence for p in predictions],
                               embeddings=[p.embedding for p in predictions])
