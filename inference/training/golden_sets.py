"""The golden sets that chart-vit and fusion versions are published with (incident-text's is its held-out split).

- chart-vit: ``GOLDEN_CHARTS_PER_PATTERN`` charts of each pattern in the held-out rendering style
  (``EVAL_STYLES``, never trained on), from the fixed ``CHART_GOLDEN_SEED``.
- fusion: the first ``GOLDEN_PAIRS_PER_CLASS`` evaluation pairs of each runbook class: held-out
  texts with charts in the held-out style, drawn exactly as the fusion evaluation draws its pairs
  (``inference.datasets.paired`` with the evaluation seed), labelled with the runbook class.

Charts are stored at the chart model's input size, resized as its input pipeline resizes them
(``inference.charts.dataset.preprocess``), so the model reads the same pixels it would read from
the full-size screenshot, and a version's golden file stays a few hundred KB.
"""

from __future__ import annotations

from collections import Counter

from PIL import Image

from inference.charts.dataset import EVAL_STYLES, generate_examples
from inference.charts.patterns import CHART_PATTERNS
from inference.datasets.paired import paired_examples
from inference.inputs import Instance
from runbooks.classes import RUNBOOK_CLASSES

GOLDEN_CHARTS_PER_PATTERN = 8
GOLDEN_PAIRS_PER_CLASS = 8
CHART_GOLDEN_SEED = 900_003


def stored_chart(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` at the model's input ``size`` (width, height), resized as ``preprocess`` resizes it."""
    return image.convert("RGB").resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def chart_golden_set(size: tuple[int, int], per_pattern: int = GOLDEN_CHARTS_PER_PATTERN) -> list[tuple[Instance, str]]:
    """Held-out-style charts, labelled with their pattern, interleaved by pattern."""
    return [(Instance(image=stored_chart(example.image, size)), example.label)
            for example in generate_examples(per_pattern, styles=EVAL_STYLES, seed=CHART_GOLDEN_SEED,
                                             patterns=CHART_PATTERNS)]


def fusion_golden_set(size: tuple[int, int], *, seed: int,
                      per_class: int = GOLDEN_PAIRS_PER_CLASS) -> list[tuple[Instance, str]]:
    """Held-out (text, chart) pairs, ``per_class`` of each runbook class, labelled with the class.

    ``seed`` is the fusion evaluation's, so these are the first pairs of its evaluation set.
    """
    rows: list[tuple[Instance, str]] = []
    taken: Counter[str] = Counter()
    for pair in paired_examples("heldout", charts_per_text=1, styles=EVAL_STYLES, seed=seed):
        if taken[pair.runbook_class] < per_class:
            taken[pair.runbook_class] += 1
            rows.append((Instance(text=pair.text, image=stored_chart(pair.image, size)), pair.runbook_class))
        if len(rows) == per_class * len(RUNBOOK_CLASSES):
            break
    return rows
