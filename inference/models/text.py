"""incident-text: a runbook class from an alert's or a person's words.

MiniLM-L6 embeds the text; a linear head (trained by this project) picks one of the runbook
classes. The head's weights and the label order are what a registry version holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from inference.inputs import Instance
from inference.models.base import Prediction, predictions_from_probabilities
from inference.models.encoder import SentenceEncoder

# The prediction log keeps this many leading embedding dimensions: enough for a centroid-shift
# drift check, small enough to keep thousands of predictions in memory.
EMBEDDING_SUMMARY_DIMS = 16
EMBEDDING_DIGITS = 6


class TextHead(torch.nn.Module):
    def __init__(self, dims: int, classes: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(dims, classes)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear(embeddings)


@dataclass
class TextClassifier:
    name: str
    version: str
    labels: Sequence[str]
    encoder: SentenceEncoder
    head: TextHead
    kind: str = "text"

    @torch.inference_mode()
    def probabilities(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = self.encoder.forward(self.encoder.tokenize(texts))
        return torch.softmax(self.head(embeddings), dim=-1), embeddings

    def predict(self, instances: Sequence[Instance]) -> list[Prediction]:
        texts = [instance.text or "" for instance in instances]
        probabilities, embeddings = self.probabilities(texts)
        return predictions_from_probabilities(
            probabilities.tolist(), self.labels, embeddings[:, :EMBEDDING_SUMMARY_DIMS].tolist()
        )

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Full sentence embeddings, unit length (the encoder normalises), for callers that compare texts."""
        embeddings = self.encoder.forward(self.encoder.tokenize(texts))
        return [[round(float(x), EMBEDDING_DIGITS) for x in row] for row in embeddings.tolist()]
