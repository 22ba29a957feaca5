"""`make bench-diagnose`: the Diagnose suite's wall time, per step, on this machine.

It runs the product as a user does: a local moto server with a latency step in CloudWatch, the
model worker as its own process on a registry (`./var/models` by default: the full models that
`make models` trains), the local Slack server, and the bot on SQLite. It declares an incident,
sends 200 held-out texts as production traffic, clicks Diagnose `--runs` times, and reads
each step's time from the incident timeline. The figure to hold it to: the whole suite in under
20 s with the full models. The baseline, measured in the same run, is the worker's bare
`/readyz` round trip. It shows how much of each step is the worker's own overhead.

    make bench-diagnose
    python -m tests.bench.diagnose --registry /tmp/registry --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from inference.datasets.text import load_split
from sandbox.runner import SignedSlackClient, ThreadedServer
from sandbox.slack_api import LocalSlackServer
from storage.db import sync_url
from storage.models import Incident, TimelineEvent
from tests.bench.inference import free_port, start_worker, stop_worker, wait_ready
from tests.bench.report import update_benchmarks
from tests.bot.integrations.test_cloudwatch import put_latency_step
from tests.inference.moto_server import DUMMY_CREDENTIALS, REGION, running_moto
from tests.scenarios.harness import SIGNING_SECRET, BotServer, bot_settings

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("worker", "golden", "drift", "latency", "low_confidence", "chart", "triage")
CONFIG = """
services:
  multimodal-api:
    models: [incident-text, chart-vit, fusion]
    metric: {namespace: Multimodal/Prod, name: inference_latency_seconds, dimensions: {ServiceName: multimodal-api}}
"""


def _timeline_steps(database_url: str, incident_number: int) -> list[dict[str, Any]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            incident_id = conn.scalar(select(Incident.id).where(Incident.number == incident_number))
            rows = conn.execute(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id,
                                                            TimelineEvent.kind == "diagnostic")
                                .order_by(TimelineEvent.id)).all()
        return [dict(row.data) for row in rows]
    finally:
        engine.dispose()


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def run(registry: str, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-diagnose-") as folder, running_moto() as aws:
        work = Path(folder)
        os.environ.update({"AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
                           "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
                           "AWS_DEFAULT_REGION": REGION})
        put_latency_step(aws, end=datetime.now(UTC).replace(second=0, microsecond=0))
        port = free_port()
        worker, log = start_worker(registry, port, work, torch_threads=int(os.environ.get("TORCH_THREADS", "2")))
        worker_url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(worker, worker_url, log, timeout=300)
            (work / "config.yaml").write_text(CONFIG)
            database_url = f"sqlite:///{work}/bot.db"
            with LocalSlackServer() as slack, httpx.Client(timeout=60) as http:
                bot = BotServer(bot_settings(slack=slack, database_url=database_url,
                                             config_path=str(work / "config.yaml"),
                                             aws_endpoint_url=aws, worker_url=worker_url)).start()
                try:
                    return _measure(slack, bot, http, worker_url, database_url, runs)
                finally:
                    bot.stop()
        finally:
            stop_worker(worker)


def _measure(slack: LocalSlackServer, bot: ThreadedServer, http: httpx.Client, worker_url: str,
             database_url: str, runs: int) -> dict[str, Any]:
    user = SignedSlackClient(bot_url=bot.url, secret=SIGNING_SECRET, user_id="U0ALICE", http=http,
                             response_url_for=slack.response_url)
    user.command("declare P1 P95 latency above 1s after deploy", channel=slack.channel_id("general"))
    channel = _wait(lambda: _incident_channel(database_url), 30, "the incident channel")
    texts = [e.text for e in random.Random(0).sample(load_split("heldout"), 200)]
    for start in range(0, len(texts), 50):  # the worker takes up to 64 instances a request
        http.post(f"{worker_url}/v1/models/incident-text:predict",
                  json={"instances": [{"text": t} for t in texts[start:start + 50]]}).raise_for_status()
    ready = []
    for _ in range(20):
        started = time.perf_counter()
        http.get(f"{worker_url}/readyz")
        ready.append((time.perf_counter() - started) * 1000)
    per_run: list[dict[str, float]] = []
    for run_index in range(1, runs + 1):
        user.command("diagnose", channel=channel)
        steps = _wait(lambda: ((s := _timeline_steps(database_url, 1))
                               and len(s) >= run_index * len(STEPS) and s),  # noqa: B023  _wait calls it within this iteration
                      240, "the suite to finish")
        latest = steps[-len(STEPS):]
        per_run.append({str(s["step"]): float(s.get("seconds") or 0.0) for s in latest})
        verdicts = {str(s["step"]): str(s["verdict"]) for s in latest}
    median = {step: statistics.median(r[step] for r in per_run) for step in STEPS}
    return {"runs": runs, "cores": os.cpu_count(), "median_seconds": median,
            "total_seconds": round(sum(median.values()), 2), "baseline_readyz_ms": round(statistics.median(ready), 2),
            "verdicts": verdicts, "target_seconds": 20.0}


def _incident_channel(database_url: str) -> str | None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return conn.scalar(select(Incident.channel_id).where(Incident.number == 1))
    finally:
        engine.dispose()


def markdown(result: dict[str, Any], registry: str) -> str:
    rows = "\n".join(f"| {step} | {seconds:.2f} | {result['verdicts'].get(step, '')} |"
                     for step, seconds in result["median_seconds"].items())
    verdict = "met" if result["total_seconds"] < result["target_seconds"] else "NOT met"
    return (f"## Diagnose suite (`make bench-diagnose`, registry `{registry}`, {result['runs']} runs, "
            f"{result['cores']} cores)\n\n| step | median s | verdict |\n|---|---|---|\n{rows}\n"
            f"| **total** | **{result['total_seconds']:.2f}** | "
            f"target < {result['target_seconds']:.0f} s: {verdict} |\n\n"
            f"Baseline in the same run: the worker's bare `/readyz` round trip, median "
            f"{result['baseline_readyz_ms']} ms.\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", default=str(ROOT / "var" / "models"), help="the worker's model registry")
    parser.add_argument("--runs", type=int, default=3, help="Diagnose runs; the table shows each step's median")
    parser.add_argument("--json", default=str(ROOT / "bench-results" / "diagnose.json"))
    args = parser.parse_args()
    if not Path(args.registry).is_dir():
        print(f"no model registry at {args.registry}: run `make models` first", file=sys.stderr)
        return 2
    result = run(args.registry, args.runs)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    section = markdown(result, args.registry)
    print(section)
    update_benchmarks("diagnose", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
