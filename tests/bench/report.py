"""What every benchmark does with its figures: a section of BENCHMARKS.md, and JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def update_benchmarks(name: str, section: str, *, path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Replace the section between ``<!-- name -->`` and ``<!-- /name -->``, or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{section}{end}\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities (a row with no successful request) written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def publish(name: str, result: dict[str, Any], section: str, *, json_path: Path | str, markdown: bool = True) -> None:
    """What every benchmark does at the end: its figures as JSON, its table printed and, unless
    ``markdown`` is off (``--no-write``), the table in its section of BENCHMARKS.md."""
    path = Path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(result), indent=2) + "\n")
    print(section)
    if markdown:
        update_benchmarks(name, section)
