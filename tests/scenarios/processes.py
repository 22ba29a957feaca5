"""The bot as a real operating-system process (`incident-bot serve`), for replica and restart tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.scenarios.harness import BOT_TOKEN, SIGNING_SECRET


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """`incident-bot serve` on a free port with settings from the environment, as deployed."""

    def __init__(self, *, slack_url: str, database_url: str, config_path: Path | None, log_path: Path,
                 **environment: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack_url,
            "DATABASE_URL": database_url, "SLACK_POST_INTERVAL": "0",
            "OUTBOX_POLL_INTERVAL": "0.05", "LOG_LEVEL": "WARNING", **environment,
        }
        if config_path is not None:
            self._env["INCIDENT_BOT_CONFIG"] = str(config_path)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> BotProcess:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)],
            env=self._env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the bot exited with {self._process.returncode}: "
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the bot did not become ready: {self.log_path.read_text()[-2000:]}")

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def kill(self) -> None:
        """kill -9: no shutdown handlers, no flush; a later start() comes back on the same port."""
        if self._process is None:
            return
        self._process.kill()
        self._process.wait(15)
        self._process = None

    def stop(self, timeout: float = 15.0) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout)
        self._process = None
