"""`incident-bot runbooks ...`: the command's arguments, apart from what runs it
(`runbooks.engine.cli`), so that building the `incident-bot` parser (and `--help`) loads no
runbook, config model or database code."""

from __future__ import annotations

import argparse


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
        if name == "lint":
            action.add_argument("--config", metavar="PATH",
                                help="also check that every model, flag and ECS service a step's action names "
                                     "is in this config file")
        if name == "show":
            action.add_argument("name", help="the runbook's name, e.g. model_regression")
            action.add_argument("--service", help="fill the commands in with this configured service's "
                                                  "cluster, ECS service, flags prefix and log group")
            action.add_argument("--config", metavar="PATH",
                                help="the config that --service is read from (default: INCIDENT_BOT_CONFIG)")
