"""`incident-bot runbooks lint --config`: every target a step's action names is in the config;
`runbooks show --service`: the commands filled in with that service's names."""

from __future__ import annotations

import argparse
import io
import textwrap
from pathlib import Path

from demo.config import DEMO_CONFIG_YAML
from runbooks.engine.cli import run_runbooks


def _cli(command: str, **options: str | None) -> tuple[int, str, str]:
    args = argparse.Namespace(runbooks_command=command, dir=options.pop("dir", None), **options)
    out, err = io.StringIO(), io.StringIO()
    return run_runbooks(args, default_dir="", out=out, err=err), out.getvalue(), err.getvalue()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_demo_config_has_every_target_the_library_names(tmp_path: Path) -> None:
    path = _write(tmp_path, DEMO_CONFIG_YAML)
    code, out, err = _cli("lint", config=str(path))
    assert code == 0, err
    assert "no problems, every target in" in out


def test_a_config_lacking_a_target_fails_naming_the_step(tmp_path: Path) -> None:
    path = _write(tmp_path, """
        services:
          multimodal-api:
            ecs: {cluster: multimodal-prod, service: multimodal-api, min: 2, max: 20}
            models: [incident-text]
            flags: {prefix: /multimodal/prod/, names: [AUTO_APPLY_ENABLED, max_batch_size, weights.yaml, active_model]}
    """)
    code, out, err = _cli("lint", config=str(path))
    assert code == 1 and out == ""
    assert ("deployment_failure: step rollback-model: rolls back parameter 'document_classifier_version', "
            "which no service's flags name") in err
    assert "1 step name targets" in err
    # A full parameter path under the service's prefix names the flag too (/multimodal/prod/max_batch_size).
    assert "max_batch_size" not in err


def test_flags_and_ecs_are_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, """
        services:
          multimodal-api:
            models: [incident-text]
    """)
    code, _, err = _cli("lint", config=str(path))
    assert code == 1
    assert "model_regression: step disable-auto-apply: sets flag 'AUTO_APPLY_ENABLED', which no service's flags name" \
        in err
    assert "high_latency: step scale-up: scales the service, but no service has an ECS service" in err
    assert "saturation: step restore-batch-size: rolls back a config parameter, but no service has flags" in err


def test_a_bad_config_file_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = _cli("lint", config=str(tmp_path / "missing.yaml"))
    assert code == 1 and "missing.yaml" in err and "Traceback" not in err
    path = _write(tmp_path, "services: [1, 2]\n")
    code, _, err = _cli("lint", config=str(path))
    assert code == 1 and "services" in err


def test_lint_warns_about_an_unknown_placeholder(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.mkdir()
    (team / "ours.yaml").write_text(textwrap.dedent("""
        name: ours
        title: Our runbook
        summary: A runbook of our own.
        severity: P2
        phases:
          - phase: triage
            steps:
              - id: look
                title: Look at it
                why: To see.
                how: aws ecs describe-services --cluster {clustr} --services {ecs_service}
    """))
    code, out, err = _cli("lint", dir=str(team))
    assert code == 0 and "no problems" in out
    assert "warning: ours: step look: how: unknown placeholder {clustr} is shown as written" in err


def test_show_fills_the_commands_from_a_service(tmp_path: Path) -> None:
    path = _write(tmp_path, """
        services:
          scoring-api:
            aliases: [scoring]
            ecs: {cluster: scoring-prod, service: scoring-svc, min: 1, max: 4}
    """)
    code, out, _ = _cli("show", name="deployment_failure", service="scoring", config=str(path))
    assert code == 0
    assert "aws ecs list-tasks --cluster scoring-prod --service scoring-svc --desired-status STOPPED" in out
    assert "aws logs tail /aws/ecs/scoring-prod --follow" in out
    code, out, _ = _cli("show", name="deployment_failure", service=None, config=None)
    assert code == 0 and "--cluster {cluster} --service {ecs_service}" in out
    code, _, err = _cli("show", name="deployment_failure", service="nope", config=str(path))
    assert code == 1 and "no service 'nope'" in err and "scoring-api" in err
