"""The action subcommands' arguments, parsed into requests."""

from __future__ import annotations

import pytest

from bot.core.actions.kinds import ActionKind
from handlers.slack.commands import flag, rollback, scale
from handlers.slack.commands.base import UsageError


def test_rollback_model_without_a_version_goes_back_one_step() -> None:
    request = rollback.parse("model incident-text")
    assert (request.kind, request.model, request.steps) == (ActionKind.ROLLBACK_MODEL, "incident-text", 1)


def test_rollback_model_with_a_version_loads_that_version() -> None:
    request = rollback.parse("model incident-text v4")
    assert (request.kind, request.model, request.version) == (ActionKind.LOAD_MODEL, "incident-text", "v4")


def test_rollback_deploy_and_config_name_their_targets() -> None:
    deploy = rollback.parse("deploy multimodal-api 2")
    assert (deploy.kind, deploy.service, deploy.version) == (ActionKind.ROLLBACK_DEPLOY, "multimodal-api", "2")
    config = rollback.parse("config multimodal-api:max_batch_size")
    assert (config.kind, config.service, config.parameter) == (ActionKind.ROLLBACK_CONFIG, "multimodal-api",
                                                               "max_batch_size")


@pytest.mark.parametrize("args", ["", "model", "everything now", "model a b c", "model incident-text 4"])
def test_rollback_usage_errors_say_what_to_type(args: str) -> None:
    with pytest.raises(UsageError):
        rollback.parse(args)


def test_flag_keeps_the_whole_value_and_an_optional_service() -> None:
    request = flag.parse("multimodal-api:AUTO_APPLY_ENABLED false")
    assert (request.service, request.parameter, request.value) == ("multimodal-api", "AUTO_APPLY_ENABLED", "false")
    assert flag.parse("note some words here").value == "some words here"
    with pytest.raises(UsageError):
        flag.parse("AUTO_APPLY_ENABLED")


def test_scale_passes_a_non_number_on_so_the_planner_can_name_the_bounds() -> None:
    assert scale.parse("multimodal-api 10").count == 10
    assert scale.parse("7").service == "" and scale.parse("7").count == 7
    odd = scale.parse("multimodal-api ten")
    assert odd.count is None and odd.value == "ten"
    assert scale.parse("multimodal-api ٣").count is None  # a digit, but not an ASCII one
