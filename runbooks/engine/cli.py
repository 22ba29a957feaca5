"""`incident-bot runbooks lint|list|show`: check, list and read the runbook library."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from bot.config import IncidentBotConfig, load_config
from bot.config.errors import ConfigError
from runbooks.engine.commands import CommandFacts
from runbooks.engine.errors import RunbookError
from runbooks.engine.lint import placeholder_warnings, target_problems
from runbooks.engine.loader import Library, load_library
from runbooks.engine.markdown import render


def run_runbooks(args: argparse.Namespace, *, default_dir: str, out: TextIO = sys.stdout,
                 err: TextIO = sys.stderr) -> int:
    try:
        library = load_library(args.dir or default_dir or None)
    except RunbookError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"incident-bot: {len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} "
              "in the runbook library", file=err)
        return 1
    if args.runbooks_command == "lint":
        return _lint(library, args, out=out, err=err)
    if args.runbooks_command == "list":
        for name in library.names():
            listed = library.runbooks[name]
            steps = listed.steps()
            bound = sum(1 for _, step in steps if step.action)
            print(f"{name:20} {listed.severity.value}  {len(steps):2} steps ({bound} with actions)  "
                  f"{listed.title}", file=out)
        return 0
    runbook = library.get(args.name)
    if runbook is None:
        print(f"incident-bot: no runbook {args.name!r}; there are: {', '.join(library.names())}", file=err)
        return 1
    facts = None
    if getattr(args, "service", None):
        try:
            facts = _service_facts(args.service, getattr(args, "config", None))
        except (ConfigError, LookupError) as exc:
            print(f"incident-bot: {exc}", file=err)
            return 1
    out.write(render(runbook, facts))
    return 0


def _lint(library: Library, args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    for warning in placeholder_warnings(library):
        print(f"warning: {warning}", file=err)
    problems = []
    if getattr(args, "config", None):
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"incident-bot: {exc}", file=err)
            return 1
        problems = target_problems(library, config)
    for problem in problems:
        print(f"{problem} (in {args.config})", file=err)
    if problems:
        print(f"incident-bot: {len(problems)} step{'s' if len(problems) != 1 else ''} name targets "
              f"that {args.config} lacks", file=err)
        return 1
    checked = f", every target in {args.config}" if getattr(args, "config", None) else ""
    print(f"incident-bot: {len(library.runbooks)} runbooks, no problems{checked}", file=out)
    return 0


def _service_facts(service: str, config_path: str | None) -> CommandFacts:
    path = config_path or os.environ.get("INCIDENT_BOT_CONFIG") or None
    config = load_config(path) if path else IncidentBotConfig()
    name = config.service_name(service)
    if name is None:
        if path:
            known = ", ".join(config.services) or "none"
            raise LookupError(f"no service {service!r} in {path} (there are: {known})")
        return CommandFacts(service=service)  # no config: only the name is known
    return CommandFacts.of(service_name=name, service=config.services[name])
