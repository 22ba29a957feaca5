"""Pieces the process-level benchmarks share: the local Slack server and the bot as their own
processes, a model registry to serve, and memory figures read from /proc."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import httpx

from tests.bench.ingest import PD_SECRET, free_port, start, wait_http
from tests.handlers.webhooks.sns_fixtures import DEFAULT_TOPIC_ARN, write_pinned_cert

ROOT = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "bench"
FULL_REGISTRY = ROOT / "var" / "models"
QUICK_REGISTRY = Path(os.environ.get("BENCH_QUICK_REGISTRY", "/tmp/incident-bot-bench-quick-registry"))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """p50 / p95 / p99 / max in milliseconds, and the count."""
    if not seconds:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {"count": len(seconds), "p50_ms": round(statistics.median(seconds) * 1000, 2),
            "p95_ms": round(percentile(seconds, 0.95) * 1000, 2),
            "p99_ms": round(percentile(seconds, 0.99) * 1000, 2), "max_ms": round(max(seconds) * 1000, 2)}


def ratio(a: float | None, b: float | None, digits: int = 1) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.2f} (1 min) / {five:.2f} (5 min) before the run"


def registry() -> tuple[str, str]:
    """(path, "full" | "quick"): ./var/models if `make models` trained it, else the quick models
    the tests train (`incident-bot models train --quick`), trained once into QUICK_REGISTRY."""
    if FULL_REGISTRY.is_dir() and any(FULL_REGISTRY.iterdir()):
        return str(FULL_REGISTRY), "full"
    if not (QUICK_REGISTRY / "fusion").is_dir():
        print(f"no trained models in {FULL_REGISTRY}: training the quick ones into {QUICK_REGISTRY}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "bot.cli", "models", "train", "--quick"], cwd=ROOT, check=True,
                       env={**os.environ, "MODEL_REGISTRY": str(QUICK_REGISTRY)})
    return str(QUICK_REGISTRY), "quick"


class Stack:
    """The local Slack server and `incident-bot serve`, each its own process, on free ports."""

    def __init__(self, work: Path, database_url: str, bot_env: dict[str, str] | None = None) -> None:
        certs = work / "certs"
        certs.mkdir(exist_ok=True)
        write_pinned_cert(certs)
        self.work = work
        self.slack_port, self.bot_port = free_port(), free_port()
        self.slack_root = f"http://127.0.0.1:{self.slack_port}/"
        self.bot_url = f"http://127.0.0.1:{self.bot_port}"
        self.env = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": f"{self.slack_root}api/", "DATABASE_URL": database_url,
                    "PAGERDUTY_WEBHOOK_SECRETS": PD_SECRET, "SNS_CERTS_DIR": str(certs),
                    "SNS_TOPIC_ARNS": DEFAULT_TOPIC_ARN, "LOG_LEVEL": "WARNING",
                    **(bot_env or {})}
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Self:
        self.slack = start([sys.executable, "-m", "sandbox.slack_api", "--port", str(self.slack_port)], {},
                           self.work / "slack.log")
        self.processes.append(self.slack)
        wait_http(f"{self.slack_root}_local/calls")
        self.bot = start([sys.executable, "-m", "bot.cli", "serve", "--port", str(self.bot_port)], self.env,
                         self.work / "bot.log")
        self.processes.append(self.bot)
        wait_http(f"{self.bot_url}/readyz")
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    def response_url(self, name: str) -> str:
        return f"{self.slack_root}_local/respond/{name}"

    def channel_id(self, name: str) -> str:
        state = httpx.get(f"{self.slack_root}_local/state", timeout=10).json()
        return next(c["id"] for c in state["channels"] if c["name"] == name)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        params = {"method": method} if method else {}
        return list(httpx.get(f"{self.slack_root}_local/calls", params=params, timeout=30).json()["calls"])


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS of a process in bytes (Linux /proc)."""
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            figures[key] = int(value.split()[0]) * 1024
    return figures


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            for child in map(int, text):
                found += [child, *children(child)]
    except OSError:
        pass
    return found


def mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)
