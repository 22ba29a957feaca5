"""`services.<name>.providers` (seed 003's failover): what loads, and every bad document fails
with an error that names the key and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from bot.config import ConfigError, IncidentBotConfig

GOOD = """
services:
  ai-orchestrator:
    providers:
      primary: {name: openai, health_url: "http://orchestrator.internal/providers/openai/health"}
      backups:
        - name: anthropic
          health_metric: {namespace: AI/Providers, name: Availability, dimensions: {Provider: anthropic},
                          threshold: 95}
      switch:
        ssm: {parameter: /orchestrator/prod/active_provider}
"""


def providers_with(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(GOOD)
    data["services"]["ai-orchestrator"]["providers"].update(changes)
    return data


def error_for(data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        IncidentBotConfig.from_mapping(data, source="config.yaml")
    message = str(info.value)
    assert "Traceback" not in message and "pydantic" not in message
    return message


def test_a_service_with_providers_loads_with_the_seeds_defaults() -> None:
    config = IncidentBotConfig.from_mapping(yaml.safe_load(GOOD))
    providers = config.services["ai-orchestrator"].providers
    assert providers is not None
    assert providers.names == ("openai", "anthropic")
    assert providers.switch.mechanism == "ssm" and not providers.switch.weighted
    assert providers.restore_shares == (10, 50, 100)
    assert providers.slow_after == timedelta(seconds=1.5) and providers.max_error_rate == 0.02
    assert providers.backups[0].health_metric is not None
    assert providers.backups[0].health_metric.unhealthy_when == "below"


def test_an_http_switch_with_weights_loads() -> None:
    data = providers_with(switch={"http": {"url": "https://orch.internal/admin/routing", "method": "PUT",
                                           "body": {"provider": "{provider}", "share": "{share}",
                                                    "fallback": "{fallback}"},
                                           "token_env": "ORCH_ADMIN_TOKEN", "weights": True}},
                          restore_shares=[25, 100])
    providers = IncidentBotConfig.from_mapping(data).services["ai-orchestrator"].providers
    assert providers is not None and providers.switch.weighted and providers.restore_shares == (25, 100)


P = "config.yaml: services.ai-orchestrator.providers"
BAD = [
    ({"primary": {"name": "OpenAI!", "health_url": "http://x.internal/h"}}, f"{P}.primary.name:"),
    ({"primary": {"name": "openai"}}, f"{P}.primary.health_url: give health_url or health_metric"),
    ({"backups": []}, f"{P}.backups:"),
    ({"backups": [{"name": "openai", "health_url": "http://x.internal/h"}]},
     f"{P}.backups[0].name: 'openai' is named twice"),
    ({"switch": {}}, f"{P}.switch.ssm: give exactly one of ssm or http"),
    ({"switch": {"ssm": {"parameter": "active_provider"}}}, f"{P}.switch.ssm.parameter:"),
    ({"switch": {"http": {"url": "http://x.internal/r", "body": {"to": "openai"}}}}, f"{P}.switch.http.body:"),
    ({"switch": {"http": {"url": "http://x.internal/r", "token_env": "sk-live-123"}}}, f"{P}.switch.http.token_env:"),
    ({"switch": {"http": {"url": "http://x.internal/r", "weights": True}}}, f"{P}.switch.http.body: weights: true"),
    ({"switch": {"http": {"url": "file:///etc/passwd"}}}, f"{P}.switch.http.url:"),
    ({"restore_shares": [50, 10, 100]}, f"{P}.restore_shares:"),
    ({"restore_shares": [10, 50]}, f"{P}.restore_shares:"),
    ({"max_error_rate": 0}, f"{P}.max_error_rate:"),
    ({"colour": "blue"}, f"{P}.colour:"),
]


@pytest.mark.parametrize(("change", "fragment"), BAD, ids=[f.rsplit(".", 1)[-1][:40] for _, f in BAD])
def test_each_bad_providers_key_is_named(change: dict[str, Any], fragment: str) -> None:
    assert fragment in error_for(providers_with(**change))
