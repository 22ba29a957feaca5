"""Which served models the diagnostics read an incident with: text, chart, and both together."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelNames:
    text: str = "incident-text"
    chart: str = "chart-vit"
    fusion: str = "fusion"
