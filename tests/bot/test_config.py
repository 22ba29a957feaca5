"""The YAML configuration: the agreed example and the bundled copy load, absent keys take their
defaults, and every bad document fails with a ConfigError that names the file and the key."""

from __future__ import annotations

import copy
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.config import (
    BUNDLED_CONFIG_PATH,
    ConfigError,
    IncidentBotConfig,
    is_channel_id,
    load_config,
)
from bot.config.severity import Severity

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PATH = (REPO_ROOT / "../shared/config.example.yaml").resolve()
needs_example = pytest.mark.skipif(
    not EXAMPLE_PATH.is_file(), reason="shared/config.example.yaml is not beside the repository"
)

M = timedelta(minutes=1)
H = timedelta(hours=1)


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        IncidentBotConfig.from_mapping(data, source="config.yaml")
    return info.value


# --- the agreed format --------------------------------------------------------------------


def check_example_values(config: IncidentBotConfig) -> None:
    assert config.channels.announce == "incidents"
    assert config.channels.escalations == "incident-escalations"
    assert config.oncall.users == ("U0ONCALL1",)
    assert config.oncall.usergroups == ()
    assert config.severities[Severity.P0].name == "Critical"
    assert config.severities[Severity.P0].respond_within == 15 * M
    assert config.severities[Severity.P3].update_every == 24 * H

    service = config.services["multimodal-api"]
    assert service.aliases == ("document-classifier", "image-recognition", "multimodal-fusion")
    assert service.pagerduty_service_ids == ("PSVC001",)
    assert service.alarms == ("multimodal-prod-*",)
    assert service.ecs is not None
    assert (service.ecs.cluster, service.ecs.service, service.ecs.min, service.ecs.max) == (
        "multimodal-prod", "multimodal-api", 2, 20,
    )
    assert service.models == ("incident-text", "chart-vit", "fusion")
    assert service.flags is not None and service.flags.prefix == "/multimodal/prod/"
    assert service.flags.names == ("AUTO_APPLY_ENABLED", "max_batch_size", "rate_limit_rpm")
    assert service.metric is not None
    assert service.metric.namespace == "Multimodal/Prod"
    assert service.metric.name == "inference_latency_seconds"
    assert service.metric.dimensions == {"ServiceName": "multimodal-api"}

    assert [(r.match.alarm, r.match.metric, r.runbook, r.severity) for r in config.routing] == [
        ("*p95-latency*", None, "high_latency", Severity.P1),
        ("*error-rate*", None, "high_error_rate", Severity.P1),
        (None, "drift_score", "model_drift", Severity.P2),
    ]
    assert config.pagerduty.priority_map == {
        "P1": Severity.P0,
        "P2": Severity.P1,
        "P3": Severity.P2,
        "P4": Severity.P3,
        "P5": Severity.P3,
    }
    assert (config.pagerduty.urgency_default.high, config.pagerduty.urgency_default.low) == (
        Severity.P1, Severity.P3,
    )
    levels = config.escalation.default
    assert [level.after for level in levels] == [timedelta(0), 30 * M, H, 2 * H]
    assert [level.notify.users for level in levels] == [
        ("U0ONCALL1",), ("U0MLLEAD1",), ("U0ENGMGR1",), ("U0VPENG01",),
    ]
    assert config.escalation.by_runbook["security"][0].notify.usergroups == ("S0SECURTY",)
    assert config.escalation.pagerduty_routing_keys == {}

    assert config.rbac.roles["commander"].usergroups == ("S0INCCMDRS",)
    assert config.rbac.roles["approver"].users == ("U0ENGMGR1", "U0VPENG01")
    assert config.rbac.actions["scale"] == ("responder", "commander")
    assert config.rbac.actions["stop"] == ("commander",)
    assert config.rbac.approval_required == ("stop",)
    assert config.rbac.approval_ttl == 10 * M
    assert config.actions.dry_run is False
    assert config.time_scale == 1


@needs_example
def test_the_agreed_example_loads() -> None:
    check_example_values(load_config(EXAMPLE_PATH))


def test_the_bundled_copy_loads() -> None:
    check_example_values(load_config(BUNDLED_CONFIG_PATH))


@needs_example
def test_the_bundled_copy_is_the_agreed_example_plus_our_own_keys() -> None:
    # Every line of the example, in its order: our keys may only be added, between its lines
    # (inside `escalation:`, the seeds' ladders) or after them, never change one of its own.
    bundled = iter(BUNDLED_CONFIG_PATH.read_text(encoding="utf-8").splitlines())
    missing = [line for line in EXAMPLE_PATH.read_text(encoding="utf-8").splitlines()
               if not any(ours == line for ours in bundled)]
    assert missing == []
    assert load_config(BUNDLED_CONFIG_PATH).alerts.summary_every.total_seconds() == 5


# --- defaults -----------------------------------------------------------------------------


def check_defaults(config: IncidentBotConfig) -> None:
    assert config.channels.announce == "incidents"
    assert config.channels.escalations == "incident-escalations"
    assert not config.oncall
    policies = config.severities.items()
    assert {sev: (p.name, p.respond_within, p.update_every) for sev, p in policies} == {
        Severity.P0: ("Critical", 15 * M, 30 * M),
        Severity.P1: ("High", H, 30 * M),
        Severity.P2: ("Medium", 4 * H, 2 * H),
        Severity.P3: ("Low", 24 * H, 24 * H),
    }
    assert config.services == {}
    assert config.routing == ()
    assert config.pagerduty.priority_map["P1"] is Severity.P0
    assert config.pagerduty.priority_map["P5"] is Severity.P3
    assert config.pagerduty.urgency_default.high is Severity.P1
    assert config.pagerduty.urgency_default.low is Severity.P3
    assert config.escalation.default == ()
    assert config.escalation.by_runbook == {}
    assert config.escalation.pagerduty_routing_keys == {}
    assert config.rbac.roles == {} and config.rbac.actions == {}
    assert config.rbac.approval_required == ("stop",)
    assert config.rbac.approval_ttl == 10 * M
    assert config.actions.dry_run is False
    assert config.time_scale == 1


@pytest.mark.parametrize(
    "text",
    ["", "\n", "# only a comment\n", "---\n", "channels:\nrouting:\nseverities:\n  P0:\n"],
    ids=["empty", "blank", "comment", "document-marker", "null-sections"],
)
def test_empty_documents_give_the_defaults(tmp_path: Path, text: str) -> None:
    check_defaults(load_config(write(tmp_path, text)))


def test_no_path_gives_the_defaults() -> None:
    check_defaults(load_config(None))
    check_defaults(IncidentBotConfig())
    check_defaults(IncidentBotConfig.from_mapping({}))


def test_partial_severities_merge_over_the_defaults() -> None:
    config = IncidentBotConfig.from_mapping({"severities": {"P0": {"respond_within": "10m"}}})
    assert config.severities[Severity.P0].name == "Critical"
    assert config.severities[Severity.P0].respond_within == 10 * M
    assert config.severities[Severity.P0].update_every == 30 * M
    assert config.severities[Severity.P2].name == "Medium"
    assert len(config.severities) == 4


def test_null_severity_fields_keep_their_defaults() -> None:
    config = IncidentBotConfig.from_mapping(yaml.safe_load("severities: {P1: {name: null}, P2:}"))
    assert config.severity_policy("P1").name == "High"
    assert config.severity_policy("P2").name == "Medium"


def test_severity_keys_are_case_insensitive() -> None:
    config = IncidentBotConfig.from_mapping({"severities": {"p1": {"name": "Major"}}})
    assert config.severity_policy("P1").name == "Major"
    assert config.severity_policy(Severity.P1).respond_within == H


def test_a_given_priority_map_replaces_the_default() -> None:
    config = IncidentBotConfig.from_mapping({"pagerduty": {"priority_map": {"SEV-1": "p0"}}})
    assert config.pagerduty.priority_map == {"SEV-1": Severity.P0}
    assert config.pagerduty.urgency_default.high is Severity.P1


def test_partial_urgency_default_keeps_the_other_key() -> None:
    config = IncidentBotConfig.from_mapping({"pagerduty": {"urgency_default": {"low": "P2"}}})
    assert config.pagerduty.urgency_default.high is Severity.P1
    assert config.pagerduty.urgency_default.low is Severity.P2


# --- accepted forms -------------------------------------------------------------------------


def test_accepted_forms() -> None:
    config = IncidentBotConfig.from_mapping({
        "channels": {"announce": "#incidents", "escalations": "C0123ABCD"},
        "oncall": {"users": ["U0123", "W0456"], "usergroups": ["S0789"]},
        "escalation": {
            "default": [
                {"after": 0, "notify": {"users": ["U1A"]}},
                {"after": "0m", "routing_key": "R0UTINGKEY"},
                {"after": "1h 30m", "notify": {"users": ["U1A"]}},
            ],
            "pagerduty_routing_keys": {0: "R0KEY", "2": "R2KEY"},
        },
        "time_scale": 60,
    })
    assert config.channels.announce == "incidents"
    assert is_channel_id(config.channels.escalations)
    assert not is_channel_id(config.channels.announce)
    afters = [level.after for level in config.escalation.default]
    assert afters == [timedelta(0), timedelta(0), 90 * M]
    assert config.escalation.pagerduty_routing_keys == {0: "R0KEY", 2: "R2KEY"}
    assert config.scaled(timedelta(minutes=1)) == timedelta(seconds=1)


def test_the_config_is_frozen() -> None:
    config = IncidentBotConfig()
    with pytest.raises(ValidationError):
        config.time_scale = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.channels.announce = "elsewhere"  # type: ignore[misc]


# --- helpers --------------------------------------------------------------------------------


SERVICES = {
    "services": {
        "multimodal-api": {
            "aliases": ["document-classifier"],
            "alarms": ["multimodal-prod-*"],
            "pagerduty_service_ids": ["PSVC001"],
        },
        "scoring-engine": {"alarms": ["scoring-*"]},
    },
    "escalation": {
        "default": [{"after": "0m", "notify": {"users": ["U0ONCALL1"]}}],
        "by_runbook": {"security": [{"after": "0m", "notify": {"usergroups": ["S0SECURTY"]}}]},
    },
}


def test_service_lookup_by_name_or_alias() -> None:
    config = IncidentBotConfig.from_mapping(SERVICES)
    service = config.services["multimodal-api"]
    assert config.service("multimodal-api") is service
    assert config.service("document-classifier") is service
    assert config.service("Document-Classifier") is service
    assert config.service_name("document-classifier") == "multimodal-api"
    assert config.service("nonexistent") is None
    assert config.service_name("nonexistent") is None


def test_service_lookup_by_alarm_and_pagerduty_id() -> None:
    config = IncidentBotConfig.from_mapping(SERVICES)
    assert config.service_for_alarm("multimodal-prod-p95-latency") == "multimodal-api"
    assert config.service_for_alarm("scoring-error-rate") == "scoring-engine"
    assert config.service_for_alarm("other") is None
    assert config.service_for_pagerduty("PSVC001") == "multimodal-api"
    assert config.service_for_pagerduty("PSVC999") is None


def test_escalation_levels_per_runbook() -> None:
    config = IncidentBotConfig.from_mapping(SERVICES)
    assert config.escalation_levels("security")[0].notify.usergroups == ("S0SECURTY",)
    assert config.escalation_levels("high_latency") == config.escalation.default
    assert config.escalation_levels() == config.escalation.default


def test_escalation_levels_runbook_then_severity_then_default() -> None:
    config = IncidentBotConfig.from_mapping({"escalation": {
        "default": [{"after": "0m", "notify": {"users": ["U0ONCALL1"]}}],
        "by_severity": {"P0": [{"after": "0m", "notify": {"users": ["U0MLLEAD1"]}, "routing_key": "PDKEY"}]},
        "by_runbook": {"security": [{"after": "0m", "notify": {"usergroups": ["S0SECURTY"]}}]},
        "pagerduty_routing_keys": {0: "DEFAULTKEY"},
    }})
    assert config.escalation_levels("security", "P0")[0].notify.usergroups == ("S0SECURTY",)
    p0 = config.escalation_levels("high_latency", "P0")
    assert p0[0].notify.users == ("U0MLLEAD1",)
    assert config.escalation.routing_key(p0, 0) == "PDKEY"
    p2 = config.escalation_levels(None, "P2")
    assert p2 == config.escalation.default
    assert config.escalation.routing_key(p2, 0) == "DEFAULTKEY"
    assert config.escalation.routing_key(p2, 5) is None


def test_severity_parse_and_rank() -> None:
    assert Severity.parse("p2") is Severity.P2
    assert Severity.parse(" P0 ") is Severity.P0
    assert [sev.rank for sev in Severity] == [0, 1, 2, 3]
    for bad in ("P4", "sev1", "", 1, None):
        with pytest.raises(ValueError, match="expected P0, P1, P2, P3"):
            Severity.parse(bad)


# --- validation errors name the key ---------------------------------------------------------

BAD_DOCUMENTS = [  # (document in YAML, a fragment of the error it must produce)
    ("{chanels: {}}", "chanels: unknown key (did you mean 'channels'?)"),
    ("{channels: {announce: General}}", "channels.announce: invalid Slack channel"),
    (
        "{channels: {escalations: %s}}" % ("x" * 81),
        "channels.escalations: invalid Slack channel",
    ),
    (
        "{channels: {announce: 5}}",
        "channels.announce: expected a Slack channel id or name as a string",
    ),
    ("{channels: [incidents]}", "channels: expected a mapping, got a list"),
    ("{oncall: {users: [alice]}}", "oncall.users[0]: invalid Slack user id 'alice'"),
    ("{oncall: {users: U0ONCALL1}}", "oncall.users: expected a list"),
    ("{oncall: {usergroups: [U0ONCALL1]}}", "oncall.usergroups[0]: invalid Slack user group id"),
    ("{severities: {P5: {name: x}}}", "severities.P5: unknown severity (expected P0, P1, P2, P3)"),
    (
        "{severities: {P0: {respond_within: '15'}}}",
        "severities.P0.respond_within: invalid duration '15'",
    ),
    (
        "{severities: {P0: {respond_within: 0m}}}",
        "severities.P0.respond_within: must be longer than 0s",
    ),
    ("{severities: {P0: {respond_within: 15}}}", "severities.P0.respond_within: 15 has no unit"),
    (
        "{severities: {P1: {respond_witin: 1h}}}",
        "severities.P1.respond_witin: unknown key (did you mean 'respond_within'?)",
    ),
    ("{severities: {P2: {name: ''}}}", "severities.P2.name: must not be empty"),
    ("{severities: [P0]}", "severities: expected a mapping"),
    (
        "{services: {api: {ecs: {cluster: c, service: s, min: 3, max: 2}}}}",
        "services.api.ecs.min: must not exceed max (2)",
    ),
    (
        "{services: {api: {ecs: {cluster: c, service: s, min: -1, max: 2}}}}",
        "services.api.ecs.min: must be greater than or equal to 0",
    ),
    (
        "{services: {api: {ecs: {cluster: c, service: s, min: 1}}}}",
        "services.api.ecs.max: required",
    ),
    (
        "{services: {api: {ecs: {cluster: c, service: s, min: true, max: 2}}}}",
        "services.api.ecs.min: expected a number",
    ),
    (
        "{services: {api: {flags: {prefix: multimodal/prod/}}}}",
        "services.api.flags.prefix: must start and end with '/'",
    ),
    (
        "{services: {api: {flags: {prefix: /multimodal/prod}}}}",
        "services.api.flags.prefix: must start and end with '/'",
    ),
    ("{services: {api: {alarms: ['']}}}", "services.api.alarms[0]: must not be empty"),
    (
        "{services: {api: {metric: {namespace: N, name: n, dimensions: {Port: 80}}}}}",
        "services.api.metric.dimensions.Port: expected a string",
    ),
    (
        "{services: {api: {aliasses: []}}}",
        "services.api.aliasses: unknown key (did you mean 'aliases'?)",
    ),
    (
        "{services: {a: {}, b: {aliases: [A]}}}",
        "services.b.aliases[0]: 'A' already names service 'a'",
    ),
    ("{routing: [{match: {}}]}", "routing[0].match: must name at least one of"),
    ("{routing: [{runbook: x}]}", "routing[0].match: required"),
    (
        "{routing: [{match: {alarm: '*'}}, {match: {alarm: '*'}, severity: P9}]}",
        "routing[1].severity: unknown severity",
    ),
    (
        "{routing: [{match: {alarm: '*'}, runbook: High-Latency}]}",
        "routing[0].runbook: invalid runbook class",
    ),
    (
        "{routing: [{match: {alert: '*'}}]}",
        "routing[0].match.alert: unknown key (did you mean 'alarm'?)",
    ),
    ("{pagerduty: {priority_map: {P1: P7}}}", "pagerduty.priority_map.P1: unknown severity"),
    (
        "{pagerduty: {urgency_default: {medium: P2}}}",
        "pagerduty.urgency_default.medium: unknown key (expected one of: high, low)",
    ),
    (
        "{escalation: {default: [{after: 30m, notify: {users: [U1A]}}, {after: 15m, notify: {users: [U1A]}}]}}",
        "escalation.default[1].after: must not be earlier than level 0 (30m)",
    ),
    (
        "{escalation: {default: [{after: -1m}]}}",
        "escalation.default[0].after: invalid duration '-1m': it is negative",
    ),
    (
        "{escalation: {default: [{after: 5m, notify: {users: [bob]}}]}}",
        "escalation.default[0].notify.users[0]: invalid Slack user id",
    ),
    (
        "{escalation: {by_runbook: {Security: []}}}",
        "escalation.by_runbook.Security: invalid runbook class",
    ),
    (
        "{escalation: {by_runbook: {security: [{after: 1h, routing_key: k}, {after: 0m, routing_key: k}]}}}",
        "escalation.by_runbook.security[1].after: must not be earlier",
    ),
    (
        "{escalation: {default: [{after: 5m}]}}",
        "escalation.default[0]: this level notifies nobody",
    ),
    (
        "{escalation: {by_severity: {P7: []}}}",
        "escalation.by_severity.P7",
    ),
    (
        "{escalation: {default: [{after: 0m, notify: {users: [U1A]}}], pagerduty_routing_keys: {3: key}}}",
        "escalation.pagerduty_routing_keys.3: there is no level 3 (the longest policy has 1)",
    ),
    (
        "{escalation: {pagerduty_routing_keys: {0: ''}}}",
        "escalation.pagerduty_routing_keys.0: must not be empty",
    ),
    (
        "{escalation: {pagerduty_routing_keys: {-1: key}}}",
        "escalation.pagerduty_routing_keys.-1: must be greater than or equal to 0",
    ),
    (
        "{escalation: {pagerduty_routing_keys: {first: key}}}",
        "escalation.pagerduty_routing_keys.first: expected a whole number",
    ),
    (
        "{rbac: {roles: {commander: {}}, actions: {stop: [commandr]}}}",
        "rbac.actions.stop[0]: unknown role 'commandr'",
    ),
    ("{rbac: {actions: {scale: [responder]}}}", "rbac.actions.scale[0]: unknown role 'responder'"),
    ("{rbac: {approval_required: [nuke]}}", "rbac.approval_required[0]: unknown action 'nuke'"),
    ("{rbac: {roles: {commander: {}}, actions: {assign_role: [commander]}, approval_required: [stop, assign_role]}}",
     "rbac.approval_required[1]: 'assign_role' has no approval step"),
    ("{rbac: {roles: {x: {users: [S0GROUP]}}}}", "rbac.roles.x.users[0]: invalid Slack user id"),
    ("{rbac: {approval_ttl: 0s}}", "rbac.approval_ttl: must be longer than 0s"),
    ("{actions: {dry_run: maybe}}", "actions.dry_run: expected true or false"),
    ("{time_scale: 0}", "time_scale: must be greater than 0"),
    ("{time_scale: -1}", "time_scale: must be greater than 0"),
    ("{time_scale: fast}", "time_scale: expected a number"),
    ("{time_scale: true}", "time_scale: expected a number"),
    ("{time_scale: .inf}", "time_scale: must be a finite number"),
    ("{postmortems: {review_within: soon}}", "postmortems.review_within:"),
    ("{postmortems: {approvals_required: 0}}", "postmortems.approvals_required:"),
    ("{postmortems: {approvers: [boss]}}", "postmortems.approvers[0]: unknown role 'boss'"),
    ("{postmortems: {related_min_score: 2}}", "postmortems.related_min_score:"),
    ("{postmortems: {reviewers: []}}", "postmortems.reviewers:"),
]


@pytest.mark.parametrize(("document", "fragment"), BAD_DOCUMENTS, ids=[f for _, f in BAD_DOCUMENTS])
def test_each_validation_error_names_the_key(document: str, fragment: str) -> None:
    message = str(error_for(yaml.safe_load(document)))
    assert f"config.yaml: {fragment}" in message
    assert "Traceback" not in message and "pydantic" not in message


def test_postmortem_settings_default_to_the_seeds_48_hours() -> None:
    config = IncidentBotConfig.from_mapping({})
    assert config.postmortems.review_within == 48 * H and config.postmortems.approvals_required == 1
    custom = IncidentBotConfig.from_mapping(yaml.safe_load(
        "{rbac: {roles: {approver: {users: [U0ENGMGR1]}}}, postmortems: {approvers: [approver], review_within: 2d}}"))
    assert custom.postmortems.approvers == ("approver",) and custom.postmortems.review_within == 48 * H


def test_extra_approval_actions_may_come_from_rbac_actions() -> None:
    config = IncidentBotConfig.from_mapping(yaml.safe_load(
        "rbac: {roles: {a: {}}, actions: {restart: [a]}, approval_required: [restart, stop]}"
    ))
    assert config.rbac.approval_required == ("restart", "stop")


def test_every_problem_gets_its_own_line() -> None:
    error = error_for({"chanels": {}, "time_scale": 0, "oncall": {"users": ["x", "U0OK", "y"]}})
    lines = str(error).splitlines()
    assert len(lines) == len(error.problems) == 4
    assert all(line.startswith("config.yaml: ") for line in lines)
    assert {problem.location for problem in error.problems} == {
        "chanels", "time_scale", "oncall.users[0]", "oncall.users[2]",
    }


def test_a_bad_key_does_not_also_report_its_contents() -> None:
    error = error_for({"severities": {"P5": {"name": "x"}}})
    assert [str(problem) for problem in error.problems] == [
        "severities.P5: unknown severity (expected P0, P1, P2, P3)"
    ]


# --- file errors ----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match=f"^{path}: file not found$"):
        load_config(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "time_scale: 1\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied"):
        load_config(path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "channels:\n  announce: incidents\n   escalations: x: y\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: line 3, column ")
    assert "not valid YAML" in str(info.value)


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "time_scale: 1\nchannels: {}\ntime_scale: 60\n")
    with pytest.raises(ConfigError, match=r"line 3, column 1: .*duplicate key 'time_scale'"):
        load_config(path)


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = "x-level: &level {after: 5m}\n"  # anchors need a home; an unknown key is then reported
    path = write(tmp_path, text + "escalation:\n  default:\n    - <<: *level\n      after: 10m\n")
    with pytest.raises(ConfigError, match="x-level: unknown key"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "what"),
    [("- a\n- b\n", "got a list"), ("just text\n", "got str 'just text'"), ("42\n", "got int 42")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, what: str) -> None:
    with pytest.raises(ConfigError, match=f"top level must be a mapping of settings, {what}"):
        load_config(write(tmp_path, text))


def test_invalid_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"channels:\n  announce: \xff\xfe\xfa\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_validation_errors_name_the_file(tmp_path: Path) -> None:
    text = "severities:\n  P5: {name: Trivial}\nrbac:\n  actions: {stop: [commandr]}\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).splitlines() == [
        f"{path}: severities.P5: unknown severity (expected P0, P1, P2, P3)",
        f"{path}: rbac.actions.stop[0]: unknown role 'commandr'"
        " (known roles: none are defined in rbac.roles)",
    ]


def test_from_mapping_rejects_a_non_mapping() -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        IncidentBotConfig.from_mapping(["channels"])  # type: ignore[arg-type]


# --- property-based: any input loads or fails as ConfigError --------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
yamlish = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12) | st.integers(), children, max_size=4),
    max_leaves=20,
)


def loads_or_config_error(data: Any) -> None:
    try:
        config = IncidentBotConfig.from_mapping(data)
    except ConfigError as exc:
        assert str(exc).startswith("<config>: ")
        assert all(problem.message for problem in exc.problems)
    else:
        assert isinstance(config, IncidentBotConfig)


@given(yamlish)
def test_arbitrary_data_loads_or_raises_config_error(data: Any) -> None:
    loads_or_config_error(data)


@given(st.dictionaries(st.sampled_from(list(IncidentBotConfig.model_fields)), yamlish, max_size=4))
def test_arbitrary_sections_load_or_raise_config_error(data: dict[str, Any]) -> None:
    loads_or_config_error(data)


def example_document() -> dict[str, Any]:
    return yaml.safe_load(BUNDLED_CONFIG_PATH.read_text(encoding="utf-8"))


EXAMPLE_DOCUMENT = example_document()


@given(st.data())
def test_example_with_one_value_replaced_loads_or_raises_config_error(data: st.DataObject) -> None:
    document = copy.deepcopy(EXAMPLE_DOCUMENT)
    parent: Any = document
    key: Any = data.draw(st.sampled_from(sorted(parent)))
    # Walk a random distance into the document, then put arbitrary data there.
    while isinstance(parent[key], (dict, list)) and parent[key] and data.draw(st.booleans()):
        parent = parent[key]
        keys = sorted(parent) if isinstance(parent, dict) else range(len(parent))
        key = data.draw(st.sampled_from(keys))
    parent[key] = data.draw(yamlish)
    loads_or_config_error(document)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200) | yamlish.map(lambda value: yaml.safe_dump(value, allow_unicode=True)))
def test_arbitrary_files_load_or_raise_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(exc).startswith(f"{path}: ")
