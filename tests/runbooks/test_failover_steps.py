"""Seed 003's provider steps in the outage runbook bind to the guarded failover, its canary
restore and Diagnose's providers check, not to a model flag nobody has."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runbooks.engine.loader import load_library
from runbooks.engine.schema import StepAction


def test_the_outage_runbooks_provider_steps_bind_to_the_failover_actions() -> None:
    runbook = load_library(None).runbooks["service_outage"]
    steps = {step.id: step for _, step in runbook.steps()}
    assert steps["provider-failover"].action is not None and steps["provider-failover"].action.kind == "failover"
    restore = steps["restore-provider-traffic"].action
    assert restore is not None and restore.kind == "restore_provider"
    check = steps["check-providers"].action
    assert check is not None and check.diagnose is not None and check.diagnose.steps == ("providers",)


@pytest.mark.parametrize("name", ["service_outage", "high_error_rate", "high_latency"])
def test_each_check_providers_step_runs_diagnoses_providers_check(name: str) -> None:
    step = next(step for _, step in load_library(None).runbooks[name].steps() if step.id == "check-providers")
    assert step.action is not None and step.action.diagnose is not None
    assert step.action.diagnose.steps == ("providers",)


def test_no_bundled_runbook_switches_to_a_backup_model_by_flag() -> None:
    library = load_library(None)
    flags = [(name, step.id) for name in library.names() for _, step in library.runbooks[name].steps()
             if step.action is not None and step.action.flag is not None and step.action.flag.value == "backup-model"]
    assert flags == []


@pytest.mark.parametrize("kind", ["failover", "restore_provider"])
def test_the_provider_actions_take_no_parameters(kind: str) -> None:
    assert StepAction.model_validate({kind: {}}).kind == kind
    with pytest.raises(ValidationError, match=f"{kind} takes no parameters"):
        StepAction.model_validate({kind: {"provider": "anthropic"}})
