"""`security:` (security incidents, seeds 002 and 003): what loads, what each bad value says, the
compliance officer as a level of the security ladder, and which incidents are confidential."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bot.config import ConfigError, IncidentBotConfig
from bot.config.escalation_targets import Until
from bot.core.confidential import is_confidential, public_title

LADDER = {"by_runbook": {"security": [{"after": "0m", "notify": {"usergroups": ["S0SECURITY"]}}]}}


def load(security: dict[str, Any], escalation: dict[str, Any] | None = None) -> IncidentBotConfig:
    return IncidentBotConfig.from_mapping({"security": security, "escalation": escalation or LADDER},
                                          source="config.yaml")


def error_for(security: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load(security)
    message = str(info.value)
    assert "Traceback" not in message and "pydantic" not in message
    return message


def test_a_full_section_loads() -> None:
    config = load({"responders": {"usergroups": ["S0SECURITY"]}, "compliance": {"users": ["U0COMPLY"]},
                   "compliance_after": "15m", "evidence": {"bucket": "incident-evidence", "prefix": "kept"},
                   "rotatable_secrets": ["prod/scoring/*"], "deactivatable_key_users": ["ci-deployer"]})
    security = config.security
    assert security.evidence is not None and security.evidence.prefix == "kept/"
    assert security.secret_allowed("prod/scoring/api-key") and not security.secret_allowed("prod/payments/db")
    assert security.key_user_allowed("ci-deployer") and not security.key_user_allowed("admin")
    assert security.compliance_after == timedelta(minutes=15)


@pytest.mark.parametrize(("security", "fragment"), [
    ({"evidence": {"bucket": "Not_A_Bucket"}}, "security.evidence.bucket"),
    ({"evidence": {"bucket": "ok-bucket", "prefix": "/abs"}}, "security.evidence.prefix"),
    ({"evidence": {"bucket": "ok-bucket", "prefix": "a/../b"}}, "security.evidence.prefix"),
    ({"evidence": {"bucket": "ok-bucket", "max_rows": 0}}, "security.evidence.max_rows"),
    ({"rotatable_secrets": ["*"]}, "security.rotatable_secrets"),
    ({"rotatable_secrets": ["prod/*", "prod/*"]}, "listed twice"),
    ({"deactivatable_key_users": ["not a user!"]}, "security.deactivatable_key_users"),
    ({"responders": {"users": ["not-a-slack-id"]}}, "security.responders"),
    ({"compliance_after": "-5m"}, "security.compliance_after"),
    ({"unknown_key": 1}, "unknown_key"),
])
def test_each_bad_value_is_named(security: dict[str, Any], fragment: str) -> None:
    assert fragment in error_for(security)


def test_the_compliance_officer_is_the_security_ladders_last_level_until_resolved() -> None:
    config = load({"compliance": {"users": ["U0COMPLY"]}, "compliance_after": "10m"})
    levels = config.escalation_levels("security", "P1")
    assert len(levels) == 2 and levels[-1].notify.users == ("U0COMPLY",)
    assert levels[-1].after == timedelta(minutes=10) and levels[-1].until == Until.RESOLVED
    assert len(config.escalation_levels("high_latency", "P1")) == len(config.escalation_levels(None, "P1"))
    assert all("U0COMPLY" not in level.notify.users for level in config.escalation_levels("high_latency", "P1"))


def test_a_ladder_that_already_names_the_compliance_officer_gets_no_second_level() -> None:
    ladder = {"by_runbook": {"security": [{"after": "0m", "notify": {"users": ["U0COMPLY"]}}]}}
    config = load({"compliance": {"users": ["U0COMPLY"]}}, ladder)
    assert len(config.escalation_levels("security", "P1")) == 1
    assert len(load({}).escalation_levels("security", "P1")) == 1  # nobody named: no level


@dataclass
class FakeIncident:
    runbook_class: str | None
    title: str = "Leaked key"


def test_confidential_follows_the_configured_runbooks() -> None:
    config = load({"runbooks": ["security", "data_quality"]})
    assert is_confidential(FakeIncident("data_quality"), config)
    assert not is_confidential(FakeIncident("high_latency"), config) and not is_confidential(FakeIncident(None))
    assert public_title(FakeIncident("security")) == "Confidential incident"  # the default keeps security private
    assert public_title(FakeIncident("high_latency"), config) == "Leaked key"
