"""Choosing a runbook by the runbooks' own match rules: most specific rule wins, the same way every time."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbooks.engine.loader import load_library
from runbooks.engine.matching import AlertFacts, match_by_rules, runbook_for_class

LIBRARY = load_library()
AUTO_APPLY = "/multimodal/prod/AUTO_APPLY_ENABLED"


@pytest.mark.parametrize(("facts", "runbook"), [
    (AlertFacts(alarm_name="multimodal-api-p95-latency-high"), "high_latency"),
    (AlertFacts(alarm_name="ticket-classifier-error-rate"), "high_error_rate"),
    (AlertFacts(alarm_name="prod-guardduty-unauthorized-access"), "security"),
    (AlertFacts(alarm_name="feature-store-null-rate"), "data_quality"),
    (AlertFacts(alarm_name="something-odd", metric_name="drift_score"), "model_drift"),
    (AlertFacts(alarm_name="canary-rollout-failed"), "deployment_failure"),
])
def test_the_library_sends_the_seeds_alarms_to_their_runbooks(facts: AlertFacts, runbook: str) -> None:
    found = match_by_rules(LIBRARY, [facts])
    assert found is not None and found.runbook == runbook


def test_an_exact_metric_beats_an_alarm_glob_and_the_reason_says_which_rule() -> None:
    # The name says latency, the metric is the error rate's: the metric decides.
    found = match_by_rules(LIBRARY, [AlertFacts(alarm_name="api-latency-alarm", metric_name="error_rate")])
    assert found is not None and found.runbook == "high_error_rate" and found.reason == "metric error_rate"
    by_name = match_by_rules(LIBRARY, [AlertFacts(alarm_name="api-latency-alarm")])
    assert by_name is not None and by_name.runbook == "high_latency" and "matches *latency*" in by_name.reason


def test_the_longer_literal_pattern_wins(tmp_path: Path) -> None:
    for name, pattern in (("broad", "*latency*"), ("narrow", "*p95-latency*")):
        source = (Path(LIBRARY.sources["high_latency"]).read_text()
                  .replace("name: high_latency", f"name: {name}", 1))
        start, end = source.index("match:"), source.index("severity:")
        source = source[:start] + f"match:\n  alarms: ['{pattern}']\n\n" + source[end:]
        (tmp_path / f"{name}.yaml").write_text(source)
    library = load_library(tmp_path, bundled=tmp_path / "none")
    assert match_by_rules(library, [AlertFacts(alarm_name="api-p95-latency")]).runbook == "narrow"  # type: ignore[union-attr]
    assert match_by_rules(library, [AlertFacts(alarm_name="api-p99-latency")]).runbook == "broad"  # type: ignore[union-attr]


def test_no_rule_no_match_and_a_pagerduty_service_rule_matches(tmp_path: Path) -> None:
    assert match_by_rules(LIBRARY, [AlertFacts(alarm_name="nightly-report-email")]) is None
    assert match_by_rules(LIBRARY, []) is None
    source = LIBRARY.sources["security"].read_text().replace("  text_class: security",
                                                            "  pagerduty_services: [PSECOPS]\n  text_class: security")
    (tmp_path / "security.yaml").write_text(source)
    library = load_library(tmp_path)
    found = match_by_rules(library, [AlertFacts(alarm_name="Weird thing", pagerduty_service="PSECOPS")])
    assert found is not None and found.runbook == "security" and "PagerDuty service PSECOPS" in found.reason


@given(names=st.lists(st.text(max_size=60), max_size=4), metric=st.one_of(st.none(), st.text(max_size=40)))
def test_any_alert_text_gets_a_runbook_of_the_library_or_none_and_always_the_same(names: list[str],
                                                                                  metric: str | None) -> None:
    facts = [AlertFacts(alarm_name=n, metric_name=metric) for n in names]
    first, second = match_by_rules(LIBRARY, facts), match_by_rules(LIBRARY, list(facts))
    assert first == second
    assert first is None or first.runbook in LIBRARY.runbooks


def test_every_text_class_has_its_runbook() -> None:
    from runbooks.classes import RUNBOOK_CLASSES

    assert {label: runbook_for_class(LIBRARY, label) for label in RUNBOOK_CLASSES} == {c: c for c in RUNBOOK_CLASSES}
    assert runbook_for_class(LIBRARY, "not_a_class") is None


@pytest.mark.parametrize(("runbook", "kind", "before", "after", "steps"), [
    ("model_regression", "set_flag", {"value": "true"}, {"path": AUTO_APPLY, "value": "false"}, ["disable-auto-apply"]),
    ("model_regression", "set_flag", {"value": "false"}, {"path": AUTO_APPLY, "value": "true"},
     ["re-enable-auto-apply"]),
    ("model_regression", "set_flag", {}, {"path": "/multimodal/prod/rate_limit_rpm", "value": "false"}, []),
    ("model_regression", "load_model", {"version": "v3"}, {"model": "incident-text", "version": "v2"},
     ["rollback-model"]),
    ("high_latency", "scale", {"desired": 4}, {"desired": 10}, ["scale-up"]),
    ("high_latency", "scale", {"desired": 4}, {"desired": 12}, []),  # the step asks for 10
    ("high_latency", "rollback_config", {}, {"path": "/multimodal/prod/max_batch_size", "value": "16"},
     ["restore-batch-size"]),
    ("high_latency", "rollback_config", {}, {"path": "/multimodal/prod/rate_limit_rpm", "value": "600"}, []),
    ("high_latency", "rollback_deploy", {}, {"revision": "2"}, ["rollback-deploy"]),
])
def test_a_finished_action_does_the_steps_that_ask_for_it(runbook: str, kind: str, before: dict, after: dict,
                                                           steps: list[str]) -> None:
    from runbooks.engine.matching import steps_done_by_action

    done = steps_done_by_action(LIBRARY.runbooks[runbook], kind=kind, before=before, after=after)
    assert [s.id for s in done] == steps
