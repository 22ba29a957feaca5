"""Filling a step's commands with the incident's names: known placeholders, stand-ins, the rest as written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.config import IncidentBotConfig
from runbooks.engine.commands import STAND_INS, CommandFacts, fill, unknown_placeholders
from runbooks.engine.loader import load_library

CONFIG = IncidentBotConfig.from_mapping({"services": {"scoring-api": {
    "aliases": ["scoring"],
    "ecs": {"cluster": "scoring-prod", "service": "scoring-svc", "min": 1, "max": 4},
    "flags": {"prefix": "/scoring/prod/", "names": ["weights.yaml"]},
}, "bare": {}}})


def facts(**extra: str) -> CommandFacts:
    return CommandFacts.of(service_name="scoring-api", service=CONFIG.services["scoring-api"],
                           region=extra.get("region"), alarm=extra.get("alarm"))


def test_known_placeholders_take_the_incidents_values() -> None:
    how = ("aws ecs describe-services --cluster {cluster} --services {ecs_service} --region {region}\n"
           "aws logs tail {log_group} --follow\n"
           "aws ssm get-parameter-history --name {flags_prefix}weights.yaml\n"
           "aws cloudwatch describe-alarm-history --alarm-name {alarm}  # {service}")
    assert fill(how, facts(region="eu-west-1", alarm="scoring-p99-latency")) == (
        "aws ecs describe-services --cluster scoring-prod --services scoring-svc --region eu-west-1\n"
        "aws logs tail /aws/ecs/scoring-prod --follow\n"
        "aws ssm get-parameter-history --name /scoring/prod/weights.yaml\n"
        "aws cloudwatch describe-alarm-history --alarm-name scoring-p99-latency  # scoring-api")


def test_a_missing_value_leaves_a_readable_stand_in() -> None:
    bare = CommandFacts.of(service_name="bare", service=CONFIG.services["bare"])
    assert fill("--cluster {cluster} --services {ecs_service} --region {region}", bare) == \
        "--cluster CLUSTER --services ECS_SERVICE --region REGION"
    assert fill("{flags_prefix}max_batch_size in {log_group} for {alarm}", CommandFacts()) == \
        "/FLAGS_PREFIX/max_batch_size in LOG_GROUP for ALARM_NAME"
    assert fill("{service}", CommandFacts()) == "SERVICE"


def test_braces_that_are_not_placeholders_stay_as_written() -> None:
    json_patch = """'{"spec":{"selector":{"version":"blue"}}}' ${HOME} {clster}"""
    patch = "kubectl patch service {ecs_service} --patch " + json_patch
    assert fill(patch, facts()) == "kubectl patch service scoring-svc --patch " + json_patch
    assert unknown_placeholders(patch) == ["clster"]
    assert unknown_placeholders("{cluster} {region} {Cluster} {x} {x}") == ["x"]


@given(st.text(max_size=200))
def test_filling_never_fails_and_text_without_placeholders_is_unchanged(text: str) -> None:
    filled = fill(text, facts())
    if "{" not in text:
        assert filled == text


def test_the_librarys_commands_use_only_known_placeholders_and_name_no_service_of_their_own() -> None:
    library = load_library()
    for name in library.names():
        for _, step in library.runbooks[name].steps():
            assert unknown_placeholders(step.how) == [], (name, step.id)
            # The seeds' own names stand for the incident's; they are placeholders now.
            for seed_name in ("--cluster multimodal-prod", "--service multimodal-api", "/aws/ecs/multimodal-prod",
                              "--name /multimodal/prod/"):
                assert seed_name not in step.how, (name, step.id, seed_name)
    assert set(STAND_INS) >= {"service", "cluster", "ecs_service", "region", "alarm", "log_group", "flags_prefix"}
