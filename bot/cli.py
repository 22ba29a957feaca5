"""The `incident-bot` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.config import ConfigError
from bot.config.errors import SettingsError
from storage.errors import StorageError

DESCRIPTION = """\
incident-bot: incident response for teams that run ML services, in Slack.

Configuration comes from environment variables (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_APP_TOKEN, SLACK_API_URL, DATABASE_URL, ...) and an optional YAML file named by
INCIDENT_BOT_CONFIG. See README.md for each one.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-bot", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (Slack events, webhooks, health endpoints)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument(
        "--socket-mode", action="store_true",
        help="receive Slack events over Socket Mode (needs SLACK_APP_TOKEN); for bots Slack can't reach",
    )

    commands.add_parser("migrate", help="upgrade the database schema to the latest version")

    worker = commands.add_parser("worker", help="serve the models (KServe V1 HTTP API) from the model registry")
    worker.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    worker.add_argument("--port", type=int, default=9001, help="port to listen on (default 9001)")

    _add_models_parser(commands)
    _add_postmortem_parser(commands)
    _add_runbooks_parser(commands)

    demo = commands.add_parser(
        "demo", help="the whole product locally: a Slack sandbox in the browser, local AWS, the worker and the bot"
    )
    demo.add_argument("--host", default="127.0.0.1", help="address of the sandbox page (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=3000, help="port of the sandbox page (default 3000)")
    demo.add_argument("--state-dir", default="var/demo", help="where the demo keeps its database (default var/demo)")
    demo.add_argument("--models", default=None, help="model registry folder (default MODEL_REGISTRY or var/models)")
    demo.add_argument("--reset", action="store_true", help="start fresh: forget the incidents of earlier runs")
    demo.add_argument("--no-worker", action="store_true", help="run without the model worker (no training)")
    demo.add_argument("--script", action="store_true",
                      help="instead, play a short scripted incident in the terminal and print the transcript")
    demo.add_argument("--database-url", default="sqlite:///var/demo.db", help="with --script: its database")
    return parser


# Libraries that log every routine step at INFO, drowning what the bot says: Alembic's plugin
# announcements on import, APScheduler's every timer tick, httpx's every request, and the
# local AWS stand-in's (werkzeug) every call. Their warnings still show.
CHATTY_LOGGERS = ("alembic.runtime.plugins", "apscheduler.executors.default", "apscheduler.scheduler", "httpx",
                  "werkzeug")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
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


def _describe(exc: ValidationError) -> str:
    return "\n".join(f"  {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "migrate":
        return _migrate()
    if args.command == "worker":
        return _worker(args)
    if args.command == "models":
        from inference.cli import run_models
        from inference.settings import WorkerSettings

        return run_models(args, WorkerSettings().model_registry)
    if args.command == "runbooks":
        from bot.config.settings import Settings
        from runbooks.engine.cli import run_runbooks

        return run_runbooks(args, default_dir=Settings().runbooks_dir)
    if args.command == "postmortem":
        return _postmortem(args)
    if args.command == "demo":
        return _demo(args)
    raise AssertionError(args.command)


def _demo(args: argparse.Namespace) -> int:
    if args.script:
        from demo.script import run_demo

        return run_demo(database_url=args.database_url)
    import os
    from pathlib import Path

    from demo import serve_demo
    from demo.stack import DemoOptions

    registry = Path(args.models or os.environ.get("MODEL_REGISTRY") or "var/models")
    return serve_demo(DemoOptions(state_dir=Path(args.state_dir), registry=registry, host=args.host, port=args.port,
                                  reset=args.reset, with_worker=not args.no_worker))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import AppOptions, create_app
    from bot.config.settings import Settings

    settings = Settings()
    logging.getLogger().setLevel(settings.log_level.upper())
    app = create_app(settings, AppOptions(socket_mode=args.socket_mode))
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower())
    return 0


def _add_models_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # The model commands need torch; their parser is cheap, their work is imported when run.
    from inference.cli import add_models_parser

    add_models_parser(commands)


def _add_runbooks_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from runbooks.engine.cli import add_runbooks_parser

    add_runbooks_parser(commands)


def _add_postmortem_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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


def _worker(args: argparse.Namespace) -> int:
    import uvicorn

    from inference.app import build_worker
    from inference.settings import WorkerSettings

    # No access log: at hundreds of predictions a second it costs CPU the models need, and
    # /metrics counts every request by model and outcome.
    uvicorn.run(build_worker(WorkerSettings()), host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def _migrate() -> int:
    from bot.config.settings import Settings
    from storage.migrate import upgrade_to_head

    settings = Settings()
    upgrade_to_head(settings.database_url)
    print(f"incident-bot: the database is at the latest schema ({_redacted(settings.database_url)})")
    return 0


def _redacted(url: str) -> str:
    from storage.db import parse_database_url

    return parse_database_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
