"""A chart set: several metric charts drawn by the Diagnose renderer, tiled into one PNG.

A finding carries one attachment, so the Metrics and Canary investigations upload one image
with a panel per metric, read left to right and top to bottom, each panel as `chart-vit` reads
it on its own. A pure function of its inputs, like the renderer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from runbooks.diagnostics.metric_chart import BACKGROUND, GRID, HEIGHT, WIDTH, ChartSpec, render_metric_chart

GAP = 2  # a gridline-coloured seam between panels


@dataclass(frozen=True)
class Panel:
    key: str  # names the panel in the finding's data (p95, error_rate, alarm ...)
    name: str  # what a line calls it: "p95 latency"
    points: Sequence[tuple[datetime, float]]
    spec: ChartSpec


def render_panels(panels: Sequence[Panel]) -> list[bytes]:
    return [render_metric_chart(panel.points, panel.spec) for panel in panels]


def tile(pngs: Sequence[bytes], *, columns: int = 2) -> bytes:
    """The panels in a grid of ``columns``, in order; one panel comes back as it is."""
    if len(pngs) == 1:
        return pngs[0]
    from PIL import Image  # with the first chart, as in metric_chart

    columns = max(1, min(columns, len(pngs)))
    rows = -(-len(pngs) // columns)
    sheet = Image.new("RGB", (columns * WIDTH + (columns - 1) * GAP, rows * HEIGHT + (rows - 1) * GAP), GRID)
    for index, png in enumerate(pngs):
        with Image.open(io.BytesIO(png)) as panel:
            row, column = divmod(index, columns)
            sheet.paste(panel.convert("RGB"), (column * (WIDTH + GAP), row * (HEIGHT + GAP)))
    for index in range(len(pngs), rows * columns):  # the last row's empty places stay blank
        row, column = divmod(index, columns)
        sheet.paste(BACKGROUND, (column * (WIDTH + GAP), row * (HEIGHT + GAP), (column + 1) * WIDTH + column * GAP,
                                 (row + 1) * HEIGHT + row * GAP))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
