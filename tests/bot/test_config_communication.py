"""`communication:` (seeds 002 and 003): named audiences for status updates and the resolution
notice. The commented example in the bundled config loads, and every bad audience fails with an
error that names the key."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import yaml

from bot.config import BUNDLED_CONFIG_PATH, ConfigError, IncidentBotConfig
from bot.config.communication import NoticeTemplate


def commented_example() -> dict[str, Any]:
    """The bundled config's commented `audiences:` example, uncommented."""
    text = BUNDLED_CONFIG_PATH.read_text()
    block = text.split("audiences: {}", 1)[1]
    lines = [re.sub(r"^  #", "", line) for line in block.splitlines() if line.startswith("  #   ")]
    return {"communication": {"audiences": yaml.safe_load("\n".join(line[2:] for line in lines))}}


def error_for(data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        IncidentBotConfig.from_mapping(data, source="config.yaml")
    message = str(info.value)
    assert "Traceback" not in message and "pydantic" not in message
    return message


def test_the_bundled_example_loads() -> None:
    config = IncidentBotConfig.from_mapping(commented_example(), source="config.yaml")
    audiences = config.communication.audiences
    assert audiences["executives"].template == NoticeTemplate.EXECUTIVE
    assert config.communication.defaults_for("P1") == ("executives",)
    assert config.communication.defaults_for("P2") == ()
    customers = audiences["customers"]
    assert customers.approval and customers.status_page is not None
    assert customers.status_page.timeout == timedelta(seconds=5)
    assert list(config.communication.approval_audiences()) == ["customers"]
    assert list(config.communication.direct()) == ["executives"]


@pytest.mark.parametrize(("audience", "expected"), [
    ({"channel": "status", "template": "customer"},
     "communication.audiences.customers.approval: a customer audience always needs a second person's approval"),
    ({"channel": "status", "status_page": {"url": "https://status.example.com/hook"}},
     "communication.audiences.customers.status_page: only an audience with approval: true"),
    ({"channel": "status", "approval": True, "severities": ["P1"]},
     "communication.audiences.customers.severities: an approval audience gets notices only through"),
    ({"channel": "status", "approval": True,
      "status_page": {"url": "https://status.example.com/hook", "token_env": "lower case"}},
     "communication.audiences.customers.status_page.token_env"),
    ({"channel": "status", "approval": True,
      "status_page": {"url": "https://status.example.com/hook", "timeout": "2m"}},
     "communication.audiences.customers.status_page.timeout: at most 30s"),
    ({"channel": "status", "approval": True, "status_page": {"url": "file:///etc/passwd"}},
     "communication.audiences.customers.status_page.url"),
])
def test_a_bad_audience_is_refused_by_its_key(audience: dict[str, Any], expected: str) -> None:
    assert expected in error_for({"communication": {"audiences": {"customers": audience}}})


@pytest.mark.parametrize("name", ["channel", "incidents", "managers", "Execs", "1st"])
def test_builtin_and_malformed_audience_names_are_refused(name: str) -> None:
    message = error_for({"communication": {"audiences": {name: {"channel": "x"}}}})
    assert "communication.audiences" in message
