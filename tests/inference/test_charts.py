"""Synthetic metric charts for chart-vit: series shapes, rendering, reproducible datasets."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from inference.charts.dataset import (
    EVAL_STYLES,
    TRAIN_STYLES,
    ChartExample,
    generate_examples,
    preprocess,
    to_png_bytes,
)
from inference.charts.patterns import (
    CHART_PATTERNS,
    METRIC_KINDS,
    describe_series,
    generate_series,
)
from inference.charts.render import (
    HELDOUT_STYLE,
    STYLE_FAMILIES,
    ChartStyle,
    render_chart,
    sample_style,
)

SEEDS = range(40)


def _series(pattern: str, seed: int, metric: str | None = None) -> np.ndarray:
    rng = np.random.default_rng([seed, 1234])
    return generate_series(pattern, rng, int(rng.integers(80, 321)), metric=metric)


def _rule(stats: dict[str, float]) -> str:
    """A hand-written classifier on describe_series: if it works, the classes separate."""
    if stats["tail_nan"] > 0.1 or stats["tail_zero"] > 0.1:
        return "flatline"
    if stats["acf_peak"] > 0.45:
        return "oscillation"
    shift = stats["level_shift"]
    if abs(shift) > 4.5:
        sharp = stats["jump_ratio"] > 0.7
        return ("step_" if sharp else "trend_") + ("up" if shift > 0 else "down")
    if stats["peak_z"] > 9:
        return "spike"
    return "normal"


# ----------------------------------------------------------------------------- patterns


def test_the_eight_patterns() -> None:
    assert CHART_PATTERNS == (
        "normal",
        "spike",
        "step_up",
        "step_down",
        "trend_up",
        "trend_down",
        "flatline",
        "oscillation",
    )


@pytest.mark.parametrize("pattern", CHART_PATTERNS)
def test_series_are_realistic_metric_values(pattern: str) -> None:
    for seed in range(10):
        for metric, kind in METRIC_KINDS.items():
            x = _series(pattern, seed, metric)
            assert x.dtype == np.float64 and 80 <= x.size <= 320
            finite = x[np.isfinite(x)]
            assert finite.size >= 0.3 * x.size
            assert (finite >= 0).all()
            if kind.percent:
                assert finite.max() <= 100.0
            if pattern != "flatline":
                assert np.isfinite(x).all()


def test_series_are_deterministic_for_a_seed_and_vary_between_seeds() -> None:
    a = generate_series("spike", np.random.default_rng(5), 200)
    b = generate_series("spike", np.random.default_rng(5), 200)
    c = generate_series("spike", np.random.default_rng(6), 200)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unknown_pattern_or_tiny_length_is_refused() -> None:
    with pytest.raises(ValueError):
        generate_series("sawtooth", np.random.default_rng(0), 100)
    with pytest.raises(ValueError):
        generate_series("normal", np.random.default_rng(0), 10)


def test_statistics_separate_the_patterns_over_many_seeds() -> None:
    confusion: Counter[tuple[str, str]] = Counter()
    for pattern in CHART_PATTERNS:
        for seed in SEEDS:
            confusion[(pattern, _rule(describe_series(_series(pattern, seed))))] += 1
    per_class = {p: confusion[(p, p)] / len(SEEDS) for p in CHART_PATTERNS}
    assert min(per_class.values()) >= 0.9, per_class
    assert sum(per_class.values()) / len(per_class) >= 0.95, per_class


@pytest.mark.parametrize("seed", SEEDS)
def test_defining_properties_hold_for_every_seed(seed: int) -> None:
    stats = {p: describe_series(_series(p, seed)) for p in CHART_PATTERNS}
    # steps: a persistent shift in the right direction, made in one jump
    assert stats["step_up"]["level_shift"] > 4 and stats["step_up"]["jump_ratio"] > 0.6
    assert stats["step_down"]["level_shift"] < -4 and stats["step_down"]["jump_ratio"] > 0.6
    # trends: as big a change, but gradual
    assert stats["trend_up"]["level_shift"] > 4 and stats["trend_up"]["jump_ratio"] < 0.75
    assert stats["trend_down"]["level_shift"] < -4 and stats["trend_down"]["jump_ratio"] < 0.75
    # spike: far above everything, and back (no lasting shift)
    assert stats["spike"]["peak_z"] > 9
    assert stats["spike"]["peak_z"] > 2 * abs(stats["spike"]["level_shift"])
    # flatline: ends at zero or stops reporting, for at least 15% of the window; nothing else does
    flat = stats["flatline"]
    assert max(flat["tail_zero"], flat["tail_nan"]) >= 0.15
    for p in CHART_PATTERNS:
        if p != "flatline":
            assert stats[p]["tail_zero"] == 0 and stats[p]["tail_nan"] == 0, p
    # oscillation: strongly periodic; a normal series is not
    assert stats["oscillation"]["acf_peak"] > 0.5
    assert stats["normal"]["acf_peak"] < 0.4


def test_a_spike_is_short() -> None:
    for seed in SEEDS:
        x = _series("spike", seed)
        med = np.median(x)
        high = x > med + 0.5 * (x.max() - med)
        assert high.sum() <= max(2, 0.05 * x.size)


def test_flatline_comes_both_as_zero_and_as_a_stop() -> None:
    kinds = set()
    for seed in SEEDS:
        s = describe_series(_series("flatline", seed))
        kinds.add("zero" if s["tail_zero"] > 0 else "nan")
    assert kinds == {"zero", "nan"}


# ----------------------------------------------------------------------------- rendering


def test_a_whole_family_is_held_out_for_evaluation() -> None:
    assert HELDOUT_STYLE in STYLE_FAMILIES
    assert HELDOUT_STYLE not in TRAIN_STYLES
    assert EVAL_STYLES == (HELDOUT_STYLE,)
    assert set(TRAIN_STYLES) | set(EVAL_STYLES) == set(STYLE_FAMILIES)
    assert len(TRAIN_STYLES) >= 5
    assert any(sample_style(f, np.random.default_rng(0)).panel_bg[0] < 60 for f in TRAIN_STYLES)  # dark themes
    assert any(sample_style(f, np.random.default_rng(0)).panel_bg[0] > 200 for f in TRAIN_STYLES)  # light ones


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError):
        sample_style("excel_2003", np.random.default_rng(0))


SIZES = [(224, 224), (320, 180), (96, 64), (640, 360), (1200, 600)]


@pytest.mark.parametrize("family", STYLE_FAMILIES)
def test_every_pattern_and_family_renders_at_several_sizes(family: str) -> None:
    for k, pattern in enumerate(CHART_PATTERNS):
        for j, size in enumerate(SIZES):
            rng = np.random.default_rng([k, j, 7])
            series = generate_series(pattern, rng, 150)
            image = render_chart(series, sample_style(family, rng), rng, size)
            assert image.mode == "RGB" and image.size == size
            pixels = np.asarray(image)
            assert pixels.std() > 5  # not a blank panel


def _plain(style: ChartStyle, **changes) -> ChartStyle:
    """No artefacts or extras, so that pixel colours are exact."""
    base = dict(
        supersample=1,
        blur=0.0,
        jpeg_quality=None,
        frame="exact",
        secondary=False,
        threshold=False,
        annotation=None,
        draw_mode="line",
        scanlines=False,
        legend="none",
    )
    base.update(changes)
    return ChartStyle(**{**style.__dict__, **base})


def _colour_mask(image: Image.Image, colour: tuple[int, int, int]) -> np.ndarray:
    return (np.asarray(image) == np.array(colour, dtype=np.uint8)).all(axis=2)


@pytest.mark.parametrize("family", STYLE_FAMILIES)
def test_the_main_series_is_drawn_and_a_stopped_metric_leaves_the_right_side_empty(family: str) -> None:
    rng = np.random.default_rng(11)
    style = _plain(sample_style(family, rng), line_color=(255, 0, 255), title=None)
    full = np.full(200, 50.0) + np.random.default_rng(1).normal(0, 3, 200)
    stopped = full.copy()
    stopped[120:] = np.nan
    full_mask = _colour_mask(render_chart(full, style, np.random.default_rng(2), (400, 240)), (255, 0, 255))
    stop_mask = _colour_mask(render_chart(stopped, style, np.random.default_rng(2), (400, 240)), (255, 0, 255))
    cols_full = np.nonzero(full_mask.any(axis=0))[0]
    cols_stop = np.nonzero(stop_mask.any(axis=0))[0]
    assert cols_full.size > 200
    assert cols_stop.max() < cols_full.max() - 0.25 * (cols_full.max() - cols_full.min())


def test_the_main_series_is_more_prominent_than_the_secondary_one() -> None:
    for seed in range(8):
        rng = np.random.default_rng(seed)
        style = sample_style(TRAIN_STYLES[seed % len(TRAIN_STYLES)], rng)
        style = _plain(
            style, secondary=True, line_color=(255, 0, 255), secondary_color=(0, 255, 0), secondary_fade=0.0
        )
        image = render_chart(generate_series("normal", rng, 200), style, rng, (480, 270))
        main_px = _colour_mask(image, (255, 0, 255)).sum()
        second_px = _colour_mask(image, (0, 255, 0)).sum()
        assert main_px > 1.3 * second_px > 0


# ----------------------------------------------------------------------------- dataset


def test_same_seed_gives_byte_identical_pngs_and_other_seeds_differ() -> None:
    first = [to_png_bytes(e.image) for e in generate_examples(2, styles=TRAIN_STYLES, seed=3)]
    again = [to_png_bytes(e.image) for e in generate_examples(2, styles=TRAIN_STYLES, seed=3)]
    other = [to_png_bytes(e.image) for e in generate_examples(2, styles=TRAIN_STYLES, seed=4)]
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))
    # a longer run starts with the same examples
    longer = [to_png_bytes(e.image) for e in generate_examples(3, styles=TRAIN_STYLES, seed=3)]
    assert longer[: len(first)] == first


def test_examples_are_balanced_interleaved_and_rotate_through_the_styles() -> None:
    examples = list(generate_examples(7, styles=TRAIN_STYLES, seed=0, size=(160, 120)))
    assert all(isinstance(e, ChartExample) for e in examples)
    assert [e.label for e in examples[:8]] == list(CHART_PATTERNS)
    assert Counter(e.label for e in examples) == {p: 7 for p in CHART_PATTERNS}
    for pattern in CHART_PATTERNS:
        assert {e.style for e in examples if e.label == pattern} <= set(TRAIN_STYLES)
    assert {e.style for e in examples} == set(TRAIN_STYLES)
    assert all(e.image.size == (160, 120) for e in examples)
    held_out = list(generate_examples(1, styles=EVAL_STYLES, seed=0))
    assert {e.style for e in held_out} == {HELDOUT_STYLE}


def test_default_sizes_look_like_screenshots() -> None:
    sizes = {e.image.size for e in generate_examples(3, styles=STYLE_FAMILIES, seed=9)}
    assert len(sizes) > 10
    assert all(320 <= w <= 1200 and 180 <= h <= 600 for w, h in sizes)


def test_png_bytes_round_trip() -> None:
    example = next(generate_examples(1, styles=EVAL_STYLES, seed=1))
    data = to_png_bytes(example.image)
    assert data.startswith(b"\x89PNG")
    back = Image.open(io.BytesIO(data))
    assert back.size == example.image.size
    np.testing.assert_array_equal(np.asarray(back.convert("RGB")), np.asarray(example.image))


@pytest.mark.parametrize("letterbox", [False, True])
def test_preprocess_gives_chw_float32_in_unit_range(letterbox: bool) -> None:
    example = next(generate_examples(1, styles=TRAIN_STYLES, seed=2, size=(600, 250)))
    arr = preprocess(example.image, 64, letterbox=letterbox)
    assert arr.shape == (3, 64, 64) and arr.dtype == np.float32
    assert arr.min() >= 0.0 and arr.max() <= 1.0 and arr.std() > 0.01
    wide = preprocess(example.image, (96, 48), letterbox=letterbox)
    assert wide.shape == (3, 48, 96)
    gray = preprocess(example.image.convert("L"), 32)
    assert gray.shape == (3, 32, 32)
