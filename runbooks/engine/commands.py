"""A step's commands (its ``how``) filled in with the incident's own names.

The library's ``how`` texts carry placeholders such as ``{cluster}`` and ``{ecs_service}`` where
the seeds wrote ``multimodal-prod`` and ``multimodal-api``, so the same runbook reads right for
every configured service. Filling is a pure function of the text and a few known values:

- a known placeholder with a value becomes the value;
- a known placeholder without one becomes a readable stand-in (``CLUSTER``), as the seeds
  write ``TASK_ID`` for what the reader fills in;
- anything else in braces stays as written (JSON in a ``kubectl patch``, a typo), and
  ``incident-bot runbooks lint`` warns about unknown names (see ``unknown_placeholders``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.config.models import ServiceConfig

# Only lowercase words: `{"spec": ...}` and `${VAR}` are not placeholders.
PLACEHOLDER = re.compile(r"(?<!\$)\{([a-z][a-z0-9_]*)\}")

# Each known placeholder and what stands in for it when the incident has no value.
STAND_INS: Mapping[str, str] = {
    "service": "SERVICE",
    "cluster": "CLUSTER",
    "ecs_service": "ECS_SERVICE",
    "region": "REGION",
    "alarm": "ALARM_NAME",
    "log_group": "LOG_GROUP",
    "flags_prefix": "/FLAGS_PREFIX/",
}


@dataclass(frozen=True)
class CommandFacts:
    """What a step's commands may name; ``None``: not known for this incident."""

    service: str | None = None
    cluster: str | None = None
    ecs_service: str | None = None
    region: str | None = None
    alarm: str | None = None
    log_group: str | None = None
    flags_prefix: str | None = None

    @classmethod
    def of(cls, *, service_name: str | None, service: ServiceConfig | None = None, region: str | None = None,
           alarm: str | None = None) -> CommandFacts:
        """From the incident's service and its config, and the region and name of its alarm."""
        ecs = service.ecs if service is not None else None
        # The service's configured log group (the Logs investigation reads the same one); without
        # one, the seeds' ECS services log to /aws/ecs/<cluster>.
        log_group = service.logs.group if service is not None and service.logs is not None else None
        if not log_group:
            log_group = f"/aws/ecs/{ecs.cluster}" if ecs is not None else None
        return cls(service=service_name or None, cluster=ecs.cluster if ecs else None,
                   ecs_service=ecs.service if ecs else None, region=region or None, alarm=alarm or None,
                   log_group=log_group,
                   flags_prefix=service.flags.prefix if service is not None and service.flags else None)

    def value(self, name: str) -> str | None:
        found = getattr(self, name, None) if name in STAND_INS else None
        return found if isinstance(found, str) else None


def fill(how: str, facts: CommandFacts) -> str:
    """``how`` with each known placeholder replaced by its value, or by its stand-in."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in STAND_INS:
            return match.group(0)
        return facts.value(name) or STAND_INS[name]

    return PLACEHOLDER.sub(replace, how)


def unknown_placeholders(how: str) -> list[str]:
    """The ``{names}`` in ``how`` that ``fill`` does not know, in order, each once."""
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(how) if m.group(1) not in STAND_INS))


def known_names() -> Iterable[str]:
    return STAND_INS.keys()
