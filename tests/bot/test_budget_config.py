"""The error-budget keys: `services.<name>.error_budget` and the top-level `error_budgets`."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
import yaml

from bot.config import ConfigError, IncidentBotConfig
from bot.config.severity import Severity
from sandbox.budget_seed import error_budget_yaml


def budget(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "target": 0.999,
        "total_events": {"namespace": "Scoring/Prod", "name": "http_requests_total"},
        "bad_events": {"namespace": "Scoring/Prod", "name": "http_5xx_total"},
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def load(error_budget: dict[str, Any], **top: Any) -> IncidentBotConfig:
    return IncidentBotConfig.from_mapping({"services": {"scoring-api": {"error_budget": error_budget}}, **top},
                                          source="config.yaml")


def problems(error_budget: dict[str, Any], **top: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(error_budget, **top)
    return str(info.value)


def test_the_demo_block_loads_with_the_seed_defaults() -> None:
    data = yaml.safe_load("services:\n  scoring-api:\n" + error_budget_yaml(channel="scoring-oncall"))
    config = IncidentBotConfig.from_mapping(data)
    slo = config.services["scoring-api"].error_budget
    assert slo is not None and slo.target == 0.999 and slo.window == "month" and slo.channel == "scoring-oncall"
    assert slo.total_events.dimensions == {"ServiceName": "scoring-api"} and slo.good_events is None
    alerts = config.error_budgets
    assert alerts.fast_burn.rate == 10 and alerts.slow_burn.rate == 2  # seed 004
    assert alerts.fast_burn_severity == Severity.P1 and alerts.digest_at == time(9, 0)


def test_a_rolling_window_and_good_events_are_accepted() -> None:
    slo = load(budget(window="30d", bad_events=None,
                      good_events={"namespace": "Scoring/Prod", "name": "http_2xx_total"})).services[
        "scoring-api"].error_budget
    assert slo is not None and slo.window == timedelta(days=30) and slo.good_events is not None


@pytest.mark.parametrize(("overrides", "named"), [
    ({"target": 1.5}, "error_budget.target"),
    ({"target": 99.9}, "error_budget.target"),
    ({"target": "0.999"}, "error_budget.target"),
    ({"window": "fortnight"}, "error_budget.window"),
    ({"window": "0m"}, "error_budget.window"),
    ({"bad_events": None}, "bad_events"),
    ({"good_events": {"namespace": "N", "name": "good"}}, "bad_events"),
    ({"total_events": None}, "total_events"),
    ({"surprise": 1}, "surprise"),
])
def test_a_bad_budget_names_its_key(overrides: dict[str, Any], named: str) -> None:
    text = problems(budget(**overrides))
    assert "services.scoring-api.error_budget" in text and named.split(".")[-1] in text


def test_an_unquoted_digest_time_and_inverted_windows_are_refused() -> None:
    # YAML 1.1 reads 9:00 unquoted as the number 540.
    assert "digest_at" in problems(budget(), error_budgets=yaml.safe_load("digest_at: 9:00"))
    text = problems(budget(), error_budgets={"fast_burn": {"rate": 10, "long_window": "5m", "short_window": "1h"}})
    assert "error_budgets.fast_burn.short_window" in text
