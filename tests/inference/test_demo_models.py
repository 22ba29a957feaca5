"""The demo's model act: a real worker process reads the incident, alone and with charts."""

from __future__ import annotations

import shutil
from pathlib import Path

from demo.models import show_diagnostics
from inference.mechanisms import MECHANISM_INFO


def test_the_demo_asks_a_real_worker_and_prints_class_mechanism_and_action(fusion_registry: Path,
                                                                           tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(fusion_registry, registry)
    lines: list[str] = []
    show_diagnostics("p99 latency above SLO on the scoring API", lines.append, registry=str(registry))
    text = "\n".join(lines)
    assert "did not answer" not in text, text
    assert "serving: chart-vit v1, fusion v1, incident-text v1" in text
    assert "incident-text: “p99 latency above SLO on the scoring API” → runbook " in text
    fusion_lines = [line for line in lines if line.strip().startswith("fusion, with a")]
    assert len(fusion_lines) == 2, text
    for line in fusion_lines:
        assert any(f"mechanism {name} " in line and info.first_action in line for name, info in MECHANISM_INFO.items())


def test_without_models_the_demo_says_how_to_get_them(tmp_path: Path) -> None:
    lines: list[str] = []
    show_diagnostics("anything", lines.append, registry=str(tmp_path / "nothing-here"))
    assert len(lines) == 1 and "make models" in lines[0]
