"""fusion: the runbook class and the likely mechanism, from an incident's text and a chart together.

The model stands on the two others: ``incident-text`` turns the text into class probabilities and
a MiniLM sentence embedding, and ``chart-vit`` turns the chart into pattern probabilities and its
pooled ViT embedding. A small two-headed network reads both and predicts the runbook class and the
mechanism (``inference.mechanisms``).

A fusion version pins the component versions it was trained on (its config's ``components``):
their embeddings are its inputs, so it is always served with exactly those, whatever versions of
``incident-text`` and ``chart-vit`` are serving on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from inference.inputs import Instance
from inference.mechanisms import MECHANISM_INFO, MECHANISMS
from inference.models.base import Prediction
from inference.models.text import TextClassifier
from inference.models.vit import ChartClassifier

WEIGHTS_FILE = "fusion.safetensors"
EMBEDDING_SUMMARY_DIMS = 16
INPUTS = ("text", "chart")


class FusionHead(torch.nn.Module):
    """One hidden layer over the chosen inputs' features, and a head each for class and mechanism.

    ``inputs`` picks which halves it reads; training builds text-only and chart-only heads of the
    same shape to measure what each input alone is worth.
    """

    def __init__(self, *, text_dims: int, chart_dims: int, classes: int, mechanisms: int, hidden: int,
                 inputs: Sequence[str] = INPUTS, dropout: float = 0.1) -> None:
        super().__init__()
        unknown = set(inputs) - set(INPUTS)
        if unknown or not inputs:
            raise ValueError(f"inputs must be a non-empty subset of {INPUTS}")
        self.inputs = tuple(name for name in INPUTS if name in inputs)
        width = (text_dims if "text" in self.inputs else 0) + (chart_dims if "chart" in self.inputs else 0)
        self.body = torch.nn.Sequential(torch.nn.LayerNorm(width), torch.nn.Linear(width, hidden), torch.nn.GELU(),
                                        torch.nn.Dropout(dropout))
        self.runbook = torch.nn.Linear(hidden, classes)
        self.mechanism = torch.nn.Linear(hidden, mechanisms)

    def forward(self, text: torch.Tensor, chart: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = [features for name, features in (("text", text), ("chart", chart)) if name in self.inputs]
        hidden = self.body(torch.cat(parts, dim=-1))
        return self.runbook(hidden), self.mechanism(hidden), hidden


def text_features(model: TextClassifier, texts: Sequence[str]) -> torch.Tensor:
    """incident-text's class probabilities and sentence embedding, side by side."""
    probabilities, embeddings = model.probabilities(texts)
    return torch.cat([probabilities, embeddings], dim=-1)


def chart_features(model: ChartClassifier, images: Sequence[Any]) -> torch.Tensor:
    """chart-vit's pattern probabilities and pooled embedding, side by side."""
    probabilities, embeddings = model.probabilities(images)
    return torch.cat([probabilities, embeddings], dim=-1)


def head_config(head: FusionHead, *, text_dims: int, chart_dims: int, hidden: int) -> dict[str, Any]:
    return {"text_dims": text_dims, "chart_dims": chart_dims, "hidden": hidden,
            "classes": head.runbook.out_features, "mechanisms": head.mechanism.out_features}


@dataclass
class FusionClassifier:
    name: str
    version: str
    labels: Sequence[str]
    text: TextClassifier
    chart: ChartClassifier
    head: FusionHead
    mechanisms: Sequence[str] = MECHANISMS
    kind: str = "fusion"

    @classmethod
    def from_folder(cls, *, name: str, version: str, labels: Sequence[str], config: Mapping[str, Any],
                    folder: Path, text: TextClassifier, chart: ChartClassifier) -> FusionClassifier:
        shape = config.get("head")
        if not isinstance(shape, Mapping):
            raise ValueError("the version's config has no 'head' section")
        mechanisms = tuple(config.get("mechanisms", ()))
        if mechanisms != MECHANISMS:
            raise ValueError(f"the version predicts mechanisms {list(mechanisms)}, "
                             f"this worker knows {list(MECHANISMS)}")
        if int(shape["classes"]) != len(labels):
            raise ValueError(f"the head has {shape['classes']} classes, the manifest lists {len(labels)}")
        head = FusionHead(text_dims=int(shape["text_dims"]), chart_dims=int(shape["chart_dims"]),
                          classes=int(shape["classes"]), mechanisms=int(shape["mechanisms"]),
                          hidden=int(shape["hidden"]))
        head.load_state_dict(load_file(str(folder / WEIGHTS_FILE)), strict=True)
        head.eval()
        return cls(name=name, version=version, labels=tuple(labels), text=text, chart=chart, head=head)

    @torch.inference_mode()
    def predict(self, instances: Sequence[Instance]) -> list[Prediction]:
        texts, images = [], []
        for instance in instances:
            if instance.text is None or instance.image is None:
                raise ValueError("fusion needs both text and an image")
            texts.append(instance.text)
            images.append(instance.image)
        text_probabilities, text_embeddings = self.text.probabilities(texts)
        chart_probabilities, chart_embeddings = self.chart.probabilities(images)
        runbook_logits, mechanism_logits, hidden = self.head(
            torch.cat([text_probabilities, text_embeddings], dim=-1),
            torch.cat([chart_probabilities, chart_embeddings], dim=-1),
        )
        runbook = torch.softmax(runbook_logits, dim=-1).tolist()
        mechanism = torch.softmax(mechanism_logits, dim=-1).tolist()
        predictions = []
        for row in range(len(instances)):
            best = _argmax(runbook[row])
            cause = _argmax(mechanism[row])
            chart_best = _argmax(chart_probabilities[row].tolist())
            text_best = _argmax(text_probabilities[row].tolist())
            details = {
                "mechanism": {
                    "label": self.mechanisms[cause],
                    "confidence": round(mechanism[row][cause], 6),
                    "scores": {m: round(p, 6) for m, p in zip(self.mechanisms, mechanism[row], strict=True)},
                    "first_action": MECHANISM_INFO[self.mechanisms[cause]].first_action,
                },
                # What each input said alone: shows a responder why the two together disagree, if they do.
                "inputs": {
                    "text": {"model_version": self.text.version, "label": self.text.labels[text_best],
                             "confidence": round(float(text_probabilities[row][text_best]), 6)},
                    "chart": {"model_version": self.chart.version, "label": self.chart.labels[chart_best],
                              "confidence": round(float(chart_probabilities[row][chart_best]), 6)},
                },
            }
            predictions.append(Prediction(
                label=self.labels[best], confidence=float(runbook[row][best]),
                scores={label: float(p) for label, p in zip(self.labels, runbook[row], strict=True)},
                embedding=tuple(round(float(x), 5) for x in hidden[row, :EMBEDDING_SUMMARY_DIMS]),
                details=details,
            ))
        return predictions


def _argmax(row: Sequence[float]) -> int:
    return max(range(len(row)), key=row.__getitem__)
