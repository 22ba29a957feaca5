"""The providers an action drives, bundled so the pipeline can be built with any subset."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.ports.ecs import EcsProvider
from bot.core.ports.models import ModelControl
from bot.core.ports.ssm import ParameterStore


@dataclass(frozen=True)
class ActionProviders:
    ecs: EcsProvider | None = None
    parameters: ParameterStore | None = None
    models: ModelControl | None = None
