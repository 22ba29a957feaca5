"""Writes the generated part of docs/configuration-reference.md from the code, or checks it.

    .venv/bin/python -m tools.config_reference --write   # regenerate (make docs-reference)
    .venv/bin/python -m tools.config_reference --check   # exit 1 if the file is out of date

Every table comes from the code: the environment variables from the pydantic-settings classes of
the bot, the log setup and the worker, and the YAML keys from `IncidentBotConfig`. The renderer
lives in `bot.config.reference`; this script sits outside the packages because it is the one
place that may import both the bot and the worker (the bot must never import `inference`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config.reference import render_config_sections, render_environment_table
from bot.config.settings import Settings
from inference.settings import WorkerSettings
from observability.logs import LogSettings

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "configuration-reference.md"
REGENERATE = "make docs-reference"
BEGIN = ("<!-- generated: by tools/config_reference.py from the code; do not edit by hand: change a description= "
         f"in the code and run `{REGENERATE}` -->")
END = "<!-- /generated -->"

YAML_NOTES = """\
How to read the key paths:

- `<service>`, `<severity>`, `<runbook>`, `<role>`, ...: a key you choose (a service's name, a
  severity `P0` to `P3`, a runbook class, a role's name); `[]` is an entry of a list, so
  `escalation.default[].after` is the `after` of each level of `escalation.default`.
- A section (type "section") is optional unless its default says "required"; its keys marked
  "required" must be given when the section is.
- A duration is written `30s`, `15m`, `1h`, `2d` or `1h30m`; `key:` with no value means the
  default.
"""


def render() -> str:
    """The generated part, markers included."""
    return "\n".join([
        BEGIN,
        "",
        "## Environment variables",
        "",
        "### The bot",
        "",
        "Read by `incident-bot serve`, `incident-bot migrate` and the bot's other commands.",
        "",
        render_environment_table(Settings),
        "### Logging",
        "",
        "Read by every `incident-bot` command, the bot and the worker alike.",
        "",
        render_environment_table(LogSettings),
        "### The model worker",
        "",
        "Read by `incident-bot worker` and `incident-bot models` (the `incident-bot[worker]` install).",
        "",
        render_environment_table(WorkerSettings),
        "## The YAML file",
        "",
        "The file `INCIDENT_BOT_CONFIG` names. Every key is optional.",
        "",
        YAML_NOTES,
        render_config_sections(heading="###"),
        END,
    ]) + "\n"


def splice(document: str, generated: str) -> str:
    """`document` with the text between its markers (markers included) replaced by `generated`."""
    lines = document.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line.startswith("<!-- generated:")), None)
    end = next((i for i, line in enumerate(lines) if line.strip() == END), None)
    if begin is None or end is None or end < begin:
        raise SystemExit(f"{REFERENCE}: no '<!-- generated: ... -->' ... '{END}' markers to write between")
    return "".join(lines[:begin]) + generated + "".join(lines[end + 1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"rewrite the generated part of {REFERENCE.name}")
    action.add_argument("--check", action="store_true", help="exit 1 if the file differs from the code")
    args = parser.parse_args(argv)
    current = REFERENCE.read_text(encoding="utf-8")
    wanted = splice(current, render())
    if args.write:
        if wanted != current:
            REFERENCE.write_text(wanted, encoding="utf-8")
        print(f"{REFERENCE.relative_to(Path.cwd()) if REFERENCE.is_relative_to(Path.cwd()) else REFERENCE}: "
              + ("written" if wanted != current else "already up to date"))
        return 0
    if wanted != current:
        print(f"{REFERENCE.name} is out of date with the code: run `{REGENERATE}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
