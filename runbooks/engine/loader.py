"""Loading runbooks: the bundled library, then a team's own folder (``RUNBOOKS_DIR``) over it.

Files are read with YAML's node tree kept, so a schema error points at the line it is about.
A team's file with the same ``name`` as a bundled one replaces it; a new name adds a runbook.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from runbooks.engine.errors import Problem, RunbookError
from runbooks.engine.schema import Runbook

LIBRARY_DIR = Path(__file__).resolve().parent.parent / "library"
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Library:
    runbooks: dict[str, Runbook]
    sources: dict[str, Path]  # where each runbook came from

    def get(self, name: str) -> Runbook | None:
        return self.runbooks.get(name)

    def names(self) -> list[str]:
        return sorted(self.runbooks)


def _where(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """The line of the deepest node along ``loc`` that exists in the file."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((value for key, value in node.value if getattr(key, "value", None) == part), None)
            if match is None:
                key_node = next((key for key, _ in node.value if getattr(key, "value", None) == part), None)
                return key_node.start_mark.line + 1 if key_node is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _meaningful(errors: list[Any]) -> list[Any]:
    """Pydantic adds "should have at least 1 item" for a list whose only item was invalid; the
    item's own error says what is wrong, so the echo is left out."""
    locs = [tuple(error["loc"]) for error in errors]
    return [error for error in errors
            if not (error["type"] == "too_short"
                    and any(len(other) > len(error["loc"]) and other[:len(error["loc"])] == tuple(error["loc"])
                            for other in locs))]


def load_file(path: Path) -> Runbook:
    shown = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunbookError([Problem(shown, None, "", f"cannot read it ({exc.strerror or exc})")]) from exc
    if len(data) > MAX_FILE_BYTES:
        raise RunbookError([Problem(shown, None, "", f"is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")])
    try:
        text = data.decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        content = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise RunbookError([Problem(shown, None, "", "is not UTF-8 text")]) from exc
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RunbookError([Problem(shown, line, "", f"is not valid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise RunbookError([Problem(shown, None, "", f"is not valid YAML: {exc}")]) from exc
    if not isinstance(content, dict):
        raise RunbookError([Problem(shown, 1, "", "must be a mapping of keys (name, title, phases, ...)")])
    try:
        runbook = Runbook.model_validate(content)
    except ValidationError as exc:
        problems = [Problem(shown, _line_of(root, error["loc"]), _where(error["loc"]),
                            error["msg"].removeprefix("Value error, "))
                    for error in _meaningful(exc.errors())]
        raise RunbookError(problems) from exc
    if runbook.name != path.stem:
        raise RunbookError([Problem(shown, _line_of(root, ("name",)), "name",
                                    f"is {runbook.name!r} but the file is {path.name}; they must match")])
    return runbook


def load_library(extra_dir: str | Path | None = None, *, bundled: Path = LIBRARY_DIR) -> Library:
    """The bundled runbooks, with a team's folder laid over them. Every broken file is reported."""
    runbooks: dict[str, Runbook] = {}
    sources: dict[str, Path] = {}
    problems: list[Problem] = []
    folders = [bundled]
    if extra_dir:
        extra = Path(extra_dir)
        if not extra.is_dir():
            raise RunbookError([Problem(str(extra), None, "", "RUNBOOKS_DIR is not a folder")])
        folders.append(extra)
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            try:
                runbook = load_file(path)
            except RunbookError as exc:
                problems.extend(exc.problems)
                continue
            runbooks[runbook.name] = runbook
            sources[runbook.name] = path
    if problems:
        raise RunbookError(problems)
    return Library(runbooks=runbooks, sources=sources)
