"""Logs, Tasks and Targets against a real moto server seeded as the demo's production."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import IncidentBotConfig
from bot.core.ports.logs import LogEvent, LogEvents
from bot.integrations.ecs import Boto3Ecs
from bot.integrations.elb import Boto3TargetHealth
from bot.integrations.logs import Boto3Logs
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import InvestigationKind, Scope, configured_kinds, investigate
from runbooks.investigations.logs import LogsInvestigation, parse
from runbooks.investigations.table import investigations
from runbooks.investigations.targets import TargetsInvestigation
from runbooks.investigations.tasks import TasksInvestigation
from sandbox.aws_seed import ERROR_CODES, LOG_GROUP, STOP_REASONS, seed_investigations, seed_production

NOW = datetime.now(UTC).replace(microsecond=0)


def service_config(**extra: object):
    config = IncidentBotConfig.from_mapping({"services": {"multimodal-api": {
        "ecs": {"cluster": "multimodal-prod", "service": "multimodal-api", "min": 1, "max": 8}, **extra}}})
    return config.services["multimodal-api"]


def scope(service, *, minutes: int = 40, correlation_id: str | None = None) -> Scope:
    return Scope(incident_number=7, service_name="multimodal-api", service=service,
                 start=NOW - timedelta(minutes=minutes), end=NOW, alarm_name="multimodal-5xx",
                 correlation_id=correlation_id)


@pytest.fixture
def seeded(aws_env: str):
    production = seed_production(aws_env)
    return seed_investigations(aws_env, production, now=NOW)


def test_the_menu_lists_what_each_service_is_configured_for() -> None:
    assert configured_kinds(service_config()) == (InvestigationKind.TASKS,)
    full = service_config(logs={"group": LOG_GROUP}, load_balancer={"target_group": "multimodal-api"})
    assert configured_kinds(full) == (InvestigationKind.LOGS, InvestigationKind.TASKS, InvestigationKind.TARGETS)
    assert configured_kinds(None) == ()
    with pytest.raises(Exception, match="exactly one of target_group_arn or target_group"):
        service_config(load_balancer={"target_group": "a", "target_group_arn": "arn:aws:x"})


def test_lines_are_parsed_as_json_or_grepped_as_text() -> None:
    at = NOW
    json_line = parse(LogEvent(at, '{"level":"ERROR","error_code":"DOC_001","correlation_id":"c-1"}'))
    assert (json_line.error, json_line.code, json_line.correlation_id) == (True, "DOC_001", "c-1")
    seed_004 = parse(LogEvent(at, '{"level":"error","error_type":"DatabaseTimeout"}'))
    assert (seed_004.error, seed_004.code) == (True, "DatabaseTimeout")
    assert not parse(LogEvent(at, '{"level":"info","message":"ERROR in a message field is not a level"}')).error
    plain = parse(LogEvent(at, "2024-01-15 ERROR worker crashed with RATE_001 after 3 tries"))
    assert (plain.error, plain.code) == (True, "RATE_001")
    assert not parse(LogEvent(at, "INFO all good, no errors")).error
    assert parse(LogEvent(at, "{not json ERROR")).error


async def test_logs_count_the_error_codes_and_find_a_correlation_id(seeded) -> None:
    service = service_config(logs={"group": LOG_GROUP})
    finding = await investigate(LogsInvestigation(Boto3Logs()), scope(service, correlation_id=seeded.correlation_id))
    assert finding.kind == InvestigationKind.LOGS
    by_code = finding.data["by_code"]
    assert set(by_code) <= set(ERROR_CODES)
    # One ERROR line every other minute in proportion to ERROR_CODES, and the plain crash line.
    assert finding.data["errors"] == sum(by_code.values()) and 20 <= finding.data["errors"] <= 23
    assert max(by_code, key=by_code.get) == "DOC_001" and "DOC_001" in finding.headline
    assert finding.verdict == Verdict.CRITICAL  # a third of the lines are errors
    assert finding.data["correlation_matches"] == 1
    assert finding.attachment is not None
    content = finding.attachment.content.decode()
    assert content.count("\n") > finding.data["errors"] and seeded.correlation_id in content
    assert "SYS_001" in content and "worker crashed" in content
    assert finding.seconds is not None


async def test_quiet_logs_are_ok_and_carry_no_file() -> None:
    class Quiet:
        async def events(self, **_: object) -> LogEvents:
            return LogEvents(events=(LogEvent(NOW, '{"level":"INFO","message":"fine"}'),))

    finding = await investigate(LogsInvestigation(Quiet()), scope(service_config(logs={"group": "g"})))
    assert finding.verdict == Verdict.OK and finding.attachment is None
    assert finding.headline.startswith("logs: 0 ERROR lines of 1")


async def test_a_missing_log_group_degrades_to_a_clear_finding(aws_env: str) -> None:
    service = service_config(logs={"group": "/aws/ecs/no-such-group"})
    finding = await investigate(LogsInvestigation(Boto3Logs()), scope(service))
    assert finding.verdict == Verdict.UNAVAILABLE
    assert finding.headline == "logs: refused (404)"
    assert "log group does not exist" in " ".join(finding.lines)


async def test_aws_down_or_slow_degrades_to_a_clear_finding(aws_env: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    service = service_config(logs={"group": LOG_GROUP})
    down = await investigate(LogsInvestigation(Boto3Logs(endpoint_url=dead, max_attempts=1)), scope(service))
    assert down.verdict == Verdict.UNAVAILABLE and down.headline == "logs: could not be read"

    class Hung:
        async def events(self, **_: object) -> LogEvents:
            await asyncio.sleep(30)
            raise AssertionError("not reached")

    slow = LogsInvestigation(Hung())
    slow.timeout_s = 0.2
    finding = await investigate(slow, scope(service))
    assert finding.verdict == Verdict.UNAVAILABLE and finding.headline == "logs: no answer within 0.2 s"


async def test_tasks_show_why_tasks_stopped_and_the_rollout(seeded) -> None:
    finding = await investigate(TasksInvestigation(Boto3Ecs()), scope(service_config()))
    assert finding.data["stopped"] == 3
    # The scale-in was ordered; the crashed and health-check-failed ones were not.
    assert finding.data["failed"] == 2
    assert set(finding.data["reasons"]) == set(STOP_REASONS[:2])
    assert finding.verdict == Verdict.WARNING
    shown = "\n".join(finding.lines)
    assert "Essential container in task exited" in shown and "multimodal-api:3" in shown
    assert "Deployment PRIMARY" in shown
    assert finding.attachment is not None and b"ordered " in finding.attachment.content


async def test_tasks_of_an_unknown_service_degrade(aws_env: str) -> None:
    seed_production(aws_env)
    config = IncidentBotConfig.from_mapping({"services": {"x": {
        "ecs": {"cluster": "multimodal-prod", "service": "no-such-service", "min": 1, "max": 2}}}})
    finding = await investigate(TasksInvestigation(Boto3Ecs()), scope(config.services["x"]))
    assert finding.verdict == Verdict.UNAVAILABLE and "404" in finding.headline


async def test_targets_show_the_unhealthy_target(seeded) -> None:
    by_name = service_config(load_balancer={"target_group": "multimodal-api"})
    finding = await investigate(TargetsInvestigation(Boto3TargetHealth()), scope(by_name))
    # moto reports a registered target healthy unless its instance is stopped: then "unused".
    assert finding.headline == "targets: 2 of 3 healthy; 1 unused"
    assert finding.verdict == Verdict.WARNING
    assert seeded.unhealthy_targets[0] in "\n".join(finding.lines)
    assert "Target.InvalidState" in "\n".join(finding.lines)
    by_arn = service_config(load_balancer={"target_group_arn": seeded.target_group_arn})
    assert (await investigate(TargetsInvestigation(Boto3TargetHealth()), scope(by_arn))).data["healthy"] == 2


async def test_an_unknown_target_group_degrades(aws_env: str) -> None:
    service = service_config(load_balancer={"target_group": "no-such-group"})
    finding = await investigate(TargetsInvestigation(Boto3TargetHealth()), scope(service))
    assert finding.verdict == Verdict.UNAVAILABLE and finding.headline == "targets: refused (404)"


def test_the_table_has_one_investigation_per_built_kind() -> None:
    table = investigations(logs=Boto3Logs(), ecs=Boto3Ecs(), targets=Boto3TargetHealth())
    assert list(table) == [InvestigationKind.LOGS, InvestigationKind.TASKS, InvestigationKind.TARGETS]
    assert all(kind == investigation.kind for kind, investigation in table.items())
