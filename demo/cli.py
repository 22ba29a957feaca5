"""`incident-bot demo`: the demo's part of the command line.

The bot's command line imports this module by name to build its parser, so it stays cheap to
import: the demo stack (the bot, the sandbox, a local AWS) loads only when the command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo` to the `incident-bot` parser."""
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


def run(args: argparse.Namespace) -> int:
    """Run `demo`, as parsed by the parser `add_parsers` built."""
    if args.script:
        from demo.script import run_demo

        return run_demo(database_url=args.database_url)
    from demo.serve import serve_demo
    from demo.stack import DemoOptions

    registry = Path(args.models or os.environ.get("MODEL_REGISTRY") or "var/models")
    return serve_demo(DemoOptions(state_dir=Path(args.state_dir), registry=registry, host=args.host, port=args.port,
                                  reset=args.reset, with_worker=not args.no_worker))
