"""The configuration reference, rendered from the code so that it cannot drift from it.

Two kinds of table, each a list of rows in Markdown:

- `environment_variables(SettingsClass)`: every variable a pydantic-settings class reads, with its
  type, its default and whether it is a secret (a field with ``repr=False``, whose default is never
  shown). A field without a ``description=`` raises `UndocumentedSetting`, so a setting cannot be
  added without telling the operator what it does.
- `config_keys(IncidentBotConfig)`: every key of the YAML file as a dotted path, found by walking
  the pydantic models: a section is a model, ``services.<service>`` a mapping of models,
  ``escalation.default[]`` a list of them.

The settings class is an argument, so the worker's settings (which the bot must never import) are
rendered by the same code from outside the bot: see ``tools/config_reference.py``, which writes
``docs/configuration-reference.md``.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import annotated_types
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from bot.config.budgets import ClockTime
from bot.config.communication import AudienceName
from bot.config.durations import format_duration
from bot.config.escalation_targets import Deadline, PagerDutyScheduleId
from bot.config.fields import ChannelRef, RunbookName, UserGroupId, UserId
from bot.config.http_url import HttpUrl
from bot.config.models import IncidentBotConfig

__all__ = [
    "ConfigKey",
    "EnvironmentVariable",
    "UndocumentedSetting",
    "config_keys",
    "environment_variables",
    "render_config_sections",
    "render_config_table",
    "render_environment_table",
]


class UndocumentedSetting(Exception):
    """A setting has no ``description=``: the reference would have nothing to say about it."""


@dataclass(frozen=True)
class EnvironmentVariable:
    name: str
    type: str
    default: str  # as an operator would write it; empty for a secret
    secret: bool
    description: str


@dataclass(frozen=True)
class ConfigKey:
    path: str  # dotted, with <placeholders> for names the operator chooses: services.<service>.ecs
    type: str
    default: str  # in YAML; empty where the key has none
    description: str
    required: str = ""  # "required" where its section needs it, or where the required value comes from


# ---------------------------------------------------------------------------------------------
# Environment variables


def environment_variables(settings_class: type[BaseSettings]) -> list[EnvironmentVariable]:
    """The variables `settings_class` reads, in the order its fields are declared.

    Raises `UndocumentedSetting` naming every field without a description.
    """
    undocumented = [name for name, field in settings_class.model_fields.items() if not _text(field.description)]
    if undocumented:
        raise UndocumentedSetting(
            f"{settings_class.__module__}.{settings_class.__qualname__}: add description= to the Field of "
            + ", ".join(undocumented)
        )
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    variables = []
    for name, field in settings_class.model_fields.items():
        secret = field.repr is False
        variables.append(EnvironmentVariable(
            name=_variable_name(name, field, prefix),
            type=_type_label(field.annotation, field.metadata),
            default="" if secret else _environment_default(_default_of(field)),
            secret=secret,
            description=_text(field.description),
        ))
    return variables


def render_environment_table(settings_class: type[BaseSettings]) -> str:
    """A Markdown table of `environment_variables(settings_class)`."""
    rows = [
        (f"`{variable.name}`", variable.type, _code(variable.default) if variable.default else "",
         "yes" if variable.secret else "", variable.description)
        for variable in environment_variables(settings_class)
    ]
    return _table(("variable", "type", "default", "secret", "meaning"), rows)


def _variable_name(field_name: str, field: FieldInfo, prefix: str) -> str:
    """The upper-case name an operator sets: the first upper-case validation alias."""
    alias = field.validation_alias
    choices: list[object] = list(alias.choices) if isinstance(alias, AliasChoices) else [alias]
    for choice in choices:
        if isinstance(choice, str) and choice.isupper():
            return choice
    return (prefix + field_name).upper()


# ---------------------------------------------------------------------------------------------
# YAML keys


# What the operator chooses as the key of a mapping, shown as <placeholder> in a key's path.
# Named by the mapping's field; a mapping not listed here shows <key>.
_PLACEHOLDERS = {
    "services": "service",
    "severities": "severity",
    "by_severity": "severity",
    "by_runbook": "runbook",
    "runbook_deadlines": "runbook",
    "audiences": "audience",
    "priority_map": "priority",
    "pagerduty_routing_keys": "level",
    "roles": "role",
    "actions": "action",
    "dimensions": "dimension",
}


# Mappings whose entries are laid over their default entries key by key (`IncidentBotConfig.severities`:
# `P1: {name: Urgent}` keeps P1's deadlines). Any other mapping that is given replaces its default whole.
_LAID_OVER_DEFAULTS = frozenset({"severities"})


def config_keys(model: type[BaseModel] = IncidentBotConfig) -> list[ConfigKey]:
    """Every key of the YAML file `model` reads, sections before the keys inside them.

    Raises `UndocumentedSetting` naming every field of every section without a description.
    """
    undocumented = [f"{section.__module__}.{section.__qualname__}.{name}"
                    for section in _sections(model, ())
                    for name, field in section.model_fields.items()
                    if not _text(field.description)]
    if undocumented:
        raise UndocumentedSetting("add description= to the Field of " + ", ".join(undocumented))
    return list(_walk(model, prefix="", seen=()))


def _sections(annotation: Any, seen: tuple[type[BaseModel], ...]) -> list[type[BaseModel]]:
    """`annotation` and every model reachable from its fields, each once."""
    found: list[type[BaseModel]] = []
    bare = _bare(annotation)
    for argument in typing.get_args(bare):
        for section in _sections(argument, (*seen, *found)):
            if section not in found:
                found.append(section)
    if _is_model(bare) and bare not in seen:
        found.insert(0, bare)
        for field in bare.model_fields.values():
            for section in _sections(field.annotation, (*seen, *found)):
                if section not in found:
                    found.append(section)
    return found


def render_config_table(model: type[BaseModel] = IncidentBotConfig) -> str:
    """A Markdown table of `config_keys(model)`."""
    rows = [(f"`{key.path}`", key.type, _default_cell(key), key.description) for key in config_keys(model)]
    return _table(("key", "type", "default", "meaning"), rows)


def render_config_sections(model: type[BaseModel] = IncidentBotConfig, *, heading: str = "###") -> str:
    """`render_config_table` cut into one table per top-level key, each under a heading of its own."""
    sections: dict[str, list[ConfigKey]] = {}
    for key in config_keys(model):
        sections.setdefault(key.path.split(".")[0].split("[")[0], []).append(key)
    parts = []
    for name, keys in sections.items():
        rows = [(f"`{key.path}`", key.type, _default_cell(key), key.description) for key in keys]
        parts.append(f"{heading} `{name}`\n\n" + _table(("key", "type", "default", "meaning"), rows))
    return "\n".join(parts)


def _default_cell(key: ConfigKey) -> str:
    return _code(key.default) if key.default else key.required


def _walk(model: type[BaseModel], prefix: str, seen: tuple[type[BaseModel], ...],
          filled_from: str = "") -> Iterator[ConfigKey]:
    """The keys of one section; `filled_from` names the mapping whose default entries fill its required keys."""
    if model in seen:  # no section contains itself today; a future one must not loop forever
        return
    for name, field in model.model_fields.items():
        path = prefix + name
        annotation = _without_none(field.annotation)
        description = _text(field.description)
        # An entry of a mapping with default entries takes each key it leaves out from the default entry.
        required = f"from the default of `{filled_from}`" if filled_from else "required" if field.is_required() else ""
        yield ConfigKey(
            path=path,
            type=_type_label(field.annotation, field.metadata, key_name=name),
            default="" if filled_from else _field_default(field),
            description=description or _section_description(annotation),
            required=required,
        )
        filled = path if name in _LAID_OVER_DEFAULTS else ""
        yield from _walk_inside(annotation, path, name, (*seen, model), filled)


def _walk_inside(annotation: Any, path: str, name: str, seen: tuple[type[BaseModel], ...],
                 filled_from: str = "") -> Iterator[ConfigKey]:
    """The keys under one key whose value is a section, a mapping of sections or a list of them.

    `filled_from` is set for a mapping with default entries (`severities`): an entry given for one
    of its keys needs only the keys it changes.
    """
    annotation = _without_none(_bare(annotation))
    origin = typing.get_origin(annotation)
    if _is_model(annotation):
        yield from _walk(annotation, path + ".", seen)
    elif origin in (dict, Mapping):
        key, value = typing.get_args(annotation)
        value = _without_none(_bare(value))
        placeholder = _placeholder(name)
        if _is_model(value):
            yield ConfigKey(path=f"{path}.{placeholder}", type=_type_label(value, ()), default="",
                            description=_placeholder_description(placeholder, key, value))
            yield from _walk(value, f"{path}.{placeholder}.", seen, filled_from)
        elif _is_sequence_of_models(value):
            yield ConfigKey(path=f"{path}.{placeholder}", type=_type_label(value, ()), default="",
                            description=_placeholder_description(placeholder, key, value))
            yield from _walk_inside(value, f"{path}.{placeholder}", name, seen)
    elif origin in (tuple, list):
        item = _without_none(_bare(typing.get_args(annotation)[0]))
        if _is_model(item):
            yield from _walk(item, path + "[].", seen)


def _placeholder(field_name: str) -> str:
    return f"<{_PLACEHOLDERS.get(field_name, 'key')}>"


def _placeholder_description(placeholder: str, key: Any, value: Any) -> str:
    """What an entry of a mapping is: what its key may be (where that is not any name) and its docstring."""
    key_label = _type_label(key, ())
    says = "" if key_label == "string" else f"`{placeholder}`: {key_label}. "
    return (says + _section_description(value)).strip()


def _field_default(field: FieldInfo) -> str:
    if field.is_required():
        return ""
    value = _default_of(field)
    if isinstance(value, BaseModel) and _is_bare_default(value):
        return ""  # a section with nothing set: its keys' own defaults apply
    return _show_default(value, unset="")


def _is_bare_default(section: BaseModel) -> bool:
    try:
        return section == type(section)()
    except ValueError:  # a section with required keys has no bare form
        return False


def _section_description(annotation: Any) -> str:
    """A section's docstring, first paragraph, where its field has no description of its own."""
    target = _without_none(_bare(annotation))
    if typing.get_origin(target) in (tuple, list):
        target = _without_none(_bare(typing.get_args(target)[0]))
    if not _is_model(target):
        return ""
    doc = target.__dict__.get("__doc__") or ""
    return _text(doc.strip().split("\n\n")[0].replace("``", "`"))


# ---------------------------------------------------------------------------------------------
# Types


# Field types whose plain Python type (str, timedelta) says too little. Matched by the validators
# they carry, so a type built on one of them (HttpUrl on Name) is still recognised: the type with
# the most validators in common wins.
_NAMED_TYPES: tuple[tuple[Any, str], ...] = (
    (ChannelRef, "Slack channel (name or id)"),
    (UserId, "Slack user id (U…)"),
    (UserGroupId, "Slack user group id (S…)"),
    (RunbookName, "runbook class"),
    (AudienceName, "audience name"),
    (HttpUrl, "http(s) URL"),
    (PagerDutyScheduleId, "PagerDuty schedule id (P…)"),
    (Deadline, "duration, or `false` for none"),
    (ClockTime, "time of day, UTC, quoted (\"09:00\")"),
)


def _type_label(annotation: Any, metadata: list[Any] | tuple[Any, ...], *, key_name: str = "") -> str:
    """How an operator writes a value of this type: `duration`, `list of Slack user id (U…)`.

    `key_name` is the field's own name, which names the keys of a mapping: `<service>`.
    """
    annotation, inner = _split_annotated(annotation)
    metadata = [*metadata, *inner]
    named = _named_type(metadata)
    if named is not None:
        return named
    counted = "entries" if typing.get_origin(annotation) in (tuple, list) else "characters"
    bounds = _bounds(metadata, counted)
    label = _plain_type_label(annotation, key_name)
    return f"{label}, {bounds}" if bounds else label


def _plain_type_label(annotation: Any, key_name: str = "") -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        present = [argument for argument in arguments if argument is not type(None)]
        return " or ".join(_type_label(argument, ()) for argument in present)
    if origin is Literal:
        return _one_of([str(argument) for argument in arguments])
    if origin in (tuple, list):
        item = _without_none(_bare(arguments[0]))
        if _is_model(item):
            return "list of sections (keys below)"
        return "list of: " + _type_label(arguments[0], ())
    if origin in (dict, Mapping):
        value = arguments[1]
        shown = "any value (JSON)" if _bare(value) is Any else _type_label(value, ())
        return f"mapping: `{_placeholder(key_name)}` → {shown}"
    if _is_model(annotation):
        return "section (keys below)"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _one_of([str(member.value) for member in annotation])
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    timedelta: "duration",
    time: "time of day",
    Path: "path",
}


def _one_of(values: list[str]) -> str:
    quoted = [f"`{value}`" for value in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _named_type(metadata: list[Any]) -> str | None:
    carried = _validators(metadata)
    best: tuple[int, str] | None = None
    for alias, label in _NAMED_TYPES:
        wanted = _validators(list(typing.get_args(alias)[1:]))
        if wanted and wanted <= carried and (best is None or len(wanted) > best[0]):
            best = (len(wanted), label)
    return None if best is None else best[1]


def _validators(metadata: list[Any]) -> frozenset[Callable[..., Any]]:
    functions: set[Callable[..., Any]] = set()
    for item in metadata:
        function = getattr(item, "func", None)
        if callable(function):
            functions.add(function)
    return frozenset(functions)


def _bounds(metadata: list[Any], counted: str) -> str:
    """A field's limits in words: `1 to 64`, `above 0`, `at most 8 entries` (`counted` names the unit of a length)."""
    low = next((f"at least {_number(m.ge)}" for m in metadata if isinstance(m, annotated_types.Ge)), None)
    low = low or next((f"above {_number(m.gt)}" for m in metadata if isinstance(m, annotated_types.Gt)), None)
    high = next((f"at most {_number(m.le)}" for m in metadata if isinstance(m, annotated_types.Le)), None)
    high = high or next((f"below {_number(m.lt)}" for m in metadata if isinstance(m, annotated_types.Lt)), None)
    if low and high and low.startswith("at least") and high.startswith("at most"):
        return f"{low.removeprefix('at least ')} to {high.removeprefix('at most ')}"
    parts = [part for part in (low, high) if part]
    shortest = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
    longest = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)
    if shortest and longest is not None:
        parts.append(f"{shortest} to {longest} {counted}")
    elif shortest:
        parts.append(f"at least {shortest} {counted}")
    elif longest is not None:
        parts.append(f"at most {longest} {counted}")
    return ", ".join(parts)


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _split_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    """`Annotated[int, Ge(1)]` as `(int, [Ge(1)])`, with any `Field(...)` inside opened up."""
    metadata: list[Any] = []
    while typing.get_origin(annotation) is Annotated:
        annotation, *extra = typing.get_args(annotation)
        metadata.extend(extra)
    opened: list[Any] = []
    for item in metadata:
        opened.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, opened


def _bare(annotation: Any) -> Any:
    return _split_annotated(annotation)[0]


def _without_none(annotation: Any) -> Any:
    """`X | None` as `X`; any other type as it is."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        present = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
        if len(present) == 1:
            return present[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_sequence_of_models(annotation: Any) -> bool:
    arguments = typing.get_args(annotation)
    return typing.get_origin(annotation) in (tuple, list) and bool(arguments) and _is_model(
        _without_none(_bare(arguments[0])))


# ---------------------------------------------------------------------------------------------
# Defaults


def _default_of(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True, validated_data={})


def _show_default(value: Any, *, unset: str) -> str:
    """A default as the operator would write it in YAML or the environment."""
    if value is None or value is PydanticUndefined or value == "":
        return unset
    return _flow(value)


def _environment_default(value: Any) -> str:
    """A default as it would be set in the environment: `true`, `1.5`, `https://slack.com/api/`."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# A string YAML reads as itself when unquoted: no flow or comment characters, not a bool, null or number.
_PLAIN_YAML = re.compile(r"[A-Za-z_./][A-Za-z0-9_./@-]*")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _yaml_string(text: str) -> str:
    if _PLAIN_YAML.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flow(value: Any) -> str:
    """YAML flow style: `[stop]`, `{P1: P0, P2: P1}`, `{rate: 10, long_window: 1h}`."""
    if isinstance(value, BaseModel):
        shown = {name: getattr(value, name) for name in type(value).model_fields}
        return _flow({name: item for name, item in shown.items() if item is not None and item != () and item != {}})
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_flow(key)}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, timedelta):
        if value.microseconds:  # format_duration drops parts of a second; YAML takes them as ms
            return f"{round(value.total_seconds() * 1000)}ms"
        return format_duration(value, max_units=None).replace(" ", "")
    if isinstance(value, time):
        return f'"{value:%H:%M}"'
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return _yaml_string(value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# Markdown


def _text(description: str | None) -> str:
    """One line, as a table cell needs."""
    return re.sub(r"\s+", " ", description or "").strip()


def _code(value: str) -> str:
    return f"`{value}`"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # A bare | would end the cell early, even inside backticks (GitHub's tables split first).
    return text.replace("|", "\\|")
