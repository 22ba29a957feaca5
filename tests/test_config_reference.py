"""docs/configuration-reference.md is the code's own description of every setting and key.

The reference is regenerated here and compared with the committed file, every setting and every
key must carry a description, the defaults it prints must read back as the defaults they are,
and the deployment guide may name only settings that exist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings

from bot.config.models import IncidentBotConfig
from bot.config.reference import (
    UndocumentedSetting,
    config_keys,
    environment_variables,
    render_config_table,
    render_environment_table,
)
from bot.config.settings import Settings
from inference.settings import WorkerSettings
from observability.logs import LogSettings
from tools import config_reference

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (Settings, LogSettings, WorkerSettings)

# Variables the deployment guide may name that no settings class of ours reads, each with its reader.
READ_BY_OTHERS = {
    "AWS_REGION": "boto3, and bot/integrations/aws.py for the bot's default region",
    "POSTGRES_PASSWORD": "the postgres image in deploy/compose.yaml (deploy/env.example)",
    "PIP_EXTRA_INDEX_URL": "pip, in deploy/worker.Dockerfile's build",
}
ENV_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def test_the_committed_reference_is_what_the_code_generates() -> None:
    committed = config_reference.REFERENCE.read_text(encoding="utf-8")
    regenerated = config_reference.splice(committed, config_reference.render())
    assert regenerated == committed, (
        f"{config_reference.REFERENCE.relative_to(ROOT)} is out of date with the code: "
        f"run `{config_reference.REGENERATE}` (or .venv/bin/python -m tools.config_reference --write)"
    )


def test_the_check_command_fails_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "configuration-reference.md"
    stale.write_text("# intro\n\n<!-- generated: -->\nold\n<!-- /generated -->\n", encoding="utf-8")
    monkeypatch.setattr(config_reference, "REFERENCE", stale)
    assert config_reference.main(["--check"]) == 1
    assert "make docs-reference" in capsys.readouterr().err
    assert config_reference.main(["--write"]) == 0
    assert config_reference.main(["--check"]) == 0
    written = stale.read_text(encoding="utf-8")
    assert written.startswith("# intro\n\n<!-- generated: by tools/config_reference.py")
    assert "| `SLACK_BOT_TOKEN` |" in written and written.endswith("<!-- /generated -->\n")


@pytest.mark.parametrize("settings_class", SETTINGS_CLASSES, ids=lambda cls: cls.__name__)
def test_every_setting_has_a_description(settings_class: type[BaseSettings]) -> None:
    variables = environment_variables(settings_class)
    assert len(variables) == len(settings_class.model_fields)
    assert all(variable.description for variable in variables)
    assert all(variable.name.isupper() for variable in variables)


def test_a_setting_without_a_description_stops_the_generator() -> None:
    class Undocumented(BaseSettings):
        documented: str = Field(default="", description="Says what it does.")
        forgotten: int = Field(default=1, validation_alias=AliasChoices("FORGOTTEN", "forgotten"))

    with pytest.raises(UndocumentedSetting, match=r"Undocumented: add description= to the Field of forgotten"):
        render_environment_table(Undocumented)


def test_every_yaml_key_has_a_description() -> None:
    keys = config_keys()
    assert [key.path for key in keys if not key.description] == []
    assert len({key.path for key in keys}) == len(keys)


def test_a_yaml_key_without_a_description_stops_the_generator() -> None:
    class Section(BaseModel):
        forgotten: int = 1

    class Whole(BaseModel):
        section: Section = Field(default_factory=Section, description="A section.")

    with pytest.raises(UndocumentedSetting, match=r"Section\.forgotten"):
        render_config_table(Whole)


def test_secrets_are_marked_and_their_defaults_never_shown() -> None:
    by_name = {variable.name: variable for variable in environment_variables(Settings)}
    secrets = {name for name, variable in by_name.items() if variable.secret}
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DATABASE_URL",
            "PAGERDUTY_WEBHOOK_SECRETS", "PAGERDUTY_API_TOKEN", "EVENTBRIDGE_TOKEN"} <= secrets
    assert all(by_name[name].default == "" for name in secrets)
    # DATABASE_URL has a real default, but a secret's column stays empty whatever it is.
    table = render_environment_table(Settings)
    assert "| `DATABASE_URL` | string |  | yes |" in table


@pytest.mark.parametrize("settings_class", SETTINGS_CLASSES, ids=lambda cls: cls.__name__)
def test_every_shown_default_of_a_variable_reads_back_as_the_default(settings_class: type[BaseSettings]) -> None:
    defaults = settings_class.model_validate({})
    for variable in environment_variables(settings_class):
        if not variable.default:
            continue
        field = next(name for name, info in settings_class.model_fields.items()
                     if isinstance(info.validation_alias, AliasChoices)
                     and variable.name in info.validation_alias.choices)
        read = settings_class.model_validate({variable.name: variable.default})
        assert getattr(read, field) == getattr(defaults, field), variable.name


def test_the_key_paths_reach_into_mappings_and_lists() -> None:
    by_path = {key.path: key for key in config_keys()}
    assert by_path["services.<service>.ecs.cluster"].required == "required"
    assert by_path["services.<service>.ecs.cluster"].type == "string"
    assert by_path["escalation.by_severity.<severity>[].after"].type == "duration"
    assert by_path["escalation.default[].notify.schedules"].type == "list of: PagerDuty schedule id (P…)"
    assert by_path["services.<service>.providers.backups[].health_metric.unhealthy_when"].type == "`below` or `above`"
    assert by_path["communication.audiences.<audience>.template"].default == "full"
    assert by_path["postmortems.approvals_required"].type == "integer, 1 to 10"
    assert by_path["rbac.approval_required"].default == "[stop]"
    assert by_path["escalation.default[].until"].type == "`acknowledged`, `mitigated` or `resolved`"
    # Every field of every section is listed, each under its parent.
    assert by_path["services.<service>"].type == "section (keys below)"
    for key in by_path:
        parent = key.rsplit(".", 1)[0].removesuffix("[]")
        assert "." not in key or parent in by_path, key


def test_severities_take_left_out_keys_from_their_default_entries_and_other_mappings_do_not() -> None:
    """What the reference says of `severities.<severity>.*` ("from the default") and of the rest."""
    by_path = {key.path: key for key in config_keys()}
    assert by_path["severities.<severity>.respond_within"].required == "from the default of `severities`"
    assert by_path["escalation.runbook_deadlines.<runbook>.respond_within"].required == ""

    config = IncidentBotConfig.from_mapping({"severities": {"P1": {"name": "Urgent"}},
                                             "escalation": {"runbook_deadlines": {"high_latency": {}}}})
    assert config.severity_policy("P1").name == "Urgent"
    assert config.severity_policy("P1").respond_within == IncidentBotConfig().severity_policy("P1").respond_within
    assert "model_regression" not in config.escalation.runbook_deadlines  # replaced whole


def _nested(path: str, value: Any) -> dict[str, Any]:
    data: Any = value
    for part in reversed(path.split(".")):
        data = {part: data}
    return data


def _value_at(config: BaseModel, path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_every_shown_yaml_default_reads_back_as_the_default() -> None:
    """A default copied from the reference into the file changes nothing (for keys with a plain path)."""
    defaults = IncidentBotConfig()
    keys = config_keys()
    # A section that is absent by default and has required keys (security.evidence) cannot be
    # given one key alone.
    needs_more = {key.path.rsplit(".", 1)[0] for key in keys if key.required == "required"}
    checked = 0
    for key in keys:
        ancestors = [key.path.rsplit(".", depth)[0] for depth in range(1, key.path.count(".") + 1)]
        if not key.default or "<" in key.path or "[]" in key.path or needs_more.intersection(ancestors):
            continue
        config = IncidentBotConfig.from_mapping(_nested(key.path, yaml.safe_load(key.default)))
        assert _value_at(config, key.path) == _value_at(defaults, key.path), key.path
        checked += 1
    assert checked > 40


def test_the_deployment_guide_names_only_real_settings() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    ours = {variable.name for settings_class in SETTINGS_CLASSES for variable in environment_variables(settings_class)}
    named = set(ENV_NAME.findall(guide))
    unknown = sorted(named - ours - set(READ_BY_OTHERS))
    assert unknown == [], f"docs/deploy.md names variables no settings class reads: {unknown}"
    assert {"SLACK_BOT_TOKEN", "DATABASE_URL", "MIGRATE_ON_START", "MODEL_REGISTRY", "LOG_FORMAT"} <= named


def test_the_deployment_guide_links_the_reference() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "(configuration-reference.md)" in guide
