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

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 960, 420
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 78, 24, 52, 46
BACKGROUND = (255, 255, 255)
GRID = (228, 231, 235)
AXIS_TEXT = (84, 91, 100)
TITLE_TEXT = (22, 25, 31)
LINE = (31, 119, 180)
THRESHOLD = (209, 50, 18)
ALARM_MARK = (236, 114, 17)
BREACH_FILL = (253, 236, 234)


@dataclass(frozen=True)
class ChartSpec:
    title: str
    unit: str = ""
    threshold: float | None = None
    alarm_at: datetime | None = None


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
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


def _format_value(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def render_metric_chart(points: Sequence[tuple[datetime, float]], spec: ChartSpec) -> bytes:
    """The PNG bytes of the chart. With no points it says so, rather than draw an empty frame."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN_LEFT, 14), spec.title[:110], fill=TITLE_TEXT, font=_font(17))
    left, top, right, bottom = MARGIN_LEFT, MARGIN_TOP, WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM
    if not points:
        draw.text((left + 20, (top + bottom) // 2), "No data points in this window", fill=AXIS_TEXT, font=_font(15))
        return _png(image)
    times = [t.timestamp() for t, _ in points]
    values = [v for _, v in points]
    start, end = times[0], times[-1] if times[-1] > times[0] else times[0] + 60
    low, high, step = _y_range(values, spec.threshold)

    def x_of(stamp: float) -> float:
        return left + (stamp - start) / (end - start) * (right - left)

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    small = _font(12)
    tick = low
    while tick <= high + step / 2:
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=GRID, width=1)
        label = _format_value(tick)
        draw.text((left - 8 - draw.textlength(label, font=small), y - 7), label, fill=AXIS_TEXT, font=small)
        tick += step
    if spec.unit:
        draw.text((8, top - 20), spec.unit[:20], fill=AXIS_TEXT, font=small)
    for index in range(6):
        stamp = start + (end - start) * index / 5
        label = datetime.fromtimestamp(stamp, UTC).strftime("%H:%M")
        x = x_of(stamp)
        draw.line([(x, bottom), (x, bottom + 4)], fill=AXIS_TEXT, width=1)
        draw.text((x - draw.textlength(label, font=small) / 2, bottom + 8), label, fill=AXIS_TEXT, font=small)
    draw.text((right - 30, bottom + 24), "UTC", fill=AXIS_TEXT, font=small)
    if spec.threshold is not None:
        y = y_of(spec.threshold)
        draw.rectangle([left, top, right, y], fill=BREACH_FILL)
        for x in range(int(left), int(right), 12):  # dashed, as CloudWatch draws thresholds
            draw.line([(x, y), (min(x + 7, right), y)], fill=THRESHOLD, width=2)
        draw.text((left + 6, y - 18), f"threshold {_format_value(spec.threshold)}", fill=THRESHOLD, font=small)
    if spec.alarm_at is not None and start <= spec.alarm_at.timestamp() <= end:
        x = x_of(spec.alarm_at.timestamp())
        draw.line([(x, top), (x, bottom)], fill=ALARM_MARK, width=2)
        draw.text((x + 4, top + 2), "alarm", fill=ALARM_MARK, font=small)
    line = [(x_of(t), y_of(v)) for t, v in zip(times, values, strict=True)]
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
