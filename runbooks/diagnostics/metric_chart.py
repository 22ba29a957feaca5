"""A clear PNG of an alarm's metric: the series, the threshold, and when the alarm fired.

Drawn with Pillow alone, in the CloudWatch console's light style, so a responder reads it at a
glance in Slack and `chart-vit` (which never trained on this style) reads it too. A pure
function of its inputs: the same series always gives the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageFont


WIDTH, HEIGHT = 960, 440
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 84, 28, 60, 56
BACKGROUND = (255, 255, 255)
GRID = (228, 231, 235)
AXIS_TEXT = (84, 91, 100)
TITLE_TEXT = (22, 25, 31)
LINE = (31, 119, 180)
THRESHOLD = (209, 50, 18)
ALARM_MARK = (236, 114, 17)
BREACH_FILL = (253, 236, 234)
# The alarm fires when the value is on this side of the threshold; that side is shaded.
_BREACH_BELOW = frozenset({"LessThanThreshold", "LessThanOrEqualToThreshold", "LessThanLowerThreshold",
                           "LessThanLowerOrGreaterThanUpperThreshold"})
_COMPARISON_SIGN = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=",
                    "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}
# Round spacings for the time axis, in minutes: the first that gives at most 8 ticks is used.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


@dataclass(frozen=True)
class ChartSpec:
    title: str
    unit: str = ""
    threshold: float | None = None
    alarm_at: datetime | None = None
    comparison: str | None = None  # CloudWatch's ComparisonOperator, e.g. GreaterThanThreshold
    # The time axis; without it, the data's own span (stretched to include the alarm).
    window: tuple[datetime, datetime] | None = None


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1, or no FreeType
        return ImageFont.load_default()


def _nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` gridlines."""
    raw = span / max(ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _y_range(values: Sequence[float], threshold: float | None) -> tuple[float, float, float]:
    candidates = list(values) + ([threshold] if threshold is not None else [])
    low, high = min(candidates), max(candidates)
    low = min(low, 0.0) if low >= 0 and low < (high - low) else low  # anchor at zero when it is close
    if high == low:
        high = low + (abs(low) or 1.0)
    step = _nice_step((high - low) * 1.1)
    return math.floor(low / step) * step, math.ceil(high * 1.05 / step) * step, step


def _x_range(times: Sequence[float], spec: ChartSpec) -> tuple[float, float]:
    if spec.window is not None and spec.window[1] > spec.window[0]:
        return spec.window[0].timestamp(), spec.window[1].timestamp()
    stamps = list(times) + ([spec.alarm_at.timestamp()] if spec.alarm_at is not None else [])
    start, end = min(stamps), max(stamps)
    return start, end if end > start else start + 60


def _time_ticks(start: float, end: float) -> list[float]:
    minutes = next((m for m in _TIME_STEPS if (end - start) / (m * 60) <= 8), _TIME_STEPS[-1])
    step = minutes * 60
    first = math.ceil(start / step) * step
    return [first + i * step for i in range(int((end - first) // step) + 1)]


def _format_value(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _threshold_label(spec: ChartSpec, threshold: float) -> str:
    sign = _COMPARISON_SIGN.get(spec.comparison or "")
    value = f"{_format_value(threshold)} {spec.unit}".strip()
    return f"alarm when {sign} {value}" if sign else f"threshold {value}"


def render_metric_chart(points: Sequence[tuple[datetime, float]], spec: ChartSpec) -> bytes:
    """The PNG bytes of the chart. With no points it says so, rather than draw an empty frame."""
    # Pillow loads with the first chart, not with the bot: most replicas draw none for hours.
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN_LEFT, 16), spec.title[:100], fill=TITLE_TEXT, font=_font(20))
    left, top, right, bottom = MARGIN_LEFT, MARGIN_TOP, WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM
    start, end = _x_range([t.timestamp() for t, _ in points] or [0.0], spec)
    shown = [(t.timestamp(), v) for t, v in points if start <= t.timestamp() <= end]
    if not shown:
        draw.text((left + 20, (top + bottom) // 2), "No data points in this window", fill=AXIS_TEXT, font=_font(18))
        return _png(image)
    low, high, step = _y_range([v for _, v in shown], spec.threshold)

    def x_of(stamp: float) -> float:
        return left + (stamp - start) / (end - start) * (right - left)

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    small = _font(15)
    if spec.threshold is not None:  # first, so the gridlines stay visible through the shading
        y = y_of(spec.threshold)
        draw.rectangle([left, y, right, bottom] if spec.comparison in _BREACH_BELOW else [left, top, right, y],
                       fill=BREACH_FILL)
    tick = low
    while tick <= high + step / 2:
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=GRID, width=1)
        label = _format_value(tick)
        draw.text((left - 8 - draw.textlength(label, font=small), y - 8), label, fill=AXIS_TEXT, font=small)
        tick += step
    if spec.unit:
        draw.text((8, top - 24), spec.unit[:20], fill=AXIS_TEXT, font=small)
    for stamp in _time_ticks(start, end):
        x = x_of(stamp)
        draw.line([(x, top), (x, bottom)], fill=GRID, width=1)
        draw.line([(x, bottom), (x, bottom + 4)], fill=AXIS_TEXT, width=1)
        label = datetime.fromtimestamp(stamp, UTC).strftime("%H:%M")
        draw.text((x - draw.textlength(label, font=small) / 2, bottom + 8), label, fill=AXIS_TEXT, font=small)
    draw.text((right - draw.textlength("time (UTC)", font=small), bottom + 30), "time (UTC)", fill=AXIS_TEXT,
              font=small)
    if spec.threshold is not None:
        y = y_of(spec.threshold)
        for x in range(int(left), int(right), 12):  # dashed, as CloudWatch draws thresholds
            draw.line([(x, y), (min(x + 7, right), y)], fill=THRESHOLD, width=2)
        label = _threshold_label(spec, spec.threshold)
        draw.text((left + 6, y - 22 if y - 22 >= top else y + 6), label, fill=THRESHOLD, font=small)
    if spec.alarm_at is not None and start <= spec.alarm_at.timestamp() <= end:
        x = x_of(spec.alarm_at.timestamp())
        draw.line([(x, top), (x, bottom)], fill=ALARM_MARK, width=2)
        label = f"ALARM {spec.alarm_at.astimezone(UTC):%H:%M} UTC"
        width = draw.textlength(label, font=small)
        draw.text((x + 5 if x + 5 + width <= right else x - 5 - width, top - 20), label, fill=ALARM_MARK, font=small)
    line = [(x_of(t), y_of(v)) for t, v in shown]
    if len(line) == 1:
        x, y = line[0]
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=LINE)
    else:
        draw.line(line, fill=LINE, width=3, joint="curve")
    draw.rectangle([left, top, right, bottom], outline=GRID, width=1)
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
