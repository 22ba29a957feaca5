"""What the worker needs from a model, whatever its kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from inference.inputs import Instance


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    scores: dict[str, float]
    # A short summary of the input's embedding, kept in the prediction log for drift checks.
    embedding: tuple[float, ...] = field(default=(), repr=False)
    # Anything else the model answers (the fusion model's mechanism), added to the JSON as is.
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "confidence": round(self.confidence, 6),
                "scores": {k: round(v, 6) for k, v in self.scores.items()}, **self.details}


class ServedModel(Protocol):
    name: str
    version: str
    kind: str  # "text" | "image" | "fusion"
    labels: Sequence[str]

    def predict(self, instances: Sequence[Instance]) -> list[Prediction]: ...


def predictions_from_probabilities(
    probabilities: Sequence[Sequence[float]], labels: Sequence[str], embeddings: Sequence[Sequence[float]] | None = None
) -> list[Prediction]:
    results = []
    for row_index, row in enumerate(probabilities):
        best = max(range(len(row)), key=row.__getitem__)
        summary = tuple(round(float(x), 5) for x in embeddings[row_index]) if embeddings is not None else ()
        results.append(Prediction(label=labels[best], confidence=float(row[best]),
                                  scores={label: float(p) for label, p in zip(labels, row, strict=True)},
                                  embedding=summary))
    return results
