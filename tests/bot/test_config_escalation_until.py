"""The escalation keys this project adds: `until`, `notify.schedules`, `oncall.backup`,
`mitigate_within` / `resolve_within` and `escalation.runbook_deadlines`. Good values load with
the seeds' defaults; every bad one is a ConfigError that names the key."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import BUNDLED_CONFIG_PATH, ConfigError, IncidentBotConfig, load_config
from bot.config.escalation_targets import Until
from bot.config.severity import Severity

DOCS = Path(__file__).resolve().parents[2] / "docs" / "escalation.md"


def error_for(data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        IncidentBotConfig.from_mapping(data, source="config.yaml")
    message = str(info.value)
    assert "Traceback" not in message and "pydantic" not in message
    return message


def test_the_seeds_deadlines_are_the_defaults() -> None:
    config = IncidentBotConfig.from_mapping({})
    p0, p1, p2, p3 = (config.severity_policy(s) for s in (Severity.P0, Severity.P1, Severity.P2, Severity.P3))
    assert (p0.respond_within, p0.mitigate_within, p0.resolve_within) == (
        timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=4))  # seed 004's Sev1 rollback at 30 min
    assert (p1.mitigate_within, p1.resolve_within) == (timedelta(hours=1), timedelta(hours=4))
    assert (p2.mitigate_within, p2.resolve_within) == (None, timedelta(hours=24))
    assert (p3.mitigate_within, p3.resolve_within) == (None, None)
    regression = config.escalation.runbook_deadlines["model_regression"]  # seed 001: 15 + 15 minutes
    assert (regression.respond_within, regression.mitigate_within) == (timedelta(minutes=15), timedelta(minutes=30))
    assert config.oncall.backup.users == () and config.oncall.backup_after is None
    assert config.escalation.default == ()


def test_the_new_keys_load() -> None:
    config = IncidentBotConfig.from_mapping({
        "oncall": {"users": ["U0ONCALL1"], "backup": {"users": ["U0BOB"]}, "backup_after": "10m"},
        "severities": {"P1": {"mitigate_within": "45m", "resolve_within": False}},
        "escalation": {
            "default": [
                {"after": "0m", "notify": {"users": ["U0ONCALL1"]}},
                {"after": "15m", "notify": {"schedules": ["PSCHED01"]}, "until": "resolved"},
            ],
            "runbook_deadlines": {"service_outage": {"mitigate_within": "20m", "resolve_within": False}},
        },
    })
    assert config.oncall.backup.users == ("U0BOB",) and config.oncall.backup_after == timedelta(minutes=10)
    p1 = config.severity_policy(Severity.P1)
    assert p1.mitigate_within == timedelta(minutes=45) and p1.resolve_within is None
    assert p1.respond_within == timedelta(hours=1), "the other fields keep their defaults"
    levels = config.escalation.default
    assert [level.until for level in levels] == [Until.ACKNOWLEDGED, Until.RESOLVED]
    assert levels[1].notify.schedules == ("PSCHED01",)
    outage = config.escalation.runbook_deadlines["service_outage"]
    assert outage.mitigate_within == timedelta(minutes=20) and outage.resolve_within is None
    assert "model_regression" not in config.escalation.runbook_deadlines, "a given mapping replaces the default"


@pytest.mark.parametrize(("data", "fragment"), [
    ({"escalation": {"default": [{"after": "0m", "notify": {"users": ["U0A1"]}, "until": "fixed"}]}},
     "escalation.default[0].until"),
    ({"escalation": {"default": [{"after": "0m", "notify": {"schedules": ["lowercase"]}}]}},
     "escalation.default[0].notify.schedules[0]: invalid PagerDuty schedule id"),
    ({"escalation": {"default": [{"after": "0m", "notify": {"schedules": [12345]}}]}},
     "escalation.default[0].notify.schedules[0]: invalid PagerDuty schedule id"),
    ({"escalation": {"default": [{"after": "0m", "notify": {"schedules": []}}]}},
     "escalation.default[0]: this level notifies nobody"),
    ({"severities": {"P0": {"mitigate_within": True}}}, "severities.P0.mitigate_within: expected a duration"),
    ({"severities": {"P0": {"resolve_within": "0s"}}}, "severities.P0.resolve_within"),
    ({"severities": {"P1": {"mitigate_within": "soon"}}}, "severities.P1.mitigate_within"),
    ({"oncall": {"backup": {"users": ["bob"]}}}, "oncall.backup.users[0]"),
    ({"oncall": {"backup_after": "-5m"}}, "oncall.backup_after"),
    ({"oncall": {"backup": {"user": ["U0BOB"]}}}, "oncall.backup.user"),
    ({"escalation": {"runbook_deadlines": {"Not A Runbook!": {"mitigate_within": "5m"}}}},
     "escalation.runbook_deadlines"),
    ({"escalation": {"runbook_deadlines": {"service_outage": {"mitigate_in": "5m"}}}},
     "escalation.runbook_deadlines.service_outage.mitigate_in"),
])
def test_a_bad_value_names_its_key(data: dict[str, Any], fragment: str) -> None:
    assert f"config.yaml: {fragment}" in error_for(data)


def documented_ladders() -> dict[str, Any]:
    """The seeds' ladders as docs/escalation.md gives them, ready to paste under `escalation:`."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- seeds-ladders -->\s*```yaml\n(.*?)```", text, re.DOTALL)
    assert found, "docs/escalation.md has the seeds' ladders in a yaml block after <!-- seeds-ladders -->"
    return yaml.safe_load(found.group(1))


def test_the_documented_seed_ladders_load_and_escalate_until_handled() -> None:
    config = IncidentBotConfig.from_mapping(documented_ladders())
    outage = config.escalation_levels("service_outage", "P0")  # seed 000: 0-5 / 5-15 / 15+ minutes
    assert [level.after for level in outage] == [timedelta(0), timedelta(minutes=5), timedelta(minutes=15)]
    assert outage[-1].until == Until.RESOLVED and outage[-1].notify.usergroups, "VP and Customer Success"
    sev1 = config.escalation_levels("high_error_rate", "P0")  # seed 004: the manager at 15 min if not resolved
    assert any(level.after == timedelta(minutes=15) and level.until == Until.RESOLVED for level in sev1)
    p1 = config.escalation_levels(None, "P1")  # seed 002: "if not resolved in 30 min", "in 1 hour"
    assert [(level.after, level.until) for level in p1[1:3]] == [
        (timedelta(minutes=30), Until.RESOLVED), (timedelta(hours=1), Until.RESOLVED)]
    for runbook in ("high_latency", "model_regression", "security"):  # seed 003's classes
        assert config.escalation_levels(runbook, "P2") == config.escalation.by_runbook[runbook]


def test_the_bundled_config_carries_the_documented_seed_ladders() -> None:
    # The shipped copy's ladders are the documented ones, so the page and the file cannot drift
    # apart; only `security` keeps the agreed example's own level.
    documented = IncidentBotConfig.from_mapping(documented_ladders()).escalation
    bundled = load_config(BUNDLED_CONFIG_PATH).escalation
    assert bundled.by_severity == documented.by_severity
    assert {name: levels for name, levels in bundled.by_runbook.items() if name != "security"} == {
        name: levels for name, levels in documented.by_runbook.items() if name != "security"}
    assert set(bundled.by_runbook) == {"security", "service_outage", "high_latency", "model_regression"}
