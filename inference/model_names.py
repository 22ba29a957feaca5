"""The names of the models the worker trains and serves, and the bar a version must pass.

Kept apart from the training code so the command line can name them without loading torch.
"""

from __future__ import annotations

from inference.registry.manifest import Manifest

TEXT_MODEL = "incident-text"
CHART_MODEL = "chart-vit"
FUSION_MODEL = "fusion"
# In training order: fusion is built on the other two.
TRAINABLE = (TEXT_MODEL, CHART_MODEL, FUSION_MODEL)
PROMOTE_MIN_ACCURACY = 0.90


def passes(manifest: Manifest, min_accuracy: float) -> bool:
    """Whether a version's held-out accuracy reaches the bar."""
    accuracy = manifest.metrics.get("accuracy")
    return isinstance(accuracy, int | float) and accuracy >= min_accuracy
