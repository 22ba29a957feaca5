"""Classification metrics for registry manifests: accuracy, macro-F1, per-class F1, confidence."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def classification_metrics(probabilities: torch.Tensor, targets: Sequence[int], labels: Sequence[str]) -> dict:
    truth = torch.tensor(list(targets))
    predicted = probabilities.argmax(dim=-1)
    per_class: dict[str, float] = {}
    for index, label in enumerate(labels):
        true_positive = int(((predicted == index) & (truth == index)).sum())
        predicted_count = int((predicted == index).sum())
        actual_count = int((truth == index).sum())
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / actual_count if actual_count else 0.0
        per_class[label] = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    confidence = probabilities.max(dim=-1).values
    return {
        "accuracy": round(float((predicted == truth).float().mean()), 4),
        "macro_f1": round(sum(per_class.values()) / len(per_class), 4),
        "mean_confidence": round(float(confidence.mean()), 4),
        "per_class_f1": per_class,
        "examples": len(truth),
    }
