"""The alarm's metric as a PNG: the threshold and the alarm mark are where the values say."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image

from runbooks.diagnostics.metric_chart import ALARM_MARK, HEIGHT, LINE, THRESHOLD, WIDTH, ChartSpec, render_metric_chart

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def step_series(n: int = 90, step_at: int = 60) -> list[tuple[datetime, float]]:
    return [(START + timedelta(minutes=i), 0.3 if i < step_at else 1.4) for i in range(n)]


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    return image.convert("RGB")


def columns_with(image: Image.Image, colour: tuple[int, int, int]) -> set[int]:
    width, height = image.size
    pixels = image.load()
    return {x for x in range(width) for y in range(height) if pixels[x, y] == colour}


def rows_with(image: Image.Image, colour: tuple[int, int, int]) -> set[int]:
    width, height = image.size
    pixels = image.load()
    return {y for y in range(height) for x in range(width) if pixels[x, y] == colour}


def test_the_chart_draws_the_series_the_threshold_and_the_alarm_time() -> None:
    alarm_at = START + timedelta(minutes=63)
    image = decoded(render_metric_chart(step_series(), ChartSpec("P95 latency", unit="Seconds", threshold=1.0,
                                                                 alarm_at=alarm_at)))
    line_rows = rows_with(image, LINE)
    threshold_rows = rows_with(image, THRESHOLD)
    # The threshold (1.0) lies between the series' two levels (0.3 below it, 1.4 above it).
    assert min(line_rows) < min(threshold_rows) and max(line_rows) > max(threshold_rows)
    alarm_columns = columns_with(image, ALARM_MARK)
    line_columns = columns_with(image, LINE)
    assert alarm_columns and min(line_columns) < min(alarm_columns) < max(line_columns)
    # The alarm mark is 63 of 89 minutes across the plot.
    assert abs((min(alarm_columns) - min(line_columns)) / (max(line_columns) - min(line_columns)) - 63 / 89) < 0.03


def test_the_same_series_gives_the_same_bytes_and_an_empty_one_says_so() -> None:
    spec = ChartSpec("P95 latency", threshold=1.0)
    assert render_metric_chart(step_series(), spec) == render_metric_chart(step_series(), spec)
    empty = decoded(render_metric_chart([], spec))
    assert not columns_with(empty, LINE)


def test_a_flat_or_single_point_series_still_renders() -> None:
    flat = [(START + timedelta(minutes=i), 5.0) for i in range(10)]
    assert columns_with(decoded(render_metric_chart(flat, ChartSpec("flat"))), LINE)
    assert columns_with(decoded(render_metric_chart(flat[:1], ChartSpec("one"))), LINE)
