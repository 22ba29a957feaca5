"""Draw a metric series as a dashboard screenshot, with Pillow only.

A `ChartStyle` holds every visual choice for one chart (theme colours, gridlines, line width,
area fill, markers, legend, title, threshold, annotation, a faint secondary series, compression
and blur, padding or cropping like a screenshot). `sample_style(family, rng)` draws one from a
named style family, each with its own randomised parameters:

- ``grafana_dark``: near-black panels, bright palette lines, optional translucent area fill,
  solid faint gridlines, legend under the plot, dashed annotation markers.
- ``datadog``: light or dark-purple theme, purple-led palette, dotted horizontal gridlines,
  areas and occasional bars.
- ``terminal``: green/amber/cyan on black, monochrome, dotted grid, crisp (aliased) pixels,
  points or staircase lines, sometimes scanlines.
- ``minimal``: white (sometimes dark) background, no or faint grid, left/bottom spines only,
  thin dark line, few ticks.
- ``prometheus_classic``: the old Prometheus graph page: boxed white plot, grey solid grid,
  PromQL expression as title, label-set legend.
- ``kibana_dark``: dark slate theme, Elastic palette, dashed grid, area fills, legend right.
- ``cloudwatch_light`` (**held out**: evaluation only): white AWS console panel, bold metric
  name, unit label over the y axis, horizontal-only grid, square legend markers, red alarm
  threshold with shading.

The main series is always the most prominent line: drawn last, thickest, in full colour, and first
in the legend; a secondary series (a "normal" one) is thinner and faded toward the background.

All randomness comes from the `rng` passed in, so a chart is a pure function of the seed.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from inference.charts.patterns import METRIC_KINDS, generate_series

RGB = tuple[int, int, int]

STYLE_FAMILIES = (
    "grafana_dark",
    "datadog",
    "terminal",
    "minimal",
    "prometheus_classic",
    "kibana_dark",
    "cloudwatch_light",
)
HELDOUT_STYLE = "cloudwatch_light"


@dataclass(frozen=True)
class ChartStyle:
    """Every visual choice for one chart. Sizes are in pixels for a ~480 px wide panel; the
    renderer scales them with the output size (like a screenshot taken at a higher DPI)."""

    family: str
    metric: str = "latency"
    # colours
    page_bg: RGB = (240, 240, 240)
    panel_bg: RGB = (255, 255, 255)
    plot_bg: RGB = (255, 255, 255)
    border: RGB | None = None
    text: RGB = (40, 40, 40)
    muted_text: RGB = (110, 110, 110)
    # grid and axes
    grid: RGB | None = (225, 225, 225)
    grid_axes: str = "both"  # "both" | "y" | "x"
    grid_dash: tuple[int, int] | None = None  # (on, off) pixels; None: solid
    spines: str = "none"  # "none" | "lb" (left and bottom) | "b" | "box"
    spine_color: RGB = (120, 120, 120)
    n_yticks: int = 5
    y_format: str = "plain"  # "plain" | "si" (1.2k) | "unit" (120 ms)
    snap_limits: bool = False  # y limits on tick multiples
    include_zero: bool = False
    y_headroom: float = 0.08
    y_footroom: float = 0.04
    time_format: str = "%H:%M"  # or "%m/%d %H:%M" or "-rel"
    ylabel: str | None = None
    ylabel_rotated: bool = False  # rotated on the left, else above the axis (CloudWatch)
    # main series
    line_color: RGB = (31, 119, 180)
    line_width: float = 1.5
    draw_mode: str = "line"  # "line" | "area" | "points" | "line+points" | "bars" | "steps"
    fill_alpha: float = 0.2
    marker_size: float = 2.0
    # secondary series (a "normal" one, always less prominent)
    secondary: bool = False
    secondary_color: RGB = (150, 150, 150)
    secondary_width: float = 1.0
    secondary_fade: float = 0.5  # blend toward the plot background
    # decorations
    threshold: bool = False
    threshold_color: RGB = (214, 39, 40)
    threshold_dash: bool = True
    threshold_shade: bool = False
    threshold_label: str | None = None
    annotation: str | None = None  # "vline" | "badge" | None
    annotation_color: RGB = (87, 148, 242)
    annotation_text: str = "deploy"
    title: str | None = None
    title_align: str = "left"
    title_bold: bool = False
    legend: str = "none"  # "none" | "bottom" | "top" | "right"
    legend_marker: str = "line"  # "line" | "square"
    series_label: str = "prod"
    secondary_label: str = "last week"
    font_size: float = 11.0
    scanlines: bool = False
    # screenshot artefacts
    supersample: int = 1  # 2: draw at twice the size and downsample (anti-aliasing)
    blur: float = 0.0
    jpeg_quality: int | None = None
    frame: str = "exact"  # "exact" | "pad" | "crop"
    frame_amount: tuple[float, float, float, float] = field(default=(0.0, 0.0, 0.0, 0.0))


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1, or no FreeType
        return ImageFont.load_default()


def _blend(a: RGB, b: RGB, t: float) -> RGB:
    """a*(1-t) + b*t."""
    return (
        round(a[0] * (1 - t) + b[0] * t),
        round(a[1] * (1 - t) + b[1] * t),
        round(a[2] * (1 - t) + b[2] * t),
    )


def _jitter(rng: np.random.Generator, c: RGB, amount: int = 10) -> RGB:
    d = rng.integers(-amount, amount + 1, size=3)
    red, green, blue = (int(np.clip(v + dv, 0, 255)) for v, dv in zip(c, d, strict=True))
    return red, green, blue


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _text_w(font, text: str) -> float:
    return font.getlength(text)


def _text_h(font) -> int:
    try:
        ascent, descent = font.getmetrics()
        return ascent + descent
    except AttributeError:
        return 11


def _nice_step(raw: float) -> float:
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    exp = math.floor(math.log10(raw))
    f = raw / 10**exp
    for nf in (1.0, 2.0, 2.5, 5.0, 10.0):
        if f <= nf * 1.0001:
            return nf * 10**exp
    return 10.0 ** (exp + 1)


def _fmt_value(v: float, step: float, fmt: str, unit: str) -> str:
    if abs(v) < step * 1e-6:
        v = 0.0
    if fmt == "si" and max(abs(v), step) >= 1000:
        v, step, suffix = v / 1000.0, step / 1000.0, "k"
    else:
        suffix = ""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    text = f"{v:.{decimals}f}{suffix}"
    if fmt == "unit" and unit:
        text = f"{text}{unit}" if unit == "%" else f"{text} {unit}"
    return text


def _dashed_hline(draw, x0: float, x1: float, y: float, color: RGB, width: int, dash: tuple[int, int]) -> None:
    on, off = dash
    x = x0
    while x < x1:
        draw.line([(x, y), (min(x + on, x1), y)], fill=color, width=width)
        x += on + off


def _dashed_vline(draw, x: float, y0: float, y1: float, color: RGB, width: int, dash: tuple[int, int]) -> None:
    on, off = dash
    y = y0
    while y < y1:
        draw.line([(x, y), (x, min(y + on, y1))], fill=color, width=width)
        y += on + off


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.nonzero(d == 1)[0]
    stops = np.nonzero(d == -1)[0]
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


# --------------------------------------------------------------------------- style families

_METRIC_UNITS = {
    "latency": ("ms", "Milliseconds"),
    "error_rate": ("%", "Percent"),
    "throughput": ("req/s", "Count/Second"),
    "cpu": ("%", "Percent"),
    "memory": ("GiB", "Gigabytes"),
    "queue_depth": ("", "Count"),
    "gpu_util": ("%", "Percent"),
}

_PROMQL = {
    "latency": (
        'histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{job="api"}[5m])) by (le))',
        "histogram_quantile(0.99, rate(model_latency_bucket[1m]))",
    ),
    "error_rate": ('sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',),
    "throughput": ('sum(rate(inference_requests_total{model="ranker"}[1m]))', "rate(http_requests_total[5m])"),
    "cpu": ('100 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100',),
    "memory": ('container_memory_working_set_bytes{pod=~"worker-.*"} / 2^30',),
    "queue_depth": ("sum(kafka_consumergroup_lag)", "inference_queue_depth"),
    "gpu_util": ("avg(DCGM_FI_DEV_GPU_UTIL)",),
}

_SERIES_LABELS = (
    "prod",
    "fraud-scorer",
    "ranker-api",
    "us-east-1",
    "eu-west-1 / prod",
    "model=v3",
    "p95",
    "canary",
    "worker-7f9c",
    "api-gateway",
    "embeddings",
    "checkout-svc",
)
_SECONDARY_LABELS = ("last week", "baseline", "staging", "us-west-2", "p50", "yesterday", "replica-2", "control")
_PROM_LABELSETS = (
    '{instance="10.0.3.12:9100", job="node"}',
    '{job="api", le="0.5"}',
    '{pod="ranker-7f9c8", namespace="ml"}',
    '{model="fraud-v3", env="prod"}',
)
_ANNOTATIONS = ("deploy", "v2.3.1", "config change", "rollout", "scale-out", "alert", "maint", "release 418")

# palettes
_GRAFANA_LINES = (
    (115, 191, 105), (250, 222, 42), (87, 148, 242), (255, 152, 48),
    (242, 73, 92), (184, 119, 217), (138, 184, 255), (95, 206, 222),
)
_DATADOG_LIGHT_LINES = (
    (99, 44, 166), (119, 74, 164), (140, 80, 210), (59, 130, 246), (0, 150, 136), (75, 45, 150), (214, 91, 42),
)
_DATADOG_DARK_LINES = ((166, 120, 255), (200, 160, 255), (120, 200, 255), (255, 170, 80), (110, 220, 160))
_TERMINAL_COLOURS = ((0, 255, 102), (51, 255, 51), (255, 176, 0), (0, 220, 220), (230, 230, 230), (120, 255, 120))
_MINIMAL_LINES = ((30, 30, 30), (31, 119, 180), (214, 39, 40), (44, 160, 44), (90, 90, 90), (20, 60, 140))
_PROM_LINES = (
    (237, 194, 64), (100, 170, 230), (203, 75, 75), (77, 167, 77), (148, 64, 237), (189, 155, 51), (60, 60, 60),
)
_KIBANA_LINES = (
    (84, 179, 153), (99, 146, 192), (214, 191, 87), (211, 96, 134), (158, 121, 219), (202, 142, 174), (233, 130, 92),
)
_CLOUDWATCH_LINES = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (23, 190, 207))


def _two_colours(rng: np.random.Generator, palette) -> tuple[RGB, RGB]:
    i, j = rng.choice(len(palette), size=2, replace=False)
    return palette[int(i)], palette[int(j)]


def _common(rng: np.random.Generator, metric: str) -> dict:
    """Choices shared by every family (then overridden per family)."""
    kind = METRIC_KINDS[metric]
    frame = _pick(rng, ("exact", "exact", "pad", "crop"))
    if frame == "pad":
        amount = tuple(float(v) for v in rng.uniform(0.0, 0.06, size=4))
    elif frame == "crop":
        amount = tuple(float(v) for v in rng.uniform(0.0, 0.025, size=4))
    else:
        amount = (0.0, 0.0, 0.0, 0.0)
    return dict(
        metric=metric,
        title=_pick(rng, kind.titles),
        series_label=_pick(rng, _SERIES_LABELS),
        secondary_label=_pick(rng, _SECONDARY_LABELS),
        secondary=bool(rng.random() < 0.35),
        secondary_width=1.0,
        secondary_fade=float(rng.uniform(0.35, 0.6)),
        include_zero=bool(rng.random() < 0.5),
        y_headroom=float(rng.uniform(0.03, 0.15)),
        y_footroom=float(rng.uniform(0.0, 0.06)),
        n_yticks=int(rng.integers(3, 7)),
        time_format=_pick(rng, ("%H:%M", "%H:%M", "%H:%M", "%m/%d %H:%M")),
        threshold=bool(rng.random() < 0.25),
        threshold_dash=bool(rng.random() < 0.7),
        annotation=_pick(rng, (None, None, None, "vline", "badge")),
        annotation_text=_pick(rng, _ANNOTATIONS),
        font_size=float(rng.uniform(10.0, 13.0)),
        blur=float(rng.uniform(0.3, 0.9)) if rng.random() < 0.15 else 0.0,
        jpeg_quality=int(rng.integers(35, 90)) if rng.random() < 0.3 else None,
        frame=frame,
        frame_amount=amount,
        supersample=2 if rng.random() < 0.5 else 1,
    )


def _grafana_dark(rng: np.random.Generator, c: dict) -> ChartStyle:
    panel = _jitter(rng, _pick(rng, ((24, 27, 31), (17, 18, 23), (22, 23, 28), (32, 34, 38))), 4)
    main, second = _two_colours(rng, _GRAFANA_LINES)
    mode = _pick(rng, ("line", "line", "area", "area", "line+points", "points"))
    return ChartStyle(
        family="grafana_dark",
        page_bg=(11, 12, 14),
        panel_bg=panel,
        plot_bg=panel,
        border=(44, 47, 53) if rng.random() < 0.6 else None,
        text=(204, 204, 220),
        muted_text=(142, 142, 160),
        grid=_jitter(rng, (44, 50, 53), 6) if rng.random() < 0.9 else None,
        grid_axes=_pick(rng, ("both", "both", "y")),
        grid_dash=None if rng.random() < 0.8 else (2, 3),
        spines="none",
        y_format=_pick(rng, ("unit", "si", "plain")),
        snap_limits=bool(rng.random() < 0.5),
        line_color=main,
        line_width=float(rng.uniform(1.0, 2.5)),
        draw_mode=mode,
        fill_alpha=float(rng.uniform(0.1, 0.35)),
        marker_size=float(rng.uniform(1.5, 3.0)),
        secondary_color=second,
        threshold_color=_pick(rng, ((242, 73, 92), (255, 152, 48))),
        threshold_shade=bool(rng.random() < 0.3),
        annotation_color=(87, 148, 242),
        title_align=_pick(rng, ("left", "left", "center")),
        legend=_pick(rng, ("bottom", "bottom", "none", "right")),
        legend_marker="line",
        **c,
    )


def _datadog(rng: np.random.Generator, c: dict) -> ChartStyle:
    dark = rng.random() < 0.4
    if dark:
        panel = _jitter(rng, _pick(rng, ((28, 25, 38), (35, 30, 50), (24, 22, 34))), 4)
        text, muted, grid = (220, 215, 235), (150, 140, 170), (58, 52, 76)
        main, second = _two_colours(rng, _DATADOG_DARK_LINES)
        page = (18, 16, 26)
    else:
        panel = _pick(rng, ((255, 255, 255), (250, 250, 252), (248, 247, 252)))
        text, muted, grid = (40, 36, 60), (120, 115, 140), (228, 226, 236)
        main, second = _two_colours(rng, _DATADOG_LIGHT_LINES)
        page = (241, 240, 246)
    mode = _pick(rng, ("line", "line", "area", "area", "bars", "line+points"))
    return ChartStyle(
        family="datadog",
        page_bg=page,
        panel_bg=panel,
        plot_bg=panel,
        border=_blend(panel, muted, 0.3) if rng.random() < 0.5 else None,
        text=text,
        muted_text=muted,
        grid=grid if rng.random() < 0.85 else None,
        grid_axes="y",
        grid_dash=_pick(rng, ((1, 2), (3, 3), None)),
        spines=_pick(rng, ("none", "b")),
        spine_color=_blend(panel, muted, 0.6),
        y_format=_pick(rng, ("si", "plain")),
        line_color=main,
        line_width=float(rng.uniform(1.2, 2.5)),
        draw_mode=mode,
        fill_alpha=float(rng.uniform(0.2, 0.5)),
        marker_size=float(rng.uniform(1.5, 2.5)),
        secondary_color=second,
        threshold_color=(230, 60, 80),
        annotation_color=(140, 80, 210),
        title_align="left",
        legend=_pick(rng, ("none", "none", "bottom", "right")),
        legend_marker="square",
        **c,
    )


def _terminal(rng: np.random.Generator, c: dict) -> ChartStyle:
    colour = _pick(rng, _TERMINAL_COLOURS)
    bg = _pick(rng, ((0, 0, 0), (10, 10, 10), (0, 18, 4), (16, 16, 24)))
    dim = _blend(bg, colour, 0.25)
    c = dict(c)
    c["title"] = _pick(rng, ("[ {} ]", "> {}", "$ watch {}", "{}")).format(c["title"].lower().replace(" ", "_"))
    c["supersample"] = 1
    c["font_size"] = float(rng.uniform(10.0, 12.0))
    return ChartStyle(
        family="terminal",
        page_bg=bg,
        panel_bg=bg,
        plot_bg=bg,
        border=dim if rng.random() < 0.5 else None,
        text=colour,
        muted_text=_blend(bg, colour, 0.7),
        grid=_blend(bg, colour, 0.2) if rng.random() < 0.7 else None,
        grid_axes=_pick(rng, ("both", "y")),
        grid_dash=(1, 3),
        spines=_pick(rng, ("lb", "box", "none")),
        spine_color=_blend(bg, colour, 0.6),
        y_format="plain",
        line_color=colour,
        line_width=float(rng.uniform(1.0, 2.2)),
        draw_mode=_pick(rng, ("line", "points", "steps", "line+points")),
        marker_size=float(rng.uniform(1.0, 2.0)),
        secondary_color=_blend(bg, colour, 0.8),
        threshold_color=_blend(bg, colour, 0.7),
        annotation_color=_blend(bg, colour, 0.6),
        title_align="left",
        legend=_pick(rng, ("none", "none", "top")),
        legend_marker="line",
        scanlines=bool(rng.random() < 0.35),
        **c,
    )


def _minimal(rng: np.random.Generator, c: dict) -> ChartStyle:
    dark = rng.random() < 0.2
    if dark:
        bg = _pick(rng, ((30, 30, 30), (40, 42, 46)))
        text, muted = (220, 220, 220), (160, 160, 160)
        line = _pick(rng, ((240, 240, 240), (120, 180, 255), (255, 120, 100)))
        second = (150, 150, 150)
    else:
        bg = _pick(rng, ((255, 255, 255), (252, 252, 250), (246, 246, 246)))
        text, muted = (50, 50, 50), (110, 110, 110)
        line, second = _two_colours(rng, _MINIMAL_LINES)
    c = dict(c)
    if rng.random() < 0.4:
        c["title"] = None
    c["n_yticks"] = int(rng.integers(3, 5))
    unit = _METRIC_UNITS[c["metric"]][0]
    return ChartStyle(
        family="minimal",
        page_bg=bg,
        panel_bg=bg,
        plot_bg=bg,
        border=None,
        text=text,
        muted_text=muted,
        grid=_blend(bg, muted, 0.2) if rng.random() < 0.4 else None,
        grid_axes=_pick(rng, ("y", "both")),
        grid_dash=None,
        spines=_pick(rng, ("lb", "lb", "b", "none")),
        spine_color=muted,
        y_format=_pick(rng, ("plain", "si")),
        ylabel=(unit or "count") if rng.random() < 0.4 else None,
        ylabel_rotated=True,
        line_color=line,
        line_width=float(rng.uniform(1.0, 2.2)),
        draw_mode=_pick(rng, ("line", "line", "line+points")),
        marker_size=float(rng.uniform(1.2, 2.2)),
        secondary_color=second,
        threshold_color=(200, 60, 60),
        annotation_color=muted,
        title_align=_pick(rng, ("left", "center")),
        legend=_pick(rng, ("none", "none", "top", "right")),
        legend_marker="line",
        **c,
    )


def _prometheus(rng: np.random.Generator, c: dict) -> ChartStyle:
    main, second = _two_colours(rng, _PROM_LINES)
    c = dict(c)
    c["title"] = _pick(rng, _PROMQL[c["metric"]]) if rng.random() < 0.7 else c["title"]
    c["series_label"], c["secondary_label"] = (str(v) for v in rng.choice(_PROM_LABELSETS, size=2, replace=False))
    c["font_size"] = float(rng.uniform(10.0, 12.0))
    return ChartStyle(
        family="prometheus_classic",
        page_bg=(255, 255, 255),
        panel_bg=(255, 255, 255),
        plot_bg=_pick(rng, ((255, 255, 255), (250, 250, 250))),
        border=(221, 221, 221) if rng.random() < 0.5 else None,
        text=(51, 51, 51),
        muted_text=(100, 100, 100),
        grid=(221, 221, 221),
        grid_axes="both",
        grid_dash=None,
        spines="box",
        spine_color=_pick(rng, ((0, 0, 0), (150, 150, 150))),
        y_format=_pick(rng, ("plain", "si")),
        snap_limits=True,
        line_color=main,
        line_width=float(rng.uniform(1.5, 2.5)),
        draw_mode=_pick(rng, ("line", "line", "line", "steps", "area")),
        fill_alpha=float(rng.uniform(0.3, 0.6)),
        secondary_color=second,
        threshold_color=(203, 75, 75),
        annotation_color=(100, 100, 100),
        title_align="left",
        legend=_pick(rng, ("bottom", "bottom", "none")),
        legend_marker="square",
        **c,
    )


def _kibana_dark(rng: np.random.Generator, c: dict) -> ChartStyle:
    panel = _jitter(rng, _pick(rng, ((29, 30, 36), (37, 38, 46), (20, 28, 42))), 4)
    main, second = _two_colours(rng, _KIBANA_LINES)
    return ChartStyle(
        family="kibana_dark",
        page_bg=_blend(panel, (0, 0, 0), 0.3),
        panel_bg=panel,
        plot_bg=panel,
        border=(52, 55, 65) if rng.random() < 0.5 else None,
        text=(223, 229, 239),
        muted_text=(152, 162, 179),
        grid=(52, 55, 65),
        grid_axes=_pick(rng, ("both", "y")),
        grid_dash=(4, 4),
        spines=_pick(rng, ("b", "lb")),
        spine_color=(98, 102, 115),
        y_format=_pick(rng, ("si", "plain", "unit")),
        line_color=main,
        line_width=float(rng.uniform(1.2, 2.8)),
        draw_mode=_pick(rng, ("area", "area", "line", "line+points", "bars")),
        fill_alpha=float(rng.uniform(0.2, 0.45)),
        marker_size=float(rng.uniform(1.5, 3.0)),
        secondary_color=second,
        threshold_color=(233, 130, 92),
        annotation_color=(214, 191, 87),
        title_align="left",
        legend=_pick(rng, ("right", "right", "none", "top")),
        legend_marker=_pick(rng, ("line", "square")),
        **c,
    )


def _cloudwatch_light(rng: np.random.Generator, c: dict) -> ChartStyle:
    main, second = _two_colours(rng, _CLOUDWATCH_LINES)
    c = dict(c)
    c["threshold"] = bool(rng.random() < 0.4)
    c["threshold_dash"] = False
    c["font_size"] = float(rng.uniform(10.5, 12.5))
    metric = c["metric"]
    return ChartStyle(
        family="cloudwatch_light",
        page_bg=(242, 243, 243),
        panel_bg=(255, 255, 255),
        plot_bg=(255, 255, 255),
        border=(234, 237, 237),
        text=(22, 25, 31),
        muted_text=(84, 91, 100),
        grid=(233, 235, 237),
        grid_axes="y",
        grid_dash=None,
        spines="b",
        spine_color=(170, 183, 184),
        y_format="plain",
        ylabel=_METRIC_UNITS[metric][1],
        ylabel_rotated=False,
        line_color=main,
        line_width=float(rng.uniform(1.2, 2.2)),
        draw_mode=_pick(rng, ("line", "line", "line", "line+points")),
        marker_size=float(rng.uniform(1.5, 2.5)),
        secondary_color=second,
        threshold_color=(209, 50, 18),
        threshold_shade=bool(rng.random() < 0.6),
        threshold_label=f"{c['title'].split(' ')[0]} > threshold",
        annotation_color=(0, 115, 187),
        title_align="left",
        title_bold=True,
        legend=_pick(rng, ("bottom", "bottom", "bottom", "none")),
        legend_marker="square",
        **c,
    )


_FAMILY_BUILDERS = {
    "grafana_dark": _grafana_dark,
    "datadog": _datadog,
    "terminal": _terminal,
    "minimal": _minimal,
    "prometheus_classic": _prometheus,
    "kibana_dark": _kibana_dark,
    "cloudwatch_light": _cloudwatch_light,
}


def sample_style(family: str, rng: np.random.Generator, *, metric: str | None = None) -> ChartStyle:
    """A randomised `ChartStyle` from one of `STYLE_FAMILIES` (metric random when None)."""
    if family not in _FAMILY_BUILDERS:
        raise ValueError(f"unknown style family {family!r}; expected one of {STYLE_FAMILIES}")
    if metric is None:
        metric = _pick(rng, list(METRIC_KINDS))
    return _FAMILY_BUILDERS[family](rng, _common(rng, metric))


# --------------------------------------------------------------------------- rendering


def _time_ticks(n: int, start_min: float, step_min: float, max_ticks: int) -> tuple[list[float], float]:
    """Positions (in sample index units) of round-time ticks, and the tick spacing in minutes."""
    duration = (n - 1) * step_min
    spacing = 1.0
    for cand in (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440):
        spacing = float(cand)
        if duration / cand <= max_ticks:
            break
    first = math.ceil(start_min / spacing) * spacing
    ticks = []
    t = first
    while t <= start_min + duration + 1e-9:
        ticks.append((t - start_min) / step_min)
        t += spacing
    return ticks, spacing


def _fmt_time(minutes: float, fmt: str, spacing: float, start_min: float) -> str:
    if fmt == "-rel":
        return f"-{round(minutes)}m"
    total = round(minutes * 60)
    day, rem = divmod(total, 86400)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    if spacing >= 1440:
        return f"03/{14 + day:02d}"
    base = f"{hh:02d}:{mm:02d}:{ss:02d}" if spacing < 1 else f"{hh:02d}:{mm:02d}"
    if fmt == "%m/%d %H:%M":
        return f"03/{14 + day:02d} {base}"
    return base


def _draw_text(draw, xy, text: str, font, fill: RGB, bold: bool = False, anchor: str = "la") -> None:
    if bold:
        draw.text((xy[0] + 1, xy[1]), text, font=font, fill=fill, anchor=anchor)
    draw.text(xy, text, font=font, fill=fill, anchor=anchor)


def render_chart(
    series: np.ndarray,
    style: ChartStyle,
    rng: np.random.Generator,
    size: tuple[int, int] = (480, 270),
) -> Image.Image:
    """An RGB image of `size` (width, height) showing `series` as a dashboard panel in `style`.

    NaN values are gaps: the line is not drawn there (a metric that stopped reporting).
    """
    out_w, out_h = int(size[0]), int(size[1])
    if out_w < 48 or out_h < 48:
        raise ValueError("size must be at least 48x48")
    y = np.asarray(series, dtype=np.float64)
    n = y.size

    # Screenshot framing: the panel is smaller than the image (page background around it), or
    # larger (its edges cropped off).
    left_f, top_f, right_f, bottom_f = style.frame_amount
    if style.frame == "pad":
        pw = max(48, round(out_w * (1 - left_f - right_f)))
        ph = max(48, round(out_h * (1 - top_f - bottom_f)))
    elif style.frame == "crop":
        pw = round(out_w * (1 + left_f + right_f))
        ph = round(out_h * (1 + top_f + bottom_f))
    else:
        pw, ph = out_w, out_h

    ss = max(1, int(style.supersample))
    W, H = pw * ss, ph * ss
    scale = float(np.clip(min(pw / 480.0, ph / 270.0), 0.7, 2.5))
    u = scale * ss  # pixels per style pixel on the canvas

    img = Image.new("RGB", (W, H), style.panel_bg)
    draw = ImageDraw.Draw(img)

    font = _font(max(6, round(style.font_size * u)))
    small = _font(max(6, round(style.font_size * 0.9 * u)))
    th = _text_h(font)
    sh = _text_h(small)
    pad = 6 * u

    # ---- values on the y axis
    main_finite = y[np.isfinite(y)]
    if main_finite.size == 0:
        main_finite = np.zeros(1)
    m_lo, m_hi = float(main_finite.min()), float(main_finite.max())
    m_span = m_hi - m_lo if m_hi > m_lo else max(abs(m_hi), 1.0) * 0.2

    secondary = None
    if style.secondary:
        raw = generate_series("normal", rng, n, metric=style.metric)
        spread = float(np.percentile(raw, 97) - np.percentile(raw, 3)) or 1.0
        centre = m_lo + rng.uniform(0.15, 0.75) * m_span
        half = rng.uniform(0.06, 0.2) * m_span
        secondary = centre + (raw - np.median(raw)) / spread * 2 * half
        secondary = np.maximum(secondary, 0.0) if m_lo >= 0 else secondary

    threshold_value = None
    if style.threshold:
        threshold_value = m_lo + rng.uniform(0.55, 1.1) * m_span

    lo, hi = m_lo, m_hi
    if secondary is not None:
        lo, hi = min(lo, float(secondary.min())), max(hi, float(secondary.max()))
    if threshold_value is not None:
        hi = max(hi, threshold_value)
    if style.include_zero and lo > 0:
        lo = 0.0
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.2
    hi = hi + span * style.y_headroom
    if not (style.include_zero and lo == 0.0):
        lo = lo - span * style.y_footroom
        if m_lo >= 0 and lo < 0 and style.include_zero:
            lo = 0.0
    step = _nice_step((hi - lo) / max(2, style.n_yticks - 1))
    if style.snap_limits:
        lo = math.floor(lo / step + 1e-9) * step
        hi = math.ceil(hi / step - 1e-9) * step
    yticks = [v for v in np.arange(math.ceil(lo / step - 1e-9) * step, hi + step * 1e-6, step)]
    unit = _METRIC_UNITS[style.metric][0]
    ylabels = [_fmt_value(v, step, style.y_format, unit) for v in yticks]

    # ---- layout
    top = pad
    title_y = None
    if style.title and ph >= 90:
        title_y = top
        top += th + 4 * u
    legend_items: list[tuple[RGB, float, str]] = []
    if style.legend != "none":
        legend_items.append((style.line_color, style.line_width, style.series_label))
        if secondary is not None:
            legend_items.append(
                (
                    _blend(style.secondary_color, style.plot_bg, style.secondary_fade),
                    style.secondary_width,
                    style.secondary_label,
                )
            )
    legend_pos = style.legend if legend_items else "none"
    if legend_pos == "top" and ph >= 120:
        legend_y = top
        top += sh + 4 * u
    ylabel_top_y = None
    if style.ylabel and not style.ylabel_rotated and ph >= 120:
        ylabel_top_y = top
        top += sh + 3 * u
    top += max(2 * u, th / 2)  # room for the top tick label

    bottom = H - pad
    if legend_pos == "bottom" and ph >= 120:
        legend_y = bottom - sh
        bottom -= sh + 5 * u
    elif legend_pos == "bottom" or (legend_pos == "top" and ph < 120):
        legend_pos = "none"
    xlabel_y = bottom - th
    bottom -= th + 4 * u

    right = W - pad
    if legend_pos == "right":
        lw = max(_text_w(small, t) for _, _, t in legend_items) + 18 * u
        if pw - lw / ss > 260:
            right -= lw
            legend_x = right + 8 * u
        else:
            legend_pos = "none"
    left = pad
    if style.ylabel and style.ylabel_rotated:
        left += sh + 4 * u
    left += max(_text_w(font, t) for t in ylabels) + 6 * u
    right -= max(2 * u, _text_w(font, "00:00") / 2)
    if right - left < 30 * ss or bottom - top < 24 * ss:
        # too small for the chrome: keep only the plot and tick labels
        top = pad + th / 2
        bottom = H - pad - th - 4 * u
        right = W - pad - _text_w(font, "00:00") / 2
        title_y = None
        ylabel_top_y = None
        legend_pos = "none"
    x0, x1, y0, y1 = left, right, top, bottom

    if style.plot_bg != style.panel_bg:
        draw.rectangle([x0, y0, x1, y1], fill=style.plot_bg)

    def ypix(v):
        return y1 - (np.asarray(v, dtype=np.float64) - lo) / (hi - lo) * (y1 - y0)

    xs = x0 + np.arange(n) / max(1, n - 1) * (x1 - x0)

    # ---- threshold shading (under everything else)
    if threshold_value is not None and style.threshold_shade:
        ty = float(np.clip(ypix(threshold_value), y0, y1))
        draw.rectangle([x0, y0, x1, ty], fill=_blend(style.plot_bg, style.threshold_color, 0.08))

    # ---- main area fill / bars under the grid
    finite = np.isfinite(y)
    ys = np.where(finite, ypix(np.where(finite, y, lo)), np.nan)
    base_y = float(np.clip(ypix(max(lo, 0.0) if lo < 0 < hi else lo), y0, y1))
    if style.draw_mode == "area":
        fill = _blend(style.plot_bg, style.line_color, style.fill_alpha)
        for a, b in _runs(finite):
            pts = [(float(xs[i]), float(ys[i])) for i in range(a, b)]
            if len(pts) >= 2:
                draw.polygon([(pts[0][0], base_y), *pts, (pts[-1][0], base_y)], fill=fill)

    # ---- grid
    lw_grid = max(1, round(u * 0.8))
    dash = None
    if style.grid_dash is not None:
        dash = (max(1, int(style.grid_dash[0] * u)), max(1, int(style.grid_dash[1] * u)))
    if style.grid is not None and style.grid_axes in ("both", "y"):
        for v in yticks:
            py = float(ypix(v))
            if y0 - 1 <= py <= y1 + 1:
                if dash:
                    _dashed_hline(draw, x0, x1, py, style.grid, lw_grid, dash)
                else:
                    draw.line([(x0, py), (x1, py)], fill=style.grid, width=lw_grid)

    # x ticks (times)
    step_min = _pick(rng, (0.25, 0.5, 1.0, 1.0, 5.0, 10.0, 60.0))
    start_min = float(rng.integers(0, 24 * 60)) + float(rng.integers(0, 4)) * step_min
    fmt = style.time_format
    label_w = _text_w(font, _fmt_time(0, fmt, 1.0, 0) if fmt != "%m/%d %H:%M" else "03/14 00:00")
    max_ticks = max(2, int((x1 - x0) / (label_w * 1.8)))
    xticks, spacing = _time_ticks(n, start_min, step_min, max_ticks)
    if style.grid is not None and style.grid_axes in ("both", "x"):
        for tk in xticks:
            px = x0 + tk / max(1, n - 1) * (x1 - x0)
            if dash:
                _dashed_vline(draw, px, y0, y1, style.grid, lw_grid, dash)
            else:
                draw.line([(px, y0), (px, y1)], fill=style.grid, width=lw_grid)

    # ---- spines
    lw_spine = max(1, round(u))
    if style.spines in ("lb", "box"):
        draw.line([(x0, y0), (x0, y1)], fill=style.spine_color, width=lw_spine)
    if style.spines in ("lb", "b", "box"):
        draw.line([(x0, y1), (x1, y1)], fill=style.spine_color, width=lw_spine)
    if style.spines == "box":
        draw.line([(x0, y0), (x1, y0)], fill=style.spine_color, width=lw_spine)
        draw.line([(x1, y0), (x1, y1)], fill=style.spine_color, width=lw_spine)

    # ---- tick labels
    for v, text in zip(yticks, ylabels, strict=True):
        py = float(ypix(v))
        if y0 - 1 <= py <= y1 + 1:
            draw.text((x0 - 5 * u, py), text, font=font, fill=style.muted_text, anchor="rm")
    for tk in xticks:
        px = x0 + tk / max(1, n - 1) * (x1 - x0)
        minutes = start_min + tk * step_min
        label = _fmt_time(minutes, fmt, spacing, start_min)
        draw.text((px, xlabel_y), label, font=font, fill=style.muted_text, anchor="ma")

    # ---- annotation marker (placed independently of the pattern)
    if style.annotation == "vline":
        ax = x0 + rng.uniform(0.1, 0.9) * (x1 - x0)
        dash3 = (max(1, int(3 * u)), max(1, int(3 * u)))
        _dashed_vline(draw, ax, y0, y1, style.annotation_color, max(1, round(u)), dash3)
        tw = _text_w(small, style.annotation_text)
        tx = ax + 3 * u if ax + 3 * u + tw < x1 else ax - 3 * u - tw
        draw.text((tx, y0 + 1 * u), style.annotation_text, font=small, fill=style.annotation_color)

    # ---- secondary series (faint, thin)
    if secondary is not None:
        colour = _blend(style.secondary_color, style.plot_bg, style.secondary_fade)
        pts = list(zip(xs.tolist(), ypix(secondary).tolist(), strict=True))
        draw.line(pts, fill=colour, width=max(1, round(style.secondary_width * u)))

    # ---- threshold line
    if threshold_value is not None:
        ty = float(ypix(threshold_value))
        tw_ = max(1, round(1.2 * u))
        if style.threshold_dash:
            _dashed_hline(draw, x0, x1, ty, style.threshold_color, tw_, (max(2, int(6 * u)), max(2, int(4 * u))))
        else:
            draw.line([(x0, ty), (x1, ty)], fill=style.threshold_color, width=tw_)
        if style.threshold_label and ty - sh - 2 * u > y0:
            draw.text(
                (x1 - 2 * u, ty - 2 * u), style.threshold_label, font=small, fill=style.threshold_color, anchor="rd"
            )

    # ---- main series (most prominent: drawn last, thickest, full colour)
    lw_main = max(1, round(style.line_width * u))
    if style.secondary:
        lw_main = max(lw_main, round(style.secondary_width * u) + max(1, ss))
    colour = style.line_color
    mode = style.draw_mode
    if mode == "bars":
        slot = (x1 - x0) / max(1, n)
        bw = max(1.0, slot * 0.7)
        fill = _blend(style.plot_bg, colour, 0.85)
        for i in np.nonzero(finite)[0]:
            top_y = float(ys[i])
            draw.rectangle([xs[i] - bw / 2, min(top_y, base_y), xs[i] + bw / 2, max(top_y, base_y)], fill=fill)
    for a, b in _runs(finite):
        if mode == "bars":
            break
        run_xs = xs[a:b]
        run_ys = ys[a:b]
        if mode == "steps" and b - a >= 2:
            sx = np.repeat(run_xs, 2)[1:]
            sy = np.repeat(run_ys, 2)[:-1]
            pts = list(zip(sx.tolist(), sy.tolist(), strict=True))
        else:
            pts = list(zip(run_xs.tolist(), run_ys.tolist(), strict=True))
        if mode != "points":
            if len(pts) >= 2:
                draw.line(pts, fill=colour, width=lw_main, joint="curve" if lw_main > 2 else None)
            else:
                r = float(lw_main)
                draw.ellipse([pts[0][0] - r, pts[0][1] - r, pts[0][0] + r, pts[0][1] + r], fill=colour)
        if mode in ("points", "line+points"):
            r = max(1.0, style.marker_size * u * (1.0 if mode == "points" else 0.9))
            for qx, qy in pts:
                if style.family == "terminal":
                    draw.rectangle([qx - r, qy - r, qx + r, qy + r], fill=colour)
                else:
                    draw.ellipse([qx - r, qy - r, qx + r, qy + r], fill=colour)

    # ---- title, unit label, legend, badge
    if title_y is not None and style.title:
        title = style.title
        max_w = (W - 2 * pad) * (0.62 if style.annotation == "badge" else 0.95)
        while len(title) > 4 and _text_w(font, title) > max_w:
            title = title[:-2]
        if title != style.title:
            title = title.rstrip() + "…"
        tx = pad if style.title_align == "left" else (W - _text_w(font, title)) / 2
        _draw_text(draw, (tx, title_y), title, font, style.text, bold=style.title_bold)
    if style.annotation == "badge" and title_y is not None:
        finite_vals = y[np.isfinite(y)]
        last = finite_vals[-1] if finite_vals.size else 0.0
        last_text = f"last: {_fmt_value(last, step / 10, 'plain', '')}"
        badge = _pick(rng, (last_text, "ALARM", "OK", style.annotation_text, "5m avg"))
        bw = _text_w(small, badge) + 8 * u
        bx1 = W - pad
        box = [bx1 - bw, title_y, bx1, title_y + sh + 2 * u]
        draw.rectangle(box, outline=style.annotation_color, width=max(1, int(u)))
        draw.text((bx1 - bw + 4 * u, title_y + 1 * u), badge, font=small, fill=style.annotation_color)
    if ylabel_top_y is not None and style.ylabel:
        draw.text((pad, ylabel_top_y), style.ylabel, font=small, fill=style.muted_text)
    if style.ylabel and style.ylabel_rotated and (y1 - y0) > _text_w(small, style.ylabel):
        tw = int(_text_w(small, style.ylabel)) + 2
        ylabel_mask = Image.new("L", (tw, sh + 2), 0)
        ImageDraw.Draw(ylabel_mask).text((1, 1), style.ylabel, font=small, fill=255)
        ylabel_mask = ylabel_mask.rotate(90, expand=True)
        img.paste(style.muted_text, (int(pad), int((y0 + y1 - tw) / 2)), ylabel_mask)
    if legend_pos in ("bottom", "top"):
        lx = x0 if style.legend_marker == "square" or style.family != "grafana_dark" else pad
        ly = legend_y
        for c, w_, text in legend_items:
            if style.legend_marker == "square":
                s = 8 * u
                draw.rectangle([lx, ly + sh / 2 - s / 2, lx + s, ly + sh / 2 + s / 2], fill=c)
                lx += s + 4 * u
            else:
                swatch = [(lx, ly + sh / 2), (lx + 14 * u, ly + sh / 2)]
                draw.line(swatch, fill=c, width=max(1, round(w_ * u) + 1))
                lx += 18 * u
            draw.text((lx, ly), text, font=small, fill=style.text)
            lx += _text_w(small, text) + 12 * u
    elif legend_pos == "right":
        ly = y0
        for c, w_, text in legend_items:
            if style.legend_marker == "square":
                s = 8 * u
                draw.rectangle([legend_x, ly + sh / 2 - s / 2, legend_x + s, ly + sh / 2 + s / 2], fill=c)
            else:
                swatch = [(legend_x, ly + sh / 2), (legend_x + 10 * u, ly + sh / 2)]
                draw.line(swatch, fill=c, width=max(1, round(w_ * u) + 1))
            draw.text((legend_x + 14 * u, ly), text, font=small, fill=style.text)
            ly += sh + 4 * u

    if style.scanlines:
        dark_line = _blend(style.panel_bg, (0, 0, 0), 0.5)
        for yy in range(0, H, 4 * ss):
            draw.line([(0, yy), (W, yy)], fill=dark_line, width=1)
    if style.border is not None:
        draw.rectangle([0, 0, W - 1, H - 1], outline=style.border, width=max(1, ss))

    # ---- back to the panel size, then frame it like a screenshot
    if ss > 1:
        img = img.reduce(ss)
    if style.frame == "pad":
        page = Image.new("RGB", (out_w, out_h), style.page_bg)
        ox = min(out_w - pw, round(out_w * left_f))
        oy = min(out_h - ph, round(out_h * top_f))
        page.paste(img, (max(0, ox), max(0, oy)))
        img = page
    elif style.frame == "crop":
        ox = round(out_w * left_f)
        oy = round(out_h * top_f)
        img = img.crop((ox, oy, ox + out_w, oy + out_h))
    if img.size != (out_w, out_h):
        img = img.resize((out_w, out_h), Image.Resampling.BILINEAR)
    if style.blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(style.blur))
    if style.jpeg_quality is not None:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(style.jpeg_quality))
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img

