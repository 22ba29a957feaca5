"""`make bench-alert-to-channel`: from a signed alert webhook to the headline in its new channel.

The local Slack server and the bot (`incident-bot serve`, SQLite, default outbox settings) run as
their own processes on loopback. Alerts go one at a time, alternating PagerDuty and CloudWatch
(SNS), each on its own service and dedup key so that each opens its own incident. For each one
the clock starts just before the POST and stops at the moment the local Slack server recorded the
`chat.postMessage` that carries the headline (the message with the headline buttons) in a channel
not seen before. Both clocks are CLOCK_MONOTONIC, which Linux shares across processes. The next
alert goes once that headline is posted and the bot's follow-up calls have settled.

Baselines, in the same run: the webhook's own ack (what the sender waits for), and a bare
`chat.postMessage` round trip from this process to the same local Slack server.

With `--storm-rate N` (the default, 100), a storm of signed PagerDuty deliveries over 12 other
services runs in the background the whole time, at N deliveries a second from load-generator
processes of their own (tests/bench/loadgen.py): the measured alerts wait in the same inbox and
outbox as the storm's. `--storm-rate 0` measures the idle bot.

    make bench-alert-to-channel
    python -m tests.bench.alert_to_channel --alerts 30 --json bench-results/alert-to-channel.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.bench.ingest import build_pagerduty_storm, pagerduty_delivery, sns_delivery
from tests.bench.loadgen import ProcessStorm, send_from_processes
from tests.bench.report import publish
from tests.bench.stack import ROOT, Stack, load_average, ratio, summary_ms

HEADLINE_BLOCK = "headline_actions"


def _is_headline(call: dict[str, Any]) -> bool:
    blocks = call["params"].get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return any(isinstance(b, dict) and b.get("block_id") == HEADLINE_BLOCK for b in blocks)


def run(alerts: int, settle: float, storm_rate: float = 0.0) -> dict[str, Any]:
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-a2c-") as folder:
        work = Path(folder)
        with Stack(work, f"sqlite:///{work}/bot.db") as stack, httpx.Client(timeout=30) as http:
            storm = _background_storm(stack, rate=storm_rate, seconds=alerts * (settle + 0.5) + 10)
            seen: set[str] = set()
            rows: list[dict[str, Any]] = []
            failed = 0
            for i in range(alerts):
                service = f"bench-svc-{i:03d}"
                source = "pagerduty" if i % 2 == 0 else "cloudwatch"
                delivery = (pagerduty_delivery(i, service, incident_id=f"PA2C{i:05d}", title=f"{service} is down")
                            if source == "pagerduty" else sns_delivery(service, f"{service}-latency-alarm"))
                started = time.monotonic()
                answer = http.post(f"{stack.bot_url}{delivery.path}", content=delivery.body, headers=delivery.headers)
                acked = time.monotonic()
                if not 200 <= answer.status_code < 300:
                    failed += 1
                    continue
                headline = _wait_headline(stack, started, seen, timeout=30, service=service)
                if headline is None:
                    failed += 1
                    continue
                seen.add(headline["params"]["channel"])
                rows.append({"source": source, "service": service, "ack_s": acked - started,
                             "headline_s": headline["time"] - started})
                time.sleep(settle)  # the rest of the opening (pins, topic, invites) stays out of the next alert
            stormed = storm.result() if storm is not None else None
            bare = []
            general = stack.channel_id("general")
            for _ in range(max(30, alerts)):
                started = time.monotonic()
                http.post(f"{stack.slack_root}api/chat.postMessage", headers={"Authorization": "Bearer xoxb-bench"},
                          json={"channel": general, "text": "bench round trip"}).raise_for_status()
                bare.append(time.monotonic() - started)
    per_source = {s: {"ack": summary_ms([r["ack_s"] for r in rows if r["source"] == s]),
                      "headline": summary_ms([r["headline_s"] for r in rows if r["source"] == s])}
                  for s in ("pagerduty", "cloudwatch")}
    headline = summary_ms([r["headline_s"] for r in rows])
    ack = summary_ms([r["ack_s"] for r in rows])
    post = summary_ms(bare)
    return {
        "alerts": alerts, "opened": len(rows), "failed": failed, "machine": load, "settle_s": settle,
        "storm": None if stormed is None else {"rate_per_s": storm_rate, "deliveries": stormed.deliveries,
                                               "seconds": stormed.seconds, "failed": stormed.failed,
                                               "ack_p99_ms": stormed.ack_p99_ms},
        "headline": headline, "webhook_ack": ack, "bare_post_message": post, "per_source": per_source,
        "ratios": {
            "headline_p50_over_ack_p50": ratio(headline["p50_ms"], ack["p50_ms"]),
            "headline_p95_over_ack_p95": ratio(headline["p95_ms"], ack["p95_ms"]),
            "headline_p50_over_post_p50": ratio(headline["p50_ms"], post["p50_ms"]),
            "headline_p95_over_post_p95": ratio(headline["p95_ms"], post["p95_ms"]),
        },
        "rows": [{k: (round(v * 1000, 2) if k.endswith("_s") else v) for k, v in r.items()} for r in rows],
    }


def _background_storm(stack: Stack, *, rate: float, seconds: float) -> Future[ProcessStorm] | None:
    """A paced PagerDuty storm over 12 services of its own, lasting ``seconds``, or None."""
    if rate <= 0:
        return None
    storm = build_pagerduty_storm(int(rate * seconds))
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(send_from_processes, "background storm", stack.bot_url, storm, rate=rate)
    pool.shutdown(wait=False)
    time.sleep(3.0)  # the generators' common start, and a backlog's worth of storm first
    return future


def _wait_headline(stack: Stack, started: float, seen: set[str], timeout: float,
                   service: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in stack.calls("chat.postMessage"):
            if (call["time"] >= started and call["params"].get("channel") not in seen and _is_headline(call)
                    and service in json.dumps(call["params"])):  # this alert's, not the storm's
                return call
        time.sleep(0.02)
    return None


def markdown(result: dict[str, Any]) -> str:
    h, a, p, r = result["headline"], result["webhook_ack"], result["bare_post_message"], result["ratios"]
    src = result["per_source"]
    return "\n".join([
        (f"## Alert to channel (`make bench-alert-to-channel`, {result['opened']} of {result['alerts']} alerts "
        f"opened an incident, SQLite)"),
        "",
        ("Each signed webhook (PagerDuty and CloudWatch/SNS alternating, each on its own service and dedup "
        "key) is timed from just before its POST to the moment the local Slack server records the "
        "`chat.postMessage` of the headline in the new incident channel. The bot runs with its default "
        "outbox settings (`OUTBOX_POLL_INTERVAL=1`, `SLACK_POST_INTERVAL=1`). Baselines, same run: the "
        "webhook's own ack, which the sender waits for, and a bare `chat.postMessage` round trip to the same "
        "local Slack server. The first ratio is how much later than the ack the channel shows the "
        "incident (the durable ack comes first; the channel is opened through the outbox after it); the "
        "second is how many bare Slack round trips the whole opening costs."),
        f"Machine: {result['machine']}.",
        "",
        _storm_line(result),
        "",
        "| | p50 | p95 | max | n |",
        "|---|---|---|---|---|",
        f"| webhook ack (baseline) | {a['p50_ms']} ms | {a['p95_ms']} ms | {a['max_ms']} ms | {a['count']} |",
        (f"| bare chat.postMessage round trip (baseline) | {p['p50_ms']} ms | {p['p95_ms']} ms | "
        f"{p['max_ms']} ms | {p['count']} |"),
        (f"| **webhook → headline in channel** | **{h['p50_ms']} ms** | **{h['p95_ms']} ms** | "
        f"{h['max_ms']} ms | {h['count']} |"),
        (f"| … PagerDuty only | {src['pagerduty']['headline']['p50_ms']} ms | "
        f"{src['pagerduty']['headline']['p95_ms']} ms | "
        f"{src['pagerduty']['headline']['max_ms']} ms | {src['pagerduty']['headline']['count']} |"),
        (f"| … CloudWatch/SNS only | {src['cloudwatch']['headline']['p50_ms']} ms | "
        f"{src['cloudwatch']['headline']['p95_ms']} ms | "
        f"{src['cloudwatch']['headline']['max_ms']} ms | {src['cloudwatch']['headline']['count']} |"),
        (f"| ratio headline / webhook ack | {r['headline_p50_over_ack_p50']}x | "
        f"{r['headline_p95_over_ack_p95']}x | | |"),
        (f"| ratio headline / bare postMessage | {r['headline_p50_over_post_p50']}x | "
        f"{r['headline_p95_over_post_p95']}x | | |"),
        "",
        f"Alerts that failed (non-2xx, or no headline within 30 s): {result['failed']}.",
        "",
    ])


def _storm_line(result: dict[str, Any]) -> str:
    storm, p95 = result["storm"], result["headline"]["p95_ms"]
    if storm is None:
        return "No background storm (`--storm-rate 0`): the idle bot."
    met = "met" if p95 is not None and p95 < 1000 else "NOT met"
    return (f"During a background storm of signed PagerDuty deliveries over 12 other services at "
            f"{storm['rate_per_s']:g}/s ({storm['deliveries']} deliveries in {storm['seconds']} s from load-generator "
            f"processes of their own; their ack p99 {storm['ack_p99_ms']} ms, {storm['failed']} failed). Goal: the "
            f"headline p95 under 1 s during the storm: {met}.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=40, help="alerts, each its own incident (default 40)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between a headline and the next alert")
    parser.add_argument("--storm-rate", type=float, default=100.0,
                        help="deliveries a second of a background PagerDuty storm (default 100; 0: none)")
    parser.add_argument("--json", metavar="PATH", default=str(ROOT / "bench-results" / "alert-to-channel.json"))
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    result = run(args.alerts, args.settle, args.storm_rate)
    publish("alert-to-channel", result, markdown(result), json_path=args.json, markdown=not args.no_write)
    storm_failed = (result["storm"] or {}).get("failed", 0)
    return 0 if result["failed"] == 0 and storm_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
