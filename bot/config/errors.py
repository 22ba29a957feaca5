"""Configuration errors, written for the person who edits the file.

`ConfigError` lists one problem per line as `FILE: key.path[index]: what is wrong`, never a
traceback. Pydantic's errors are translated here: locations become dotted paths that follow
the document (list indices in brackets), and the common messages are reworded.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "ConfigProblem", "NestedProblems", "SettingsError", "problems_from_validation_error"]

Location = tuple[Any, ...]


@dataclass(frozen=True)
class ConfigProblem:
    location: str  # dotted key path; empty for problems with the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(Exception):
    """The configuration cannot be used. `str()` gives one `source: problem` line per problem."""

    def __init__(self, source: str, problems: Iterable[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(source, self.problems)

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {problem}" for problem in self.problems)


class SettingsError(Exception):
    """The settings can't run the bot (a missing secret, a bad URL); the message names what to set."""


class NestedProblems(ValueError):
    """Raised by a validator that checks several keys at once, with a path for each problem.

    Pydantic keeps the exception in the error's context, so the paths, relative to the
    validated value, survive into `ConfigError`.
    """

    def __init__(self, problems: Sequence[tuple[Location, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{_plain_path(loc)}: {msg}" for loc, msg in self.problems))


def problems_from_validation_error(
    exc: ValidationError, data: object, model: type[BaseModel]
) -> list[ConfigProblem]:
    """Turn pydantic's errors into problems whose paths follow `data`, the validated document."""
    errors = exc.errors(include_url=False)
    # Once a mapping key is wrong (`severities.P5`), errors inside its value are only noise.
    bad_keys = [_location(error) for error in errors if error["loc"][-1:] == ("[key]",)]
    problems = []
    for error in errors:
        location = _location(error)
        if any(_within(location, key) for key in bad_keys):
            continue
        nested = error.get("ctx", {}).get("error")
        if isinstance(nested, NestedProblems):
            for inner, message in nested.problems:
                problems.append(ConfigProblem(_path(data, location + tuple(inner)), message))
        else:
            problems.append(ConfigProblem(_path(data, location), _message(error, location, model)))
    return problems


def _location(error: Mapping[str, Any]) -> Location:
    return tuple(part for part in error["loc"] if part != "[key]")


def _within(location: Location, prefix: Location) -> bool:
    return len(location) > len(prefix) and location[: len(prefix)] == prefix


def _path(data: object, location: Location) -> str:
    """Render `('rbac', 'actions', 'stop', 0)` as `rbac.actions.stop[0]`.

    An int can be a list index or a mapping key (`pagerduty_routing_keys: {0: ...}`), so the
    document itself decides which way each step is written.
    """
    text = ""
    node: object = data
    for part in location:
        if isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if -len(node) <= part < len(node) else None
        elif isinstance(node, Mapping) or not isinstance(part, int):
            text += _key(part, first=not text)
            node = _child(node, part)
        else:
            text += f"[{part}]"
            node = None
    return text


def _plain_path(location: Location) -> str:
    return _path(None, location)


_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def _key(part: object, *, first: bool) -> str:
    name = str(part)
    if _SIMPLE_KEY.fullmatch(name):
        return name if first else f".{name}"
    return f"[{name!r}]"


def _child(node: object, part: object) -> object:
    if not isinstance(node, Mapping):
        return None
    try:
        return node.get(part)
    except TypeError:  # an unhashable part cannot be a key of this mapping
        return None


def _message(error: Mapping[str, Any], location: Location, model: type[BaseModel]) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return _unknown_key(location, model)
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {_describe(given)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {_describe(given)}"
    if kind == "string_type":
        return f"expected a string, got {_describe(given)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_describe(given)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {_describe(given)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_describe(given)}"
    if kind == "invalid_key":
        return "keys must be strings"
    return _reworded(error["msg"])


def _reworded(message: str) -> str:
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message.replace("Input should be", "must be")
    return message[:1].lower() + message[1:]


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown_key(location: Location, model: type[BaseModel]) -> str:
    allowed = _allowed_keys(model, location[:-1])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(str(location[-1]), allowed, n=1)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (expected one of: {', '.join(allowed)})"


def _allowed_keys(model: type[BaseModel], location: Location) -> list[str]:
    """The field names of the model found by following `location` down from `model`."""
    current: Any = model
    for part in location:
        current = _unwrap(current)
        if _is_model(current):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            if not args:
                return []
            # dict[K, V] steps into V; tuple[X, ...] and list[X] step into X.
            current = args[1] if typing.get_origin(current) in (dict, Mapping) else args[0]
    current = _unwrap(current)
    return list(current.model_fields) if _is_model(current) else []


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` down to the type that holds the data."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if _is_union(annotation) and len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
