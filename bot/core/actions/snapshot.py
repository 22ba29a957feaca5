"""The current state of a service's actionable parts, for the Scale, Rollback and Flags modals.

Each part is read on its own and a failing provider only blanks its own part, with the reason:
a modal that says "ECS did not answer" is still useful for the flags beside it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.config import IncidentBotConfig
from bot.config.models import EcsConfig
from bot.core.actions.providers import ActionProviders
from bot.core.ports.ecs import EcsServiceState, revision_label
from bot.core.ports.errors import ProviderError
from bot.core.ports.models import ModelState


@dataclass(frozen=True)
class FlagReading:
    name: str
    path: str
    value: str | None  # None: the parameter does not exist (yet)
    version: int | None
    previous: str | None  # the value before the current one, what a config rollback restores


@dataclass(frozen=True)
class ServiceSnapshot:
    service: str
    ecs: EcsConfig | None = None
    ecs_state: EcsServiceState | None = None
    previous_revision: str | None = None
    models: tuple[ModelState, ...] = ()
    flags: tuple[FlagReading, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)  # part ("ecs", "models", "flags") -> why it is blank


async def read_snapshot(*, config: IncidentBotConfig, providers: ActionProviders, service: str) -> ServiceSnapshot:
    name = config.service_name(service) or service
    settings = config.services.get(name)
    if settings is None:
        return ServiceSnapshot(service=name, errors={"service": f"{name} isn't a configured service"})
    errors: dict[str, str] = {}
    ecs_part, models_part, flags_part = await asyncio.gather(
        _read_ecs(settings.ecs, providers, errors),
        _read_models(settings.models, providers, errors),
        _read_flags(settings.flags.prefix if settings.flags else None,
                    settings.flags.names if settings.flags else (), providers, errors),
    )
    state, previous = ecs_part
    return ServiceSnapshot(service=name, ecs=settings.ecs, ecs_state=state, previous_revision=previous,
                           models=models_part, flags=flags_part, errors=errors)


async def _read_ecs(ecs: EcsConfig | None, providers: ActionProviders,
                    errors: dict[str, str]) -> tuple[EcsServiceState | None, str | None]:
    if ecs is None:
        return None, None
    if providers.ecs is None:
        errors["ecs"] = "ECS is not set up on this bot"
        return None, None
    try:
        state = await providers.ecs.describe(cluster=ecs.cluster, service=ecs.service)
        previous = await providers.ecs.previous_task_definition(state.task_definition)
    except ProviderError as exc:
        errors["ecs"] = exc.message
        return None, None
    return state, revision_label(previous) if previous else None


async def _read_models(names: tuple[str, ...], providers: ActionProviders,
                       errors: dict[str, str]) -> tuple[ModelState, ...]:
    if not names:
        return ()
    if providers.models is None:
        errors["models"] = "the model worker is not set up on this bot"
        return ()
    models = providers.models
    results = await asyncio.gather(*(models.state(name) for name in names), return_exceptions=True)
    states = []
    for name, result in zip(names, results, strict=True):
        if isinstance(result, ProviderError):
            errors[f"model:{name}"] = result.message
        elif isinstance(result, BaseException):
            raise result
        else:
            states.append(result)
    return tuple(states)


async def _read_flags(prefix: str | None, names: tuple[str, ...], providers: ActionProviders,
                      errors: dict[str, str]) -> tuple[FlagReading, ...]:
    if prefix is None or not names:
        return ()
    if providers.parameters is None:
        errors["flags"] = "Parameter Store is not set up on this bot"
        return ()
    store = providers.parameters
    paths = [prefix + name for name in names]
    try:
        found = await store.get_many(paths)
        histories = await asyncio.gather(*(store.history(path) for path in paths if path in found))
    except ProviderError as exc:
        errors["flags"] = exc.message
        return ()
    previous_by_path = {}
    for path, history in zip([p for p in paths if p in found], histories, strict=True):
        current = found[path]
        earlier = [h for h in history if h.version < current.version]
        previous_by_path[path] = earlier[-1].value if earlier else None
    return tuple(
        FlagReading(name=name, path=path, value=found[path].value if path in found else None,
                    version=found[path].version if path in found else None, previous=previous_by_path.get(path))
        for name, path in zip(names, paths, strict=True)
    )
