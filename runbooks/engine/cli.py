"""`incident-bot runbooks lint|list|show`: check, list and read the runbook library."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from runbooks.engine.errors import RunbookError
from runbooks.engine.loader import load_library
from runbooks.engine.markdown import render


def add_runbooks_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runbooks = commands.add_parser(
        "runbooks", help="the runbook library: lint it, list it, show one as Markdown",
        description="The bundled runbooks, with the folder RUNBOOKS_DIR (or --dir) laid over them.")
    actions = runbooks.add_subparsers(dest="runbooks_command", required=True, metavar="ACTION")
    for name, text in (("lint", "check every runbook file; exits non-zero on any error"),
                       ("list", "one line per runbook: name, severity, steps, what it matches"),
                       ("show", "a runbook as Markdown")):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--dir", help="a folder of your own runbooks (default: RUNBOOKS_DIR)")
        if name == "show":
            action.add_argument("name", help="the runbook's name, e.g. model_regression")


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
        print(f"incident-bot: {len(library.runbooks)} runbooks, no problems", file=out)
        return 0
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
    out.write(render(runbook))
    return 0
