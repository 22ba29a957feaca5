"""Serving the demo in the browser: what `incident-bot demo` runs without `--script`.

`serve_demo` starts the stack (demo/stack.py), prints the sandbox's address and runs until Ctrl-C.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import IO

from demo.config import DEMO_TIME_SCALE
from demo.stack import DemoOptions, DemoStack


def serve_demo(options: DemoOptions, *, out: IO[str] = sys.stdout, stop: threading.Event | None = None) -> int:
    """Run the demo until Ctrl-C (or until ``stop`` is set); 0 on a clean stop."""
    # The terminal shows the address and what goes wrong; the sandbox page shows the rest.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    stop = stop or threading.Event()
    # Ctrl-C ends the wait and the stack stops in order; signals only reach the main thread.
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set()) if on_main else None
    try:
        with DemoStack(options, out=out) as demo:
            print(f"\nincident-bot demo is running.\n\n  Open {demo.url} in a browser.\n"
                  f"\n  Pick a scenario from the menu, switch people with the user menu, and type /incident help."
                  f"\n  Timers run {DEMO_TIME_SCALE}× faster than configured: escalations show within two minutes."
                  f"\n  State is kept in {options.state_dir} (start over with --reset). Ctrl-C stops everything.\n",
                  file=out, flush=True)
            stop.wait()
            print("Stopping…", file=out, flush=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return 0
