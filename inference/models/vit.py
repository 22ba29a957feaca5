"""chart-vit: the pattern of a dashboard chart's main series, read by a small Vision Transformer.

The model is transformers' ``ViTForImageClassification``, randomly initialised and trained by this
project (``inference.training.vit``); a registry version holds its weights (``model.safetensors``)
and, in its config, the ``ViTConfig`` it was built from.

Why column patches: a metric chart is a function of time drawn left to right. The ViT's patches
are full-height columns a few pixels wide (``patch_size = (image height, column width)``), so each
token is one slice of time and says where the line is in it; attention then reads the sequence of
slices. Square patches make the model first learn to stitch a line back together across patch
rows, which a small model trained from scratch learns far more slowly. The classifier reads the
mean of the column tokens.

Input pipeline (the same in training and serving):

1. ``inference.charts.preprocess``: a plain resize to the model's (width, height), RGB in [0, 1].
2. ``chart_features``: each pixel's distance from the image's background colour (the per-channel
   median), scaled by the image's strongest ink. A line on a dark dashboard and the same line on a
   white one give the same input, so the model learns shapes, not themes; faded secondary series,
   threshold shading and faint gridlines stay faint, and the main series stands out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import ViTConfig, ViTForImageClassification

from inference.charts.dataset import preprocess
from inference.inputs import Instance
from inference.models.base import Prediction, predictions_from_probabilities

WEIGHTS_FILE = "model.safetensors"
# Names the input pipeline above; a version trained on another pipeline is refused at load.
INPUT_PIPELINE = "resize-bgdist-q99-floor-columns-meanpool-v4"
# Leading dimensions of the CLS embedding kept in the prediction log (drift checks).
EMBEDDING_SUMMARY_DIMS = 16
# The ViTConfig fields a version records: enough to rebuild the model, nothing version-specific.
VIT_CONFIG_KEYS = (
    "image_size", "patch_size", "num_channels", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
    "initializer_range", "layer_norm_eps", "qkv_bias", "num_labels",
)
_INK_QUANTILE = 0.99
_MIN_INK = 0.05
_FLOOR = 0.15


def vit_config_dict(config: ViTConfig) -> dict[str, Any]:
    """The JSON-safe subset of ``config`` that ``build_vit`` needs."""
    return {key: getattr(config, key) for key in VIT_CONFIG_KEYS}


def build_vit(config: Mapping[str, Any]) -> ViTForImageClassification:
    """A randomly initialised ViT classifier from a recorded config (no hub, no download)."""
    unknown = set(config) - set(VIT_CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown ViT config keys: {sorted(unknown)}")
    return ViTForImageClassification(ViTConfig(**dict(config)))


def chart_features(pixels: torch.Tensor) -> torch.Tensor:
    """Model input from (B, 3, H, W) RGB in [0, 1]: each pixel's distance from the background colour.

    The background is the per-channel median; the distance is scaled so that the image's strongest
    ink (the 99th percentile of the per-pixel distance, at least ``_MIN_INK``) reads 1. Anything
    below ``_FLOOR`` of that (gridlines, threshold shading, JPEG noise) reads 0; the rest is
    stretched to [0, 1.5] and mapped to [-0.5, 2.5]. Dark and light themes give the same input, and
    thin lines that the resize made faint come back to full strength.
    """
    background = pixels.flatten(2).median(dim=2).values[:, :, None, None]
    distance = (pixels - background).abs()
    strongest = distance.amax(dim=1).flatten(1)
    k = max(1, round(_INK_QUANTILE * strongest.shape[1]))
    ink = strongest.kthvalue(k, dim=1).values.clamp_min(_MIN_INK)[:, None, None, None]
    relative = ((distance / ink - _FLOOR) / (1.0 - _FLOOR)).clamp(0.0, 1.5)
    return relative * 2.0 - 0.5


def input_size(vit_config: Mapping[str, Any]) -> tuple[int, int]:
    """The (width, height) a model built from ``vit_config`` reads (ViTConfig's image_size is (height, width))."""
    size = vit_config["image_size"]
    if isinstance(size, int):
        return size, size
    height, width = (int(v) for v in size)
    return width, height


def image_batch(images: Sequence[Image.Image], size: tuple[int, int]) -> torch.Tensor:
    """(B, 3, height, width) float32 in [0, 1] from PIL images of any size and mode."""
    return torch.stack([torch.from_numpy(preprocess(image, size)) for image in images])


def forward(model: ViTForImageClassification, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, pooled embedding) for a batch of [0, 1] pixels: the mean of the column tokens."""
    hidden = model.vit(pixel_values=chart_features(pixels)).last_hidden_state[:, 1:].mean(dim=1)
    return model.classifier(hidden), hidden


@dataclass
class ChartClassifier:
    name: str
    version: str
    labels: Sequence[str]
    model: ViTForImageClassification
    image_size: tuple[int, int]  # (width, height)
    kind: str = "image"

    @classmethod
    def from_folder(cls, *, name: str, version: str, labels: Sequence[str], config: Mapping[str, Any],
                    folder: Path) -> ChartClassifier:
        pipeline = config.get("input_pipeline")
        if pipeline != INPUT_PIPELINE:
            raise ValueError(f"input pipeline {pipeline!r} is not {INPUT_PIPELINE!r}")
        vit_config = config.get("vit")
        if not isinstance(vit_config, Mapping):
            raise ValueError("the version's config has no 'vit' section")
        if int(vit_config.get("num_labels", -1)) != len(labels):
            raise ValueError(f"the ViT has {vit_config.get('num_labels')} classes, the manifest lists {len(labels)}")
        model = build_vit(vit_config)
        model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)), strict=True)
        model.eval()
        return cls(name=name, version=version, labels=tuple(labels), model=model,
                   image_size=input_size(vit_config))

    @torch.inference_mode()
    def probabilities(self, images: Sequence[Image.Image]) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embeddings = forward(self.model, image_batch(images, self.image_size))
        return torch.softmax(logits.float(), dim=-1), embeddings

    def predict(self, instances: Sequence[Instance]) -> list[Prediction]:
        images = []
        for instance in instances:
            if instance.image is None:
                raise ValueError("chart-vit needs an image")
            images.append(instance.image)
        probabilities, embeddings = self.probabilities(images)
        return predictions_from_probabilities(
            probabilities.tolist(), self.labels, embeddings[:, :EMBEDDING_SUMMARY_DIMS].tolist()
        )
