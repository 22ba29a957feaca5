"""The alarm's metric as a PNG: the threshold and the alarm mark are where the values say."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image

from runbooks.diagnostics.metric_chart import (
    ALARM_MARK,
    BREACH_FILL,
    HEIGHT,
    LINE,
    THRESHOLD,
    WIDTH,
    ChartSpec,
    render_metric_chart,
)

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


def most_common_row(image: Image.Image, colour: tuple[int, int, int], columns: range | None = None) -> int:
    """The row with the most pixels of ``colour``: a horizontal line's, not its label's."""
    width, height = image.size
    pixels = image.load()
    counts = {y: sum(1 for x in (columns or range(width)) if pixels[x, y] == colour) for y in range(height)}
    return max(counts, key=lambda y: counts[y])


def most_common_column(image: Image.Image, colour: tuple[int, int, int]) -> int:
    """The column with the most pixels of ``colour``: a vertical marker's, not its label's."""
    width, height = image.size
    pixels = image.load()
    counts = {x: sum(1 for y in range(height) if pixels[x, y] == colour) for x in range(width)}
    return max(counts, key=lambda x: counts[x])


def line_row_at(image: Image.Image, x: int) -> float:
    """The middle of the series' line in column ``x``."""
    rows = [y for y in range(image.size[1]) if image.load()[x, y] == LINE]
    assert rows, f"no line in column {x}"
    return (min(rows) + max(rows)) / 2


def test_the_image_is_large_enough_to_read() -> None:
    image = decoded(render_metric_chart(step_series(), ChartSpec("P95 latency", unit="Seconds", threshold=1.0)))
    assert image.size[0] >= 800 and image.size[1] >= 400


def test_the_threshold_line_lies_at_its_value_between_the_two_levels() -> None:
    image = decoded(render_metric_chart(step_series(), ChartSpec("P95 latency", unit="Seconds", threshold=1.0)))
    columns = sorted(columns_with(image, LINE))
    low = line_row_at(image, columns[len(columns) // 4])  # the 0.3 s stretch
    high = line_row_at(image, columns[-5])  # the 1.4 s stretch
    threshold = most_common_row(image, THRESHOLD)
    # Rows grow downwards: the value's share of the way from 0.3 to 1.4 is the row's.
    assert abs((low - threshold) / (low - high) - (1.0 - 0.3) / (1.4 - 0.3)) < 0.03


def test_an_alarm_after_the_last_datapoint_is_still_marked_in_the_window() -> None:
    """The demo's picture before the fix: the data stopped before the alarm, and so did the chart."""
    points = step_series(n=60, step_at=40)  # 10:00 to 10:59
    alarm_at = START + timedelta(minutes=75)
    spec = ChartSpec("P95 latency", threshold=1.0, alarm_at=alarm_at, window=(START, START + timedelta(minutes=90)))
    image = decoded(render_metric_chart(points, spec))
    line_columns = columns_with(image, LINE)
    assert columns_with(image, ALARM_MARK), "no alarm marker"
    # The line covers 59 of the window's 90 minutes from its left edge; the alarm is 75 minutes in.
    minute = (max(line_columns) - min(line_columns)) / 59
    assert abs((most_common_column(image, ALARM_MARK) - min(line_columns)) / minute - 75) < 1.5


def test_the_breach_side_follows_the_comparison() -> None:
    falling = [(START + timedelta(minutes=i), 0.93 if i < 60 else 0.78) for i in range(90)]
    above = decoded(render_metric_chart(falling, ChartSpec("accuracy", threshold=0.85,
                                                           comparison="GreaterThanThreshold")))
    below = decoded(render_metric_chart(falling, ChartSpec("accuracy", threshold=0.85, comparison="LessThanThreshold")))
    for image, breached_above in ((above, True), (below, False)):
        threshold = most_common_row(image, THRESHOLD)
        shaded = rows_with(image, BREACH_FILL)
        assert shaded
        assert (max(shaded) < threshold) is breached_above and (min(shaded) > threshold) is not breached_above
