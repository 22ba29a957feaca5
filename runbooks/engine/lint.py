"""`incident-bot runbooks lint`'s checks beyond the schema: placeholders, and targets against a config.

A step's commands may only use the placeholders ``runbooks.engine.commands`` fills in; anything
else in braces is shown as written, which is right for JSON but usually a typo, so it is a
warning, not an error.

With a config, every target a step's action names must exist there, or its button would open a
form with nothing chosen: a model rollback's model in some service's ``models``, a config
rollback's parameter (by name, or by full path under the service's prefix) and a flag step's
flag in some service's ``flags``, and scale, stop, redeploy and deploy rollbacks need a service
with an ECS service. Runbooks are not tied to one service, so a target held by any service will do.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import IncidentBotConfig
from runbooks.engine.commands import unknown_placeholders
from runbooks.engine.loader import Library
from runbooks.engine.schema import Step


@dataclass(frozen=True)
class Finding:
    runbook: str
    step: str
    message: str

    def __str__(self) -> str:
        return f"{self.runbook}: step {self.step}: {self.message}"


def placeholder_warnings(library: Library) -> list[Finding]:
    found = []
    for name in library.names():
        for _, step in library.runbooks[name].steps():
            for unknown in unknown_placeholders(step.how):
                found.append(Finding(name, step.id, f"how: unknown placeholder {{{unknown}}} is shown as written "
                                                    "(known: {service}, {cluster}, {ecs_service}, {region}, "
                                                    "{alarm}, {log_group}, {flags_prefix})"))
    return found


def target_problems(library: Library, config: IncidentBotConfig) -> list[Finding]:
    """Each step action whose target the config does not have."""
    problems = []
    for name in library.names():
        for _, step in library.runbooks[name].steps():
            message = _missing_target(step, config)
            if message:
                problems.append(Finding(name, step.id, message))
    return problems


def flag_name(target: str, config: IncidentBotConfig) -> str | None:
    """The configured flag a target names, given as a name or as a full path under a service's prefix."""
    for service in config.services.values():
        flags = service.flags
        if flags is None:
            continue
        bare = target.removeprefix(flags.prefix)
        if bare in flags.names:
            return bare
    return None


def _missing_target(step: Step, config: IncidentBotConfig) -> str | None:
    action = step.action
    if action is None:
        return None
    services = config.services.values()
    has_ecs = any(service.ecs is not None for service in services)
    if action.rollback is not None:
        rollback = action.rollback
        if rollback.kind == "model":
            models = sorted({m for service in services for m in service.models})
            if rollback.target and rollback.target not in models:
                return (f"rolls back model {rollback.target!r}, which no service's models list "
                        f"({', '.join(models) or 'none configured'})")
            if not models:
                return "rolls back a model, but no service lists models"
        elif rollback.kind == "config":
            if not any(service.flags and service.flags.names for service in services):
                return "rolls back a config parameter, but no service has flags"
            if rollback.target and flag_name(rollback.target, config) is None:
                return f"rolls back parameter {rollback.target!r}, which no service's flags name"
        elif not has_ecs:
            return "rolls back a deployment, but no service has an ECS service"
    elif action.flag is not None and flag_name(action.flag.name, config) is None:
        return f"sets flag {action.flag.name!r}, which no service's flags name"
    elif action.kind in ("scale", "stop", "redeploy") and not has_ecs:
        return f"{action.kind}s the service, but no service has an ECS service"
    return None
