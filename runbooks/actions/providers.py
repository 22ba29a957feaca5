"""The providers an action drives, bundled so the pipeline can be built with any subset."""

from __future__ import annotations

from dataclasses import dataclass

from runbooks.providers.ecs import EcsProvider
from runbooks.providers.models import ModelControl
from runbooks.providers.ssm import ParameterStore


@dataclass(frozen=True)
class ActionProviders:
    ecs: EcsProvider | None = None
    parameters: ParameterStore | None = None
    models: ModelControl | None = None
