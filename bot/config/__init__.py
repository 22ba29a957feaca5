"""The typed YAML configuration, loaded and validated once at start-up.

    config = load_config(os.environ.get("INCIDENT_BOT_CONFIG"))
    config.severity_policy("P1").respond_within

The format is `shared/config.example.yaml`; `bot/defaults/config.yaml` is the project's copy.
"""

from bot.config.base import Audience
from bot.config.errors import ConfigError, ConfigProblem
from bot.config.fields import KNOWN_ACTIONS, is_channel_id
from bot.config.loader import BUNDLED_CONFIG_PATH, load_config
from bot.config.models import (
    DEFAULT_PRIORITY_MAP,
    DEFAULT_SEVERITIES,
    ActionsConfig,
    AlertsConfig,
    ChannelsConfig,
    EcsConfig,
    EscalationConfig,
    EscalationLevel,
    FlagsConfig,
    IncidentBotConfig,
    MetricConfig,
    PagerDutyConfig,
    RbacConfig,
    RouteMatch,
    RoutingRule,
    ServiceConfig,
    SeverityPolicy,
    UrgencyDefault,
)
from bot.config.severity import Severity

__all__ = [
    "BUNDLED_CONFIG_PATH",
    "DEFAULT_PRIORITY_MAP",
    "DEFAULT_SEVERITIES",
    "KNOWN_ACTIONS",
    "ActionsConfig",
    "AlertsConfig",
    "Audience",
    "ChannelsConfig",
    "ConfigError",
    "ConfigProblem",
    "EcsConfig",
    "EscalationConfig",
    "EscalationLevel",
    "FlagsConfig",
    "IncidentBotConfig",
    "MetricConfig",
    "PagerDutyConfig",
    "RbacConfig",
    "RouteMatch",
    "RoutingRule",
    "ServiceConfig",
    "Severity",
    "SeverityPolicy",
    "UrgencyDefault",
    "is_channel_id",
    "load_config",
]
