"""Reading the YAML configuration file once, at start-up.

Every way the file can be wrong (missing, unreadable, not YAML, not a mapping, invalid
settings) ends as one `ConfigError`, so the CLI can print it and exit instead of a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from bot.config.errors import ConfigError, ConfigProblem
from bot.config.models import IncidentBotConfig

__all__ = ["BUNDLED_CONFIG_PATH", "load_config"]

# The project's commented copy of the agreed format (equal to shared/config.example.yaml).
BUNDLED_CONFIG_PATH = Path(__file__).resolve().parents[1] / "defaults" / "config.yaml"


def load_config(path: str | os.PathLike[str] | None) -> IncidentBotConfig:
    """Load and validate the file at `path`; `None` gives the all-defaults configuration."""
    if path is None:
        return IncidentBotConfig()
    source = os.fspath(path)
    data = _parse_yaml(_read(source), source)
    return IncidentBotConfig.from_mapping(data, source=source)


def _read(source: str) -> bytes:
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise _error(source, "file not found") from None
    except IsADirectoryError:
        raise _error(source, "is a directory, not a file") from None
    except PermissionError:
        raise _error(source, "permission denied") from None
    except OSError as exc:
        raise _error(source, f"cannot read the file: {exc.strerror or exc}") from None


def _parse_yaml(content: bytes, source: str) -> Any:
    try:
        return yaml.load(content, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise _error(source, _describe_yaml_error(exc)) from None
    except yaml.YAMLError as exc:
        raise _error(source, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise _error(source, "not valid YAML: nested too deeply") from None


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    return f"{where}not valid YAML: {what or exc}"


def _error(source: str, message: str) -> ConfigError:
    return ConfigError(source, [ConfigProblem("", message)])


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping.

    Plain YAML keeps the last value silently, which would hide half of a config edit.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges are meant to be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable; the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r:.40}", key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
