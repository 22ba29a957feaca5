"""The providers an action drives, bundled so the pipeline can be built with any subset."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.ports.cloudwatch import MetricSource
from bot.core.ports.ecs import EcsProvider
from bot.core.ports.http_probe import HttpProbe
from bot.core.ports.models import ModelControl
from bot.core.ports.notices import NoticePublisher
from bot.core.ports.provider_admin import ProviderAdmin
from bot.core.ports.security import AccessKeys, SecretStore
from bot.core.ports.ssm import ParameterStore


@dataclass(frozen=True)
class ActionProviders:
    ecs: EcsProvider | None = None
    parameters: ParameterStore | None = None
    models: ModelControl | None = None
    # Provider failover (seed 003): health URLs, health and traffic metrics, an admin API.
    probe: HttpProbe | None = None
    metrics: MetricSource | None = None
    provider_admin: ProviderAdmin | None = None
    notices: NoticePublisher | None = None  # publish_notice: queues it for the audience's channel and status page
    # Security incidents: rotate a Secrets Manager secret, deactivate an IAM access key.
    secrets: SecretStore | None = None
    access_keys: AccessKeys | None = None
