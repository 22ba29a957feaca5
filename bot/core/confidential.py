"""Whether an incident is confidential: the one predicate every public writer asks.

A confidential (security) incident gets a private channel, and nothing the bot writes where
people outside it can read (``#incidents``, the managers' thread, an executive channel, the
list of incidents) names its title, service or summary. Every such writer asks this function,
so the rule lives in one place: the incident's runbook is one of ``security.runbooks``.
"""

from __future__ import annotations

from typing import Protocol

from bot.config.models import IncidentBotConfig
from bot.config.security import SecurityConfig

# What public places show instead of a confidential incident's title.
NEUTRAL_TITLE = "Confidential incident"
NEUTRAL_ANNOUNCEMENT = "A confidential incident was declared; responders have been paged."

_DEFAULT = SecurityConfig()


class HasRunbook(Protocol):
    @property
    def runbook_class(self) -> str | None: ...


class HasTitle(HasRunbook, Protocol):
    @property
    def title(self) -> str: ...


def is_confidential(incident: HasRunbook, config: IncidentBotConfig | SecurityConfig | None = None) -> bool:
    """True when the incident follows one of the configured security runbooks.

    ``config`` may be the whole configuration or its ``security`` section; left out, the default
    (``runbooks: [security]``) applies, so a caller without the config still errs on the side
    of keeping a security incident private.
    """
    security = _security_section(config)
    return incident.runbook_class is not None and incident.runbook_class in security.runbooks


def is_confidential_runbook(runbook: str | None, config: IncidentBotConfig | SecurityConfig | None = None) -> bool:
    """The same rule for a runbook not yet stored on an incident (at declaration, on a switch)."""
    return runbook is not None and runbook in _security_section(config).runbooks


def public_title(incident: HasTitle, config: IncidentBotConfig | SecurityConfig | None = None) -> str:
    """The title to show where anyone can read: the neutral one for a confidential incident."""
    return NEUTRAL_TITLE if is_confidential(incident, config) else incident.title


def _security_section(config: IncidentBotConfig | SecurityConfig | None) -> SecurityConfig:
    if config is None:
        return _DEFAULT
    if isinstance(config, SecurityConfig):
        return config
    return config.security
