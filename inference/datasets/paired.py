"""Paired (incident text, chart) examples for training and evaluating the ``fusion`` model.

Each text of the incident-text corpus is paired with charts of the metric its alert is about,
drawn in a pattern that incidents of its runbook class plausibly show (``PATTERN_WEIGHTS``). The
pair's labels are the text's runbook class and ``mechanism_for(class, pattern)``.

- Training pairs take the training texts and charts in the training rendering styles.
- Evaluation pairs take the held-out texts (written separately) and charts in the held-out
  rendering style, so neither half of an evaluation pair was seen in training, by any model.

A limitation worth knowing: the chart is drawn from the class, not from the text's own words, so
a text saying "climbing since the deploy" can be paired with a spike. The mechanism label always
follows the chart, as it would for an engineer looking at the real dashboard.

Everything is deterministic for a seed: pair ``(i, j)`` draws from ``default_rng([seed, i, j])``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image

from inference.charts.dataset import SERIES_LENGTH, sample_size
from inference.charts.patterns import CHART_PATTERNS, generate_series
from inference.charts.render import render_chart, sample_style
from inference.datasets.text import Split, load_split
from inference.mechanisms import mechanism_for
from runbooks.classes import RUNBOOK_CLASSES

# The patterns incidents of each class typically show get weight 3, any other pattern weight 1:
# every combination occurs, so the model must read the chart rather than guess from the class.
_TYPICAL: Final[dict[str, tuple[str, ...]]] = {
    "high_latency": ("step_up", "trend_up", "spike", "oscillation"),
    "high_error_rate": ("spike", "step_up", "trend_up", "oscillation"),
    "model_drift": ("trend_up", "trend_down", "step_up", "normal"),
    "model_regression": ("step_down", "step_up", "trend_down", "normal"),
    "deployment_failure": ("step_up", "flatline", "oscillation", "spike"),
    "service_outage": ("flatline", "step_down", "spike", "step_up"),
    "security": ("spike", "step_up", "trend_up", "normal"),
    "data_quality": ("flatline", "step_up", "trend_up", "step_down"),
}
PATTERN_WEIGHTS: Final[dict[str, tuple[float, ...]]] = {
    cls: tuple(3.0 if p in typical else 1.0 for p in CHART_PATTERNS) for cls, typical in _TYPICAL.items()
}
# The metric a class's alert usually charts (chart title, unit and value range follow it).
CLASS_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "high_latency": ("latency",),
    "high_error_rate": ("error_rate",),
    "model_drift": ("gpu_util", "throughput", "cpu"),
    "model_regression": ("error_rate", "throughput"),
    "deployment_failure": ("error_rate", "cpu", "memory"),
    "service_outage": ("throughput", "error_rate"),
    "security": ("throughput", "error_rate"),
    "data_quality": ("queue_depth", "throughput"),
}
assert set(PATTERN_WEIGHTS) == set(RUNBOOK_CLASSES) == set(CLASS_METRICS)


@dataclass(frozen=True)
class PairedExample:
    text: str
    runbook_class: str
    pattern: str
    mechanism: str
    image: Image.Image
    style: str


def paired_examples(split: Split, *, charts_per_text: int, styles: Sequence[str], seed: int,
                    size: tuple[int, int] | None = None) -> Iterator[PairedExample]:
    """``charts_per_text`` pairs for every text of ``split``, charts in ``styles``."""
    if charts_per_text < 1:
        raise ValueError("charts_per_text must be at least 1")
    styles = tuple(styles)
    if not styles:
        raise ValueError("styles must not be empty")
    for i, example in enumerate(load_split(split)):
        for j in range(charts_per_text):
            rng = np.random.default_rng([seed, i, j])
            weights = np.asarray(PATTERN_WEIGHTS[example.label])
            pattern = CHART_PATTERNS[int(rng.choice(len(CHART_PATTERNS), p=weights / weights.sum()))]
            metrics = CLASS_METRICS[example.label]
            metric = metrics[int(rng.integers(len(metrics)))]
            style = styles[int(rng.integers(len(styles)))]
            length = int(rng.integers(SERIES_LENGTH[0], SERIES_LENGTH[1] + 1))
            series = generate_series(pattern, rng, length, metric=metric)
            chart_style = sample_style(style, rng, metric=metric)
            image = render_chart(series, chart_style, rng, size if size is not None else sample_size(rng))
            yield PairedExample(text=example.text, runbook_class=example.label, pattern=pattern,
                                mechanism=mechanism_for(example.label, pattern), image=image, style=style)
