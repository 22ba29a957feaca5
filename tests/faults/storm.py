"""A signed alert storm, and senders that retry what was not answered 2xx, as PagerDuty and SNS do.

Every delivery has a stable identity (the PagerDuty event.id, the SNS MessageId), so a test
can say afterwards which were stored and how often. Alerts repeat: each alert key is sent
several times, so "stored exactly once" shows in the alert's occurrence count too.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.bench import ingest

# The deliveries are the ingest benchmark's own signed builders; this is the secret they sign with.
PD_SECRET = ingest.PD_SECRET


@dataclass(frozen=True)
class Delivery:
    source: str  # as stored in webhook_deliveries.source
    delivery_id: str
    alert_key: str  # the service and alert it is about, for counting occurrences
    service: str
    path: str
    body: bytes
    headers: dict[str, str]


def pagerduty_delivery(service: str, alert: int) -> Delivery:
    # One PagerDuty incident per (service, alert): its repeats are the same alert again.
    pd_id = "P" + hashlib.sha256(f"{service}/{alert}".encode()).hexdigest()[:10].upper()
    signed = ingest.pagerduty_delivery(alert, service, incident_id=pd_id, title=f"{service} pd alert {alert}")
    # Stored under its signed event id; a retry resends the same bytes, so the same id.
    return Delivery("pagerduty", json.loads(signed.body)["event"]["id"], f"pd:{service}:{alert}", service,
                    signed.path, signed.body, signed.headers)


def sns_delivery(service: str, alert: int) -> Delivery:
    signed = ingest.sns_delivery(service, f"{service}-alarm-{alert}")
    return Delivery("cloudwatch", json.loads(signed.body)["MessageId"], f"cw:{service}:{alert}", service,
                    signed.path, signed.body, signed.headers)


def build_storm(*, services: list[str], alerts_per_service: int, repeats: int) -> list[Delivery]:
    """Each service gets ``alerts_per_service`` alerts, half PagerDuty and half CloudWatch, each
    delivered ``repeats`` times (distinct deliveries of the same alert), interleaved."""
    storm: list[Delivery] = []
    for _ in range(repeats):
        for alert in range(alerts_per_service):
            for service in services:
                storm.append(pagerduty_delivery(service, alert) if alert % 2 else sns_delivery(service, alert))
    return storm


@dataclass
class SendReport:
    answers: dict[str, list[int]] = field(default_factory=dict)  # delivery id -> every status, 0 = no answer
    # Every attempt as (sent at, answered at, status), on the time.monotonic() clock.
    attempts: list[tuple[float, float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, delivery: Delivery, status: int, sent_at: float, answered_at: float) -> None:
        with self.lock:
            self.answers.setdefault(delivery.delivery_id, []).append(status)
            self.attempts.append((sent_at, answered_at, status))

    def acked(self) -> int:
        with self.lock:
            return sum(1 for statuses in self.answers.values() if statuses and 200 <= statuses[-1] < 300)

    def unacked(self) -> list[str]:
        with self.lock:
            return [d for d, statuses in self.answers.items() if not (200 <= statuses[-1] < 300)]

    def statuses(self) -> Counter[int]:
        with self.lock:
            return Counter(status for statuses in self.answers.values() for status in statuses)


class RetryingSenders:
    """``clients`` threads send the storm to ``base_url``; each delivery is retried with back-off
    until answered 2xx or ``give_up_after`` seconds have passed since the storm began."""

    def __init__(self, base_url: str, storm: list[Delivery], *, clients: int = 12, give_up_after: float = 120.0,
                 pace: float = 0.0, fresh_connections: bool = False) -> None:
        self._base_url = base_url
        self._storm = list(storm)
        self._clients = clients
        self._give_up_after = give_up_after
        self._pace = pace
        # No keep-alive: each request is a new connection, which a TCP balancer places anew.
        self._limits = httpx.Limits(max_keepalive_connections=0) if fresh_connections else httpx.Limits()
        self._next = 0
        self._lock = threading.Lock()
        self.report = SendReport()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list = []

    def start(self) -> RetryingSenders:
        self._started = time.monotonic()
        self._pool = ThreadPoolExecutor(self._clients, thread_name_prefix="sender")
        self._futures = [self._pool.submit(self._client) for _ in range(self._clients)]
        return self

    def wait(self, timeout: float | None = None) -> SendReport:
        assert self._pool is not None
        for future in self._futures:
            future.result(timeout)
        self._pool.shutdown()
        return self.report

    def _take(self) -> Delivery | None:
        with self._lock:
            if self._next >= len(self._storm):
                return None
            delivery = self._storm[self._next]
            self._next += 1
            return delivery

    def _client(self) -> None:
        with httpx.Client(base_url=self._base_url, timeout=15, limits=self._limits) as http:
            while (delivery := self._take()) is not None:
                self._deliver(http, delivery)
                if self._pace:
                    time.sleep(self._pace)

    def _deliver(self, http: httpx.Client, delivery: Delivery) -> None:
        backoff = 0.1
        while True:
            sent_at = time.monotonic()
            try:
                status = http.post(delivery.path, content=delivery.body, headers=delivery.headers).status_code
            except httpx.HTTPError:
                status = 0
            self.report.record(delivery, status, sent_at, time.monotonic())
            if 200 <= status < 300 or time.monotonic() - self._started > self._give_up_after:
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
