"""`make bench-ingest`: a webhook storm against the real bot, set against a bare FastAPI receiver.

Both servers run as their own processes under uvicorn on loopback. The storm is signed PagerDuty
v3 deliveries over 12 services, sent by 32 clients that retry anything not answered 2xx, as
PagerDuty does, from two load-generator processes of their own (tests/bench/loadgen.py), which
report their CPU use: a share well under 1.0 shows the generator was not what limited a server.
The baseline verifies each delivery's HMAC and parses its JSON, and nothing else: the least any
receiver must do. Figures are ratios against it, measured in the same run. After the storm the
run waits for the bot to apply every delivery it acknowledged (the inbox's processor works after
the 2xx) and reports how long that took, and counts what was stored, lost and duplicated.

    make bench-ingest                       # SQLite
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench make bench-ingest
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, func, select

from storage.db import sync_url
from storage.models import Incident, WebhookDelivery
from tests.bench.loadgen import send_from_processes
from tests.bench.report import publish
from tests.databases import PostgresDatabases
from tests.handlers.webhooks.sns_fixtures import (
    cloudwatch_alarm_message,
    signed_sns_message,
)

ROOT = Path(__file__).resolve().parents[2]
PD_SECRET = "bench-pd-secret"
CLIENTS = 32
SERVICES = ["multimodal-api", "ticket-classifier", "scoring-engine", "predictive-maintenance", "ai-orchestrator"]

# Verifies PagerDuty's HMAC and parses the JSON: what any receiver must do before a 2xx.
VERIFYING_BASELINE_APP = '''
import hashlib, hmac, json
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
SECRET = b"bench-pd-secret"
app = FastAPI()
@app.post("/webhooks/{source}")
async def verify_and_parse(source: str, request: Request):
    body = await request.body()
    wanted = "v1=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    sent = [s.strip() for s in request.headers.get("x-pagerduty-signature", "").split(",")]
    if not any(hmac.compare_digest(wanted, s) for s in sent):
        return JSONResponse({"error": "bad signature"}, status_code=401)
    json.loads(body)
    return JSONResponse({"status": "accepted"})
'''
PAGERDUTY_SERVICES = [f"ml-service-{n:02d}" for n in range(12)]

# Parses only (footprint and interactivity use it as their bare process).
BASELINE_APP = '''
import json
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/webhooks/{source}")
async def parse_only(source: str, request: Request):
    json.loads(await request.body())
    return JSONResponse({"status": "parsed"})
'''


@dataclass
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class StormResult:
    name: str
    deliveries: int
    seconds: float
    throughput_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    retries: int
    failed: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def pagerduty_delivery(i: int, service: str, *, incident_id: str | None = None, title: str | None = None) -> Delivery:
    """A signed PagerDuty v3 ``incident.triggered`` webhook for ``service``."""
    event = {"event": {
        "id": uuid.uuid4().hex, "event_type": "incident.triggered", "resource_type": "incident",
        "occurred_at": datetime.now(UTC).isoformat(), "agent": {"summary": "PagerDuty"},
        "data": {"id": incident_id or f"PB{i:06d}", "type": "incident", "title": title or f"{service} alert {i % 13}",
                 "status": "triggered", "service": {"id": f"PSVC-{service}", "summary": service},
                 "urgency": "high", "priority": None},
    }}
    body = json.dumps(event).encode()
    signature = "v1=" + hmac.new(PD_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Delivery("/webhooks/pagerduty", body, {
        "X-PagerDuty-Signature": signature, "X-Webhook-Id": uuid.uuid4().hex, "Content-Type": "application/json"})


def sns_delivery(service: str, alarm_name: str) -> Delivery:
    """A CloudWatch alarm in a signed SNS (signature v2) notification for ``service``."""
    alarm = cloudwatch_alarm_message(alarm_name=alarm_name, dimensions={"ServiceName": service})
    message = signed_sns_message(message=alarm, message_id=str(uuid.uuid4()))
    return Delivery("/webhooks/cloudwatch", json.dumps(message).encode(), {
        "x-amz-sns-message-type": "Notification", "Content-Type": "text/plain"})


def build_storm(count: int) -> list[Delivery]:
    storm: list[Delivery] = []
    for i in range(count):
        service = SERVICES[i % len(SERVICES)]
        if i % 2:
            storm.append(pagerduty_delivery(i, service))
        else:
            storm.append(sns_delivery(service, f"{service}-alarm-{i % 11}"))
    return storm


async def send_storm(name: str, base_url: str, storm: list[Delivery]) -> StormResult:
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for delivery in storm:
        queue.put_nowait(delivery)
    latencies: list[float] = []
    retries = failed = 0

    async def client() -> None:
        nonlocal retries, failed
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            while not queue.empty():
                delivery = queue.get_nowait()
                for attempt in range(8):
                    started = time.perf_counter()
                    try:
                        answer = await http.post(delivery.path, content=delivery.body, headers=delivery.headers)
                        status = answer.status_code
                    except httpx.HTTPError:
                        status = 0
                    latencies.append(time.perf_counter() - started)
                    if 200 <= status < 300:
                        break
                    retries += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                else:
                    failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return StormResult(
        name=name, deliveries=len(storm), seconds=round(seconds, 3),
        throughput_per_s=round(len(storm) / seconds, 1),
        ack_p50_ms=round(statistics.median(ordered) * 1000, 2),
        ack_p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        retries=retries, failed=failed,
    )


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)


def run(count: int, database_url: str | None, hold_apply: bool = False) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    if not database_url:
        return _measure(count, f"sqlite:///{work}/bench.db", work, hold_apply)
    # A fresh database for the run, so the counts below are this storm's alone.
    databases = PostgresDatabases(database_url)
    databases.prepare_template()
    try:
        return _measure(count, databases.create(), work, hold_apply)
    finally:
        databases.drop_all()


# Deliveries sent to each server before its storm, outside the figures.
WARM_UP = 200


def build_pagerduty_storm(count: int) -> list[Delivery]:
    """``count`` signed PagerDuty triggers spread over 12 services, a few alerts each repeating."""
    return [pagerduty_delivery(i, PAGERDUTY_SERVICES[i % len(PAGERDUTY_SERVICES)],
                               incident_id=f"PB{i % 240:06d}") for i in range(count)]


def _measure(count: int, database_url: str, work: Path, hold_apply: bool = False) -> dict:
    slack_port, bot_port, base_port = free_port(), free_port(), free_port()
    (work / "baseline.py").write_text(VERIFYING_BASELINE_APP)
    processes = [
        start([sys.executable, "-m", "sandbox.slack_api", "--port", str(slack_port)], {}, work / "slack.log"),
        start([sys.executable, "-m", "uvicorn", "--app-dir", str(work), "baseline:app", "--port", str(base_port),
               "--log-level", "warning", "--no-access-log"], {}, work / "baseline.log"),
        start([sys.executable, "-m", "bot.cli", "serve", "--port", str(bot_port)], {
            "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench",
            "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/", "DATABASE_URL": database_url,
            "PAGERDUTY_WEBHOOK_SECRETS": PD_SECRET, "LOG_LEVEL": "WARNING",
        }, work / "bot.log"),
    ]
    try:
        wait_http(f"http://127.0.0.1:{slack_port}/_local/calls")
        wait_http(f"http://127.0.0.1:{base_port}/docs")
        wait_http(f"http://127.0.0.1:{bot_port}/readyz")
        storm = build_pagerduty_storm(count)
        # A warm-up of each, so neither pays its first-request costs (connections, the first
        # statements compiled) inside the figures. The bot's are deliveries of their own, to the
        # storm's services, so they open no incident the storm would not; they are counted apart.
        warm_up = build_pagerduty_storm(count + WARM_UP)[count:]
        send_from_processes("warm-up", f"http://127.0.0.1:{base_port}", warm_up, processes=1)
        send_from_processes("warm-up", f"http://127.0.0.1:{bot_port}", warm_up, processes=1)
        engine = create_engine(sync_url(database_url))
        _wait_settled(engine, deadline=time.monotonic() + 120)  # the storm meets an idle bot, as the baseline did
        baseline = send_from_processes("bare FastAPI: verify the HMAC, parse the JSON",
                                       f"http://127.0.0.1:{base_port}", storm)
        if hold_apply:  # the ack path alone: nothing is applied until the storm is acknowledged
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM inbox_lease")
        bot = send_from_processes("incident-bot", f"http://127.0.0.1:{bot_port}", storm)
        acked_at = time.monotonic()
        if hold_apply:
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO inbox_lease (id) VALUES (1)")
        applied_after = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the inbox applies after the ack; the outbox posts after that
            with engine.connect() as conn:
                waiting = conn.scalar(select(func.count()).select_from(WebhookDelivery)
                                      .where(WebhookDelivery.outcome == "pending"))
                pending = conn.exec_driver_sql("SELECT count(*) FROM slack_outbox WHERE state='pending'").scalar()
            if not waiting and applied_after is None:
                applied_after = time.monotonic() - acked_at
            if not waiting and not pending:
                break
            time.sleep(0.2)
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(WebhookDelivery))
            incidents = conn.scalar(select(func.count()).select_from(Incident))
            failed_apply = conn.scalar(select(func.count()).select_from(WebhookDelivery)
                                       .where(WebhookDelivery.outcome.in_(("failed", "pending"))))
        engine.dispose()
        slack_calls = len(httpx.get(f"http://127.0.0.1:{slack_port}/_local/calls", timeout=10).json()["calls"])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
    return {
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "clients": CLIENTS, "services": len(PAGERDUTY_SERVICES),
        "baseline": asdict(baseline), "bot": asdict(bot),
        "ratios": {
            "ack_p50": round(bot.ack_p50_ms / baseline.ack_p50_ms, 2),
            "ack_p99": round(bot.ack_p99_ms / baseline.ack_p99_ms, 2),
            "throughput": round(bot.throughput_per_s / baseline.throughput_per_s, 3),
        },
        "applied_seconds_after_last_ack": round(applied_after, 2) if applied_after is not None else None,
        "incidents_created": incidents, "deliveries_stored": stored,
        # Every delivery is unique: stored fewer times than sent is a loss, more a duplicate.
        "lost_deliveries": max(0, count + WARM_UP - stored - bot.failed) if stored is not None else None,
        "duplicated_deliveries": max(0, (stored or 0) - count - WARM_UP),
        "not_applied": failed_apply,
        "slack_calls": slack_calls,
    }


def _wait_settled(engine: Engine, *, deadline: float) -> None:
    """Until nothing waits to be applied or posted."""
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            waiting = conn.scalar(select(func.count()).select_from(WebhookDelivery)
                                  .where(WebhookDelivery.outcome == "pending"))
            pending = conn.exec_driver_sql("SELECT count(*) FROM slack_outbox WHERE state='pending'").scalar()
        if not waiting and not pending:
            return
        time.sleep(0.2)


def markdown(result: dict) -> str:
    b, base, r = result["bot"], result["baseline"], result["ratios"]
    return "\n".join([
        (f"## Ingest storm ({result['database']}, {b['deliveries']} signed PagerDuty deliveries, {result['clients']} "
         f"clients, {result['services']} services)"),
        "",
        "| | ack p50 | ack p99 | throughput | retries | generator CPU (busiest process) |",
        "|---|---|---|---|---|---|",
        (f"| {base['name']} | {base['ack_p50_ms']} ms | {base['ack_p99_ms']} ms | {base['throughput_per_s']}/s | "
         f"{base['retries']} | {base['generator_cpu_share']:.0%} of a core |"),
        (f"| {b['name']} | {b['ack_p50_ms']} ms | {b['ack_p99_ms']} ms | {b['throughput_per_s']}/s | {b['retries']} | "
         f"{b['generator_cpu_share']:.0%} of a core |"),
        f"| ratio (bot / baseline) | {r['ack_p50']}x | {r['ack_p99']}x | {r['throughput']}x | | |",
        "",
        (f"Goals: throughput at least 0.5x ({'met' if r['throughput'] >= 0.5 else 'NOT met'}), ack p99 at most 2x "
         f"({'met' if r['ack_p99'] <= 2 else 'NOT met'}). The load came from {b['generator_processes']} generator "
         "processes of their own; a generator share well under 100% means it was not the limit."),
        "",
        (f"Applied (the inbox's processor, after the 2xx): every delivery "
         f"{result['applied_seconds_after_last_ack']} s after the last ack. Incidents created: "
         f"{result['incidents_created']} (one per service). Slack Web API calls: {result['slack_calls']}. "
         f"Deliveries stored: {result['deliveries_stored']} (the storm's and {WARM_UP} sent first to warm the bot "
         "up); lost (acked 2xx, not stored): "
         f"{result['lost_deliveries']}; duplicated: {result['duplicated_deliveries']}; failed or never applied: "
         f"{result['not_applied']}; failed after 8 tries: {b['failed']}."),
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="where to write the results (default bench-results/ingest-<database>.json)")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument("--hold-apply", action="store_true",
                        help="a diagnosis: apply nothing until the storm is acknowledged (the ack path alone)")
    args = parser.parse_args()
    result = run(args.deliveries, args.database_url, args.hold_apply)
    publish(f"ingest:{result['database']}", result, markdown(result),
            json_path=args.json or ROOT / "bench-results" / f"ingest-{result['database']}.json",
            markdown=not args.no_write)
    clean = (result["lost_deliveries"], result["duplicated_deliveries"], result["not_applied"], result["bot"]["failed"])
    return 0 if clean == (0, 0, 0, 0) else 1


if __name__ == "__main__":
    sys.exit(main())
