"""`make bench-interactivity`: slash commands and button clicks while the bot is busy.

The local Slack server, a moto server (CloudWatch), the model worker and the bot (`incident-bot
serve`, SQLite) run as their own processes on loopback. The bot's config maps `multimodal-api` to
the worker's models, as `make bench-diagnose` does. An incident is declared first, and its
headline is posted. Then the same mix of signed Slack requests to `/slack/events` is sent twice,
one after another from this process (one person, 20 ms apart): `/incident status` in the incident
channel, `/incident help`, and a click on the headline's Acknowledge button.

1. Baseline: the bot otherwise idle.
2. Under load, same run, same bot: a signed PagerDuty + SNS storm from 32 clients (a separate
   process, as in `make bench-ingest`) runs throughout, and Diagnose is started on the incident
   when the phase starts, so the whole diagnostic suite runs against the worker meanwhile.

The figure is the ack latency of each interactive request, client side. Slack's limit is 3 s;
the goal is p99 < 300 ms under load. Exits 1 if an interactive request or a storm delivery failed.
Registry: ./var/models when `make models` trained it; otherwise the quick models the tests train
(the section says which).

    make bench-interactivity
    python -m tests.bench.interactivity --requests 150 --deliveries 1500
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench make bench-interactivity
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from handlers.slack.context import WORKING_ON_IT
from sandbox.runner import SignedSlackClient
from storage.db import sync_url
from storage.models import Incident, TimelineEvent
from tests.bench.diagnose import CONFIG, STEPS
from tests.bench.inference import start_worker, stop_worker, wait_ready
from tests.bench.ingest import build_storm, free_port, wait_http
from tests.bench.report import publish
from tests.bench.stack import (
    ROOT,
    SIGNING_SECRET,
    Stack,
    load_average,
    ratio,
    registry,
    summary_ms,
)
from tests.bot.integrations.test_cloudwatch import put_latency_step
from tests.databases import PostgresDatabases
from tests.inference.moto_server import DUMMY_CREDENTIALS, REGION

GOAL_P99_MS = 300.0
SLACK_LIMIT_MS = 3000.0
KINDS = ("/incident status", "/incident help", "click Acknowledge")
STORM = """
import asyncio, json, sys
from dataclasses import asdict
from tests.bench.ingest import Delivery, send_storm
storm = [Delivery(d["path"], d["body"].encode("latin-1"), d["headers"]) for d in json.load(open(sys.argv[2]))]
result = asyncio.run(send_storm("storm", sys.argv[1], storm))
open(sys.argv[3], "w").write(json.dumps(asdict(result)))
"""


def _incident(database_url: str) -> Any:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(select(Incident.id, Incident.channel_id, Incident.headline_ts)
                                .where(Incident.number == 1)).first()
    finally:
        engine.dispose()


def _diagnostic_steps(database_url: str, incident_id: int) -> int:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return len(conn.execute(select(TimelineEvent.id).where(TimelineEvent.incident_id == incident_id,
                                                                   TimelineEvent.kind == "diagnostic")).all())
    finally:
        engine.dispose()


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


class Requests:
    """The interactive mix, one after another, timed client side."""

    def __init__(self, user: SignedSlackClient, channel: str, headline_ts: str) -> None:
        self.user, self.channel, self.headline_ts = user, channel, headline_ts

    def one(self, i: int) -> tuple[str, float, bool, bool]:
        kind = KINDS[i % len(KINDS)]
        started = time.perf_counter()
        try:
            if kind == "/incident status":
                answer = self.user.command("status", channel=self.channel)
            elif kind == "/incident help":
                answer = self.user.command("help", channel=self.channel)
            else:
                answer = self.user.click("incident_acknowledge", channel=self.channel, message_ts=self.headline_ts,
                                         block_id="headline_actions", value="acknowledge")
            ok = answer.status_code == 200
            working = ok and answer.text.find(WORKING_ON_IT) >= 0
        except httpx.HTTPError:
            ok, working = False, False
        return kind, time.perf_counter() - started, ok, working

    def phase(self, count: int, *, until: Any = None) -> list[tuple[str, float, bool, bool]]:
        """``count`` requests, and then more while ``until()`` says the load still runs."""
        results = []
        i = 0
        while i < count or (until is not None and until()):
            results.append(self.one(i))
            i += 1
            time.sleep(0.02)
        return results


def _summary(results: list[tuple[str, float, bool, bool]]) -> dict[str, Any]:
    ok = [r for r in results if r[2]]
    return {"all": summary_ms([r[1] for r in ok]), "failed": len(results) - len(ok),
            "working_on_it": sum(1 for r in results if r[3]),
            "per_kind": {k: summary_ms([r[1] for r in ok if r[0] == k]) for k in KINDS}}


def run(requests: int, deliveries: int, database_url: str | None) -> dict[str, Any]:
    if database_url is None:
        return _run(requests, deliveries, None)
    databases = PostgresDatabases(database_url)  # a fresh database for the run
    databases.prepare_template()
    try:
        return _run(requests, deliveries, databases.create())
    finally:
        databases.drop_all()


def _run(requests: int, deliveries: int, database_url: str | None) -> dict[str, Any]:
    load = load_average()
    registry_path, registry_kind = registry()
    with tempfile.TemporaryDirectory(prefix="bench-interactivity-") as folder:
        work = Path(folder)
        aws_env = {"AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
                   "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"], "AWS_DEFAULT_REGION": REGION}
        os.environ.update(aws_env)
        moto_port, worker_port = free_port(), free_port()
        moto = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p",
                                 str(moto_port)], stdout=(work / "moto.log").open("wb"), stderr=subprocess.STDOUT)
        aws = f"http://127.0.0.1:{moto_port}"
        worker, worker_log = start_worker(registry_path, worker_port, work,
                                          torch_threads=int(os.environ.get("TORCH_THREADS", "2")))
        worker_url = f"http://127.0.0.1:{worker_port}"
        try:
            wait_http(f"{aws}/moto-api/")
            put_latency_step(aws, end=datetime.now(UTC).replace(second=0, microsecond=0))
            wait_ready(worker, worker_url, worker_log, timeout=300)
            (work / "config.yaml").write_text(CONFIG)
            database_url = database_url or f"sqlite:///{work}/bot.db"
            bot_env = {**aws_env, "AWS_ENDPOINT_URL": aws, "WORKER_URL": worker_url,
                       "INCIDENT_BOT_CONFIG": str(work / "config.yaml")}
            with Stack(work, database_url, bot_env) as stack, httpx.Client(timeout=60) as http:
                return {"database": "postgresql" if database_url.startswith("postgres") else "sqlite",
                        "machine": load, "registry": registry_path, "registry_kind": registry_kind,
                        **_measure(stack, http, worker_url, database_url, requests, deliveries, work)}
        finally:
            stop_worker(worker)
            moto.terminate()
            moto.wait(10)


def _measure(stack: Stack, http: httpx.Client, worker_url: str, database_url: str, requests: int,
             deliveries: int, work: Path) -> dict[str, Any]:
    from inference.datasets.text import load_split

    user = SignedSlackClient(bot_url=stack.bot_url, secret=SIGNING_SECRET, user_id="U0ALICE", http=http,
                             response_url_for=stack.response_url)
    user.command("declare P1 P95 latency above 1s after deploy", channel=stack.channel_id("general"))
    incident = _wait(lambda: (row := _incident(database_url)) and row.headline_ts and row, 60, "the headline")
    texts = [e.text for e in random.Random(0).sample(load_split("heldout"), 200)]
    for start in range(0, len(texts), 50):  # production traffic for the drift step, as bench-diagnose sends
        http.post(f"{worker_url}/v1/models/incident-text:predict",
                  json={"instances": [{"text": t} for t in texts[start:start + 50]]}).raise_for_status()
    mix = Requests(user, incident.channel_id, incident.headline_ts)
    mix.phase(6)  # warm-up, not counted
    baseline = mix.phase(requests)

    # Built here: the SNS signatures must match the certificate this process pinned for the bot.
    (work / "storm-in.json").write_text(json.dumps([{"path": d.path, "body": d.body.decode("latin-1"),
                                                     "headers": d.headers} for d in build_storm(deliveries)]))
    storm_out = work / "storm.json"
    storm = subprocess.Popen([sys.executable, "-c", STORM, stack.bot_url, str(work / "storm-in.json"), str(storm_out)],
                             cwd=ROOT,
                             stdout=(work / "storm.log").open("wb"), stderr=subprocess.STDOUT)
    started = time.monotonic()
    time.sleep(0.5)  # let the storm get going
    user.command("diagnose", channel=incident.channel_id)
    suite_done: dict[str, float] = {}

    def loaded() -> bool:
        if "at" not in suite_done and _diagnostic_steps(database_url, incident.id) >= len(STEPS):
            suite_done["at"] = time.monotonic() - started
        return storm.poll() is None or ("at" not in suite_done and time.monotonic() - started < 240)

    under_load = mix.phase(requests, until=loaded)
    storm.wait(600)
    storm_result = json.loads(storm_out.read_text()) if storm_out.exists() else {"failed": deliveries}
    if "at" not in suite_done and _diagnostic_steps(database_url, incident.id) >= len(STEPS):
        suite_done["at"] = time.monotonic() - started
    base, load = _summary(baseline), _summary(under_load)
    p99 = load["all"]["p99_ms"]
    return {
        "requests_per_phase_min": requests, "baseline": base, "under_load": load,
        "storm": storm_result, "storm_seconds": storm_result.get("seconds"),
        "diagnose_suite_seconds": round(suite_done["at"], 2) if "at" in suite_done else None,
        "diagnose_steps": len(STEPS),
        "ratios": {"p50": ratio(load["all"]["p50_ms"], base["all"]["p50_ms"]),
                   "p99": ratio(p99, base["all"]["p99_ms"])},
        "goal_p99_ms": GOAL_P99_MS, "goal_met": p99 is not None and p99 < GOAL_P99_MS,
        "slack_limit_ms": SLACK_LIMIT_MS, "within_slack_limit": load["all"]["max_ms"] is not None
        and load["all"]["max_ms"] < SLACK_LIMIT_MS,
    }


def markdown(result: dict[str, Any]) -> str:
    b, u, r = result["baseline"], result["under_load"], result["ratios"]
    storm = result["storm"]
    rows = [
        "| | requests | ack p50 | ack p95 | ack p99 | max | \"working on it\" acks | failed |",
        "|---|---|---|---|---|---|---|---|",
        (f"| no load (baseline) | {b['all']['count']} | {b['all']['p50_ms']} ms | {b['all']['p95_ms']} ms | "
        f"{b['all']['p99_ms']} ms | {b['all']['max_ms']} ms | {b['working_on_it']} | {b['failed']} |"),
        (f"| **storm + Diagnose suite** | {u['all']['count']} | **{u['all']['p50_ms']} ms** | "
        f"{u['all']['p95_ms']} ms | **{u['all']['p99_ms']} ms** | {u['all']['max_ms']} ms | "
        f"{u['working_on_it']} | {u['failed']} |"),
        f"| ratio (load / baseline) | | {r['p50']}x | | {r['p99']}x | | | |",
    ]
    kinds = ["| request | baseline p50 | baseline p99 | under load p50 | under load p99 | p99 ratio |",
             "|---|---|---|---|---|---|"]
    for kind in KINDS:
        kb, ku = b["per_kind"][kind], u["per_kind"][kind]
        kinds.append(f"| `{kind}` | {kb['p50_ms']} ms | {kb['p99_ms']} ms | {ku['p50_ms']} ms | {ku['p99_ms']} ms | "
                     f"{ratio(ku['p99_ms'], kb['p99_ms'])}x |")
    models = ("the full models from `./var/models`" if result["registry_kind"] == "full" else
              "the **quick** models the tests train (`incident-bot models train --quick`), as `./var/models` held "
              "no trained models")
    goal = "met" if result["goal_met"] else "NOT met"
    suite = (f"finished {result['diagnose_suite_seconds']} s after the phase began"
             if result["diagnose_suite_seconds"] is not None else "did not finish within the phase")
    return "\n".join([
        f"## Interactivity under load (`make bench-interactivity`, {result['database']})",
        "",
        ("Signed Slack requests to `/slack/events`, one after another from one person: `/incident status` "
        "and `/incident help` in the incident channel and a click on the headline's Acknowledge button. "
        "Baseline: the same requests to the same bot with nothing else running, in the same run. Under load: "
        f"a {storm.get('deliveries', '?')}-delivery signed PagerDuty + SNS storm from 32 clients (its own "
        f"process; {storm.get('throughput_per_s', '?')}/s, ack p99 {storm.get('ack_p99_ms', '?')} ms, "
        f"{storm.get('failed', '?')} failed) runs throughout, and Diagnose is started on the incident "
        f"(`/incident diagnose`) as the phase starts: the {result['diagnose_steps']}-step suite against the "
        f"model worker ({models}) {suite}."),
        (f"Machine: {result['machine']}; the bot, the worker, the storm's 32 clients and moto all share its "
        "CPUs, so the loaded column includes that contention."),
        "",
        *rows,
        "",
        *kinds,
        "",
        (f"Goal p99 < {result['goal_p99_ms']:.0f} ms under load: **{goal}** ({u['all']['p99_ms']} ms). "
        f"Slack's 3 s limit: {'every ack within it' if result['within_slack_limit'] else 'EXCEEDED'} "
        f"(max {u['all']['max_ms']} ms)."),
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=150, help="interactive requests per phase, at least")
    parser.add_argument("--deliveries", type=int, default=2000, help="storm deliveries during the loaded phase")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="a PostgreSQL server to run on (a fresh database is made); default SQLite")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="default bench-results/interactivity-<database>.json")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    result = run(args.requests, args.deliveries, args.database_url)
    publish(f"interactivity:{result['database']}", result, markdown(result),
            json_path=args.json or ROOT / "bench-results" / f"interactivity-{result['database']}.json",
            markdown=not args.no_write)
    print(f"p99 < {GOAL_P99_MS:.0f} ms under load: {'met' if result['goal_met'] else 'NOT met'}")
    failed = result["baseline"]["failed"] + result["under_load"]["failed"] + int(result["storm"].get("failed") or 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
