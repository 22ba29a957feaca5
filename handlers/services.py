"""The services a request handler can reach, built once per app and injected through Bolt's context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import IncidentBotConfig
from bot.core.actions.pipeline import ActionPipeline
from bot.core.actions.providers import ActionProviders
from bot.core.escalation import EscalationPolicy
from bot.core.evidence import EvidenceCollector
from bot.core.unit_of_work import Core
from bot.metrics import Metrics
from bot.slack.gateway import SlackGateway
from handlers.jobs.diagnose import Diagnoser
from handlers.jobs.investigate import Investigator
from runbooks.engine.loader import Library

SERVICES_KEY = "incident_bot_services"


@dataclass(frozen=True)
class Services:
    core: Core
    gateway: SlackGateway
    config: IncidentBotConfig
    metrics: Metrics
    actions: ActionPipeline
    action_providers: ActionProviders
    diagnoser: Diagnoser
    escalation: EscalationPolicy
    runbooks: Library
    investigator: Investigator
    evidence: EvidenceCollector | None = None  # "Preserve evidence" (security incidents)

    @property
    def severity_names(self) -> Mapping[str, str]:
        return {sev.value: policy.name for sev, policy in self.config.severities.items()}
