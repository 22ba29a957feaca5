"""Labelled, reproducible chart examples for training and evaluating `chart-vit`.

- `generate_examples(n_per_class, styles=..., seed=...)` yields `ChartExample`s, interleaved by
  class (one of each pattern, then the next round). Example `i` of a class depends only on
  (seed, class, i), so the same seed gives byte-identical PNGs and a run with a larger
  `n_per_class` starts with the same examples as a smaller one. Style families rotate through
  `styles` so every class sees every family equally often.
- `TRAIN_STYLES` is every family but the held-out one; `EVAL_STYLES = (HELDOUT_STYLE,)` is for
  evaluation only: a whole rendering style the model never saw.
- `preprocess(image, size)` makes the model input: a **plain resize** (aspect ratio not kept; a
  chart's shape survives a horizontal squeeze better than letterboxing wastes pixels) to
  size x size with Pillow's antialiased bilinear filter, RGB float32 in [0, 1], CHW.
  `letterbox=True` keeps the aspect ratio instead and pads with the image's corner colour.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from inference.charts.patterns import CHART_PATTERNS, METRIC_KINDS, generate_series
from inference.charts.render import (
    HELDOUT_STYLE,
    STYLE_FAMILIES,
    render_chart,
    sample_style,
)

TRAIN_STYLES: tuple[str, ...] = tuple(s for s in STYLE_FAMILIES if s != HELDOUT_STYLE)
EVAL_STYLES: tuple[str, ...] = (HELDOUT_STYLE,)

# Screenshot sizes: widths 320-1200, heights 180-600, mostly wide panels, some square-ish.
MIN_SIZE = (320, 180)
MAX_SIZE = (1200, 600)
SERIES_LENGTH = (80, 320)


@dataclass(frozen=True)
class ChartExample:
    image: Image.Image
    label: str
    style: str


def sample_size(rng: np.random.Generator) -> tuple[int, int]:
    """A realistic screenshot size between MIN_SIZE and MAX_SIZE."""
    w = float(np.exp(rng.uniform(np.log(MIN_SIZE[0]), np.log(MAX_SIZE[0]))))
    aspect = rng.uniform(1.0, 1.6) if rng.random() < 0.2 else rng.uniform(1.6, 3.2)
    h = float(np.clip(w / aspect, MIN_SIZE[1], MAX_SIZE[1]))
    return round(w), round(h)


def make_example(
    label: str,
    style: str,
    rng: np.random.Generator,
    size: tuple[int, int] | None = None,
) -> ChartExample:
    """One chart of `label` in style family `style`, all randomness from `rng`."""
    metric = list(METRIC_KINDS)[int(rng.integers(len(METRIC_KINDS)))]
    length = int(rng.integers(SERIES_LENGTH[0], SERIES_LENGTH[1] + 1))
    series = generate_series(label, rng, length, metric=metric)
    chart_style = sample_style(style, rng, metric=metric)
    chart_size = size if size is not None else sample_size(rng)
    return ChartExample(render_chart(series, chart_style, rng, chart_size), label, style)


def generate_examples(
    n_per_class: int,
    *,
    styles: Sequence[str],
    seed: int,
    size: tuple[int, int] | None = None,
    patterns: Sequence[str] = CHART_PATTERNS,
) -> Iterator[ChartExample]:
    """`n_per_class` examples of each pattern, interleaved by class, deterministic for `seed`.

    `size` fixes the image size (width, height); by default each chart gets a random screenshot
    size (`sample_size`). Rendering at a modest fixed size (e.g. (320, 200)) is faster when the
    model input is small.
    """
    styles = tuple(styles)
    if not styles:
        raise ValueError("styles must not be empty")
    for i in range(n_per_class):
        for k, label in enumerate(patterns):
            rng = np.random.default_rng([seed, CHART_PATTERNS.index(label), i])
            style = styles[(i + k) % len(styles)]
            yield make_example(label, style, rng, size)


def to_png_bytes(image: Image.Image) -> bytes:
    """PNG bytes of `image` (deterministic: no metadata, fixed compression)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def preprocess(image: Image.Image, size: int | tuple[int, int], *, letterbox: bool = False) -> np.ndarray:
    """The model input for `image`: float32 array (3, H, W) of RGB values in [0, 1].

    `size` is an int (square) or (width, height). Plain resize by default (see module docstring).
    """
    tw, th = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    img = image.convert("RGB")
    if letterbox:
        w, h = img.size
        s = min(tw / w, th / h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        resized = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
        canvas = Image.new("RGB", (tw, th), img.getpixel((0, 0)))
        canvas.paste(resized, ((tw - nw) // 2, (th - nh) // 2))
        img = canvas
    else:
        img = img.resize((tw, th), Image.Resampling.BILINEAR, reducing_gap=3.0)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return np.ascontiguousarray(arr.transpose(2, 0, 1))
