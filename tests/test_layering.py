"""The dependency rules of DESIGN.md, checked on the source: the core stays plain Python."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EDGE_LIBRARIES = {"slack_sdk", "slack_bolt", "boto3", "botocore", "torch", "transformers", "fastapi", "httpx",
                  "aiohttp"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "bot/core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_incident_core_imports_no_edge_library(path: Path) -> None:
    offending = {m for m in imported_modules(path)
                 if m.split(".")[0] in EDGE_LIBRARIES | {"inference", "handlers", "runbooks"}
                 or m.startswith(("bot.slack", "bot.integrations", "bot.outbox"))}
    assert not offending, f"{path.name} imports {sorted(offending)}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("storage/**/*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_storage_depends_on_nothing_above_it(path: Path) -> None:
    offending = {m for m in imported_modules(path) if m.split(".")[0] in {"bot", "handlers", "runbooks", "inference"}}
    assert not offending, f"{path} imports {sorted(offending)}"


def test_the_bot_process_never_imports_torch() -> None:
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py"), *ROOT.glob("runbooks/**/*.py")]:
        assert "torch" not in {m.split(".")[0] for m in imported_modules(path)}, path


QUERY_BUILDERS = {"select", "update", "insert", "delete", "text", "func"}


ABOVE_THE_CORE = sorted(path for package in ("bot", "handlers", "runbooks") for path in (ROOT / package).rglob("*.py")
                        if not path.is_relative_to(ROOT / "bot/core"))


@pytest.mark.parametrize("path", ABOVE_THE_CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_core_and_storage_build_sql(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    builders = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
                and (node.module or "").startswith("sqlalchemy") for alias in node.names} & QUERY_BUILDERS
    assert not builders, f"{path.relative_to(ROOT)} builds SQL with {sorted(builders)}: move the query into bot/core"
