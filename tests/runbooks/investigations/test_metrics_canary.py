"""Metrics and Canary: the config, the SLO verdicts and the canary's decision on hand-made series
(an honest in-memory `MetricSource` and a chart reader), the request real CloudWatch gets, and
both investigations against moto seeded as the demo's production."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from bot.config import IncidentBotConfig
from bot.config.errors import ConfigError
from bot.config.models import DEFAULT_OBJECTIVES
from bot.core.ports.cloudwatch import AlarmInfo, MetricRef, MetricSeries
from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.worker import WorkerPrediction, WorkerUnavailable
from bot.integrations.cloudwatch import Boto3CloudWatch
from demo.config import demo_config
from runbooks.diagnostics.metric_chart import HEIGHT, WIDTH
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import InvestigationKind, Scope, configured_kinds, investigate
from runbooks.investigations.canary import CanaryInvestigation, Decision, Version, decide, min_requests
from runbooks.investigations.health import Role, health_reads
from runbooks.investigations.metrics import MetricsInvestigation
from sandbox.aws_seed import (
    CANARY_VERSION,
    HEALTH_METRIC_NAMES,
    HEALTH_NAMESPACE,
    STABLE_VERSION,
    VERSION_DIMENSION,
    seed_health,
)
from tests.inference.moto_server import DUMMY_CREDENTIALS

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
MINUTES = 40
DIMENSIONS = {"LoadBalancer": "app/multimodal-prod-alb/50dc6c495c0c9188"}
ALB = {"namespace": "AWS/ApplicationELB", "dimensions": DIMENSIONS}


def service(**keys: object):
    config = IncidentBotConfig.from_mapping({"services": {"multimodal-api": keys}})
    return config.services["multimodal-api"]


HEALTH = {
    "requests": {**ALB, "name": "RequestCount"},
    "errors": {**ALB, "name": "HTTPCode_Target_5XX_Count"},
    "latency": {**ALB, "name": "TargetResponseTime"},
    "cpu": {"namespace": "AWS/ECS", "name": "CPUUtilization",
            "dimensions": {"ClusterName": "multimodal-prod", "ServiceName": "multimodal-api"}},
    "memory": {"namespace": "AWS/ECS", "name": "MemoryUtilization",
               "dimensions": {"ClusterName": "multimodal-prod", "ServiceName": "multimodal-api"}},
    "gpu": {"namespace": "Multimodal/Prod", "name": "gpu_utilization_percent", "dimensions": {"ServiceName": "x"}},
}
CANARY = {"dimension": "TargetGroup", "canary": "targetgroup/multimodal-green/0f1e2d3c4b5a6978",
          "stable": "targetgroup/multimodal-blue/8796a5b4c3d2e1f0"}


def scope(svc, *, alarm: str | None = None, minutes: int = MINUTES) -> Scope:
    return Scope(incident_number=12, service_name="multimodal-api", service=svc,
                 start=NOW - timedelta(minutes=minutes), end=NOW, alarm_name=alarm)


def per_minute(before: float, after: float, *, minutes: int = MINUTES, stepped: int = 15) -> list[float]:
    """``before`` until ``stepped`` minutes before NOW, then ``after``: a deploy's picture."""
    return [after if minutes - i <= stepped else before for i in range(minutes)]


class Series:
    """`MetricSource` over hand-made minute values, keyed by (name, stat) or (name, stat, a dimension's
    value): what a CloudWatch read would return, and a record of what was asked."""

    def __init__(self, values: Mapping[tuple[str, ...], Sequence[float]], *, alarm: AlarmInfo | None = None,
                 refused: Sequence[str] = ()) -> None:
        self._values = values
        self._alarm = alarm
        self._refused = refused
        self.asked: list[MetricRef] = []

    async def alarm(self, name: str) -> AlarmInfo:
        if self._alarm is None or self._alarm.name != name:
            raise ProviderRejected(f"CloudWatch has no metric alarm named {name!r}", provider="cloudwatch", status=404)
        return self._alarm

    async def series(self, metric: MetricRef, *, start: datetime, end: datetime) -> MetricSeries:
        self.asked.append(metric)
        if metric.name in self._refused:
            raise ProviderRejected(f"User is not authorized to read {metric.name}", provider="cloudwatch",
                                   status=403)
        tagged = next((v for v in metric.dimensions.values() if (metric.name, metric.stat, v) in self._values), None)
        values = self._values.get((metric.name, metric.stat, tagged) if tagged else (metric.name, metric.stat), ())
        last = end.replace(second=0, microsecond=0) - timedelta(minutes=1)
        points = tuple((last - timedelta(minutes=len(values) - 1 - i), float(v)) for i, v in enumerate(values))
        return MetricSeries(metric=metric, points=tuple(p for p in points if start <= p[0] < end))


class Charts:
    """chart-vit as the bot sees it: a label per chart, or down."""

    def __init__(self, label: str = "step_up", *, down: bool = False, hang: bool = False) -> None:
        self.label, self.down, self.hang = label, down, hang
        self.read: list[bytes] = []

    async def classify_chart(self, png: bytes, *, model: str = "chart-vit") -> WorkerPrediction:
        if self.hang:
            await asyncio.sleep(30)
        if self.down:
            raise WorkerUnavailable("worker unreachable: connection refused")
        self.read.append(png)
        return WorkerPrediction(self.label, 0.91, {self.label: 0.91}, "v3")


def healthy(**override: Sequence[float]) -> dict[tuple[str, ...], Sequence[float]]:
    values: dict[tuple[str, ...], Sequence[float]] = {
        ("RequestCount", "Sum"): [1200.0] * MINUTES,
        ("HTTPCode_Target_5XX_Count", "Sum"): [2.0] * MINUTES,  # 0.17%
        ("TargetResponseTime", "p95"): [0.31] * MINUTES,
        ("TargetResponseTime", "p99"): [0.52] * MINUTES,
        ("CPUUtilization", "Average"): [41.0] * MINUTES,
        ("MemoryUtilization", "Average"): [58.0] * MINUTES,
        ("gpu_utilization_percent", "Average"): [33.0] * MINUTES,
    }
    for key, series in override.items():
        name, stat = key.rsplit("__", 1)
        values[(name, stat)] = series
    return values


def png_size(content: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(content)) as image:
        return image.size


# --- the config ---------------------------------------------------------------------------------

def test_the_menu_offers_metrics_and_canary_only_where_configured() -> None:
    assert InvestigationKind.METRICS not in configured_kinds(service(models=["chart-vit"]))
    kinds = configured_kinds(service(health_metrics=HEALTH, canary=CANARY))
    assert InvestigationKind.METRICS in kinds and InvestigationKind.CANARY in kinds
    assert InvestigationKind.CANARY not in configured_kinds(service(health_metrics=HEALTH))
    demo = demo_config().services["multimodal-api"]
    assert {InvestigationKind.METRICS, InvestigationKind.CANARY} <= set(configured_kinds(demo))
    # The demo reads what sandbox/aws_seed.py seeds.
    assert demo.health_metrics is not None and demo.canary is not None
    assert demo.health_metrics.requests is not None and demo.health_metrics.requests.namespace == HEALTH_NAMESPACE
    named = {role: getattr(demo.health_metrics, role).name for role in HEALTH_METRIC_NAMES}
    assert named == HEALTH_METRIC_NAMES
    assert (demo.canary.dimension, demo.canary.canary, demo.canary.stable) == (VERSION_DIMENSION, CANARY_VERSION,
                                                                              STABLE_VERSION)


@pytest.mark.parametrize(("keys", "said"), [
    ({"slo": {}}, "name at least one of p95_ms"),
    ({"slo": {"error_rate": 0.5}}, "e.g. 0.005 for 0.5%"),
    ({"slo": {"availability": 99.5}}, "e.g. 0.995 for 99.5%"),
    ({"slo": {"p95_ms": -1}}, "greater than 0"),
    ({"health_metrics": {"errors": HEALTH["errors"]}}, "needs requests too"),
    ({"health_metrics": {"latency": {**HEALTH["latency"], "stat": "p95"}}}, "read as p95 and p99"),
    ({"health_metrics": {"cpu": {**HEALTH["cpu"], "stat": "median"}}}, "a percentile such as p95"),
    ({"health_metrics": {"cpu": {**HEALTH["cpu"], "unit": "furlongs"}}}, "Seconds"),
    ({"health_metrics": {}}, "name at least one of cpu"),
    ({"canary": CANARY}, "add requests, errors, latency to health_metrics"),
    ({"health_metrics": HEALTH, "canary": {**CANARY, "stable": CANARY["canary"]}}, "must differ from canary"),
])
def test_a_bad_slo_or_metric_fails_at_start_with_its_key(keys: dict, said: str) -> None:
    with pytest.raises(ConfigError, match=said.replace("(", r"\(").replace(".", r"\.")):
        service(**keys)


def test_latency_is_read_as_p95_and_p99_and_the_canary_swaps_one_dimension() -> None:
    health = service(health_metrics=HEALTH).health_metrics
    reads = health_reads(health, period=60)
    assert (reads[Role.P95].metric.stat, reads[Role.P99].metric.stat) == ("p95", "p99")
    assert reads[Role.P95].unit == "Seconds" and reads[Role.REQUESTS].metric.stat == "Sum"
    published = service(health_metrics={**HEALTH, "latency_p99": {
        "namespace": "Multimodal/Prod", "name": "latency_p99", "dimensions": {}, "unit": "Milliseconds"}})
    reads = health_reads(published.health_metrics, period=300)
    assert (reads[Role.P99].metric.name, reads[Role.P99].metric.stat, reads[Role.P99].unit) == (
        "latency_p99", "Average", "Milliseconds")
    assert reads[Role.P95].metric.stat == "p95" and reads[Role.P95].metric.period == 300
    green = health_reads(health, period=60, roles=(Role.REQUESTS, Role.P95), dimension=("TargetGroup", "tg/green"))
    assert list(green) == [Role.REQUESTS, Role.P95]
    assert green[Role.REQUESTS].metric.dimensions == {**DIMENSIONS, "TargetGroup": "tg/green"}


# --- Metrics ------------------------------------------------------------------------------------

async def test_within_the_slos_is_ok_with_one_chart_set_read_panel_by_panel() -> None:
    charts = Charts("normal")
    source = Series(healthy())
    svc = service(health_metrics=HEALTH, models=["incident-text", "chart-vit"])
    finding = await investigate(MetricsInvestigation(source, charts), scope(svc))
    assert finding.verdict == Verdict.OK, finding
    assert finding.headline == "metrics: within 3 SLOs; p95 310 ms, 5xx 0.17%"
    assert finding.data["slo"] == {"p95_ms": 600, "error_rate": 0.005, "availability": 0.995, "source": "default"}
    assert finding.data["checks"]["p95_ms"]["state"] == "within" and finding.data["slo_met"] is True
    assert finding.data["panels"] == ["p95", "p99", "error_rate", "requests", "cpu", "memory", "gpu"]
    # One PNG, two panels a row; chart-vit read each panel on its own.
    assert finding.attachment is not None and finding.attachment.filename.endswith(".png")
    assert png_size(finding.attachment.content) == (2 * WIDTH + 2, 4 * HEIGHT + 3 * 2)
    assert len(charts.read) == 7 and all(png_size(p) == (WIDTH, HEIGHT) for p in charts.read)
    assert finding.data["charts"]["p95"] == {"pattern": "normal", "confidence": 0.91}
    text = "\n".join(finding.lines)
    assert "p95 latency *310 ms* now" in text and "within the SLO (under 600 ms)" in text
    assert "CPU 41% now" in text and "chart-vit reads p95 latency *normal*" in text
    # What CloudWatch was asked: each role once, latency as its p95 and p99.
    assert sorted((m.name, m.stat) for m in source.asked) == sorted(
        [("RequestCount", "Sum"), ("HTTPCode_Target_5XX_Count", "Sum"), ("TargetResponseTime", "p95"),
         ("TargetResponseTime", "p99"), ("CPUUtilization", "Average"), ("MemoryUtilization", "Average"),
         ("gpu_utilization_percent", "Average")])


@pytest.mark.parametrize(("p95", "errors", "verdict", "headline"), [
    (0.57, 2.0, Verdict.WARNING, "metrics: within 3 SLOs, 1 near; p95 570 ms"),  # near 600 ms
    (0.75, 2.0, Verdict.WARNING, "metrics: 1 of 3 SLOs missed; p95 750 ms"),
    (1.4, 2.0, Verdict.CRITICAL, "metrics: 1 of 3 SLOs missed; p95 1,400 ms"),
    # 1% for the last 15 minutes: the error objective missed, availability over the window only near it.
    (0.31, 12.0, Verdict.WARNING, "metrics: 1 of 3 SLOs missed, 1 near; p95 310 ms, 5xx 1.00%"),
    (0.31, 72.0, Verdict.CRITICAL, "metrics: 2 of 3 SLOs missed; p95 310 ms, 5xx 6.00%"),
])
async def test_the_seeds_lines_give_the_verdict(p95: float, errors: float, verdict: Verdict, headline: str) -> None:
    source = Series(healthy(TargetResponseTime__p95=per_minute(0.3, p95),
                            HTTPCode_Target_5XX_Count__Sum=per_minute(2.0, errors)))
    finding = await investigate(MetricsInvestigation(source, Charts()), scope(service(health_metrics=HEALTH)))
    assert finding.verdict == verdict
    assert finding.headline.startswith(headline)


async def test_now_is_the_last_five_minutes_and_peak_the_worst_five() -> None:
    # 1.5 s for ten minutes, recovered to 0.3 s for the last ten: critical then, within now.
    spike = [0.3] * 20 + [1.5] * 10 + [0.3] * 10
    source = Series(healthy(TargetResponseTime__p95=spike))
    finding = await investigate(MetricsInvestigation(source, Charts()), scope(service(health_metrics=HEALTH)))
    p95 = finding.data["metrics"]["p95"]
    assert p95["now"] == pytest.approx(300) and p95["peak"] == pytest.approx(1500)
    assert finding.data["checks"]["p95_ms"]["state"] == "within"


async def test_a_service_slo_replaces_the_defaults_whole() -> None:
    # Seed 004: p99 under 150 ms and errors under 0.1%; no p95 or availability objective is judged.
    svc = service(health_metrics=HEALTH, slo={"p99_ms": 150, "error_rate": 0.001})
    source = Series(healthy(TargetResponseTime__p99=[0.21] * MINUTES))
    finding = await investigate(MetricsInvestigation(source, Charts()), scope(svc))
    assert set(finding.data["checks"]) == {"p99_ms", "error_rate"}
    assert finding.data["checks"]["p99_ms"]["state"] == "over"
    assert finding.data["checks"]["error_rate"]["state"] == "over"  # 0.17% against 0.1%
    assert finding.verdict == Verdict.WARNING and finding.headline.startswith("metrics: 2 of 2 SLOs missed")


async def test_missing_data_refusals_and_a_down_worker_are_lines_not_failures() -> None:
    values = healthy()
    del values[("gpu_utilization_percent", "Average")]
    del values[("HTTPCode_Target_5XX_Count", "Sum")]  # an ALB publishes no 5xx count when there are none
    source = Series(values, refused=("MemoryUtilization",))
    svc = service(health_metrics=HEALTH, models=["chart-vit"])
    finding = await investigate(MetricsInvestigation(source, Charts(down=True)), scope(svc, alarm="multimodal-5xx"))
    assert finding.verdict == Verdict.OK
    text = "\n".join(finding.lines)
    assert "No data in the window for GPU (gpu_utilization_percent Average)." in text
    assert "memory (MemoryUtilization Average) could not be read: User is not authorized" in text
    assert "No 5xx datapoints in the window" in text and finding.data["metrics"]["error_rate"]["now"] == 0
    assert "chart-vit could not read the charts: worker unreachable" in text
    assert "Alarm `multimodal-5xx` could not be read" in text
    assert finding.data["chart_model"] == {"model": "chart-vit", "read": 0, "failed": 5}
    assert "memory" not in finding.data["panels"] and "gpu" not in finding.data["panels"]


async def test_a_hung_worker_leaves_the_charts_unread_within_its_budget() -> None:
    investigation = MetricsInvestigation(Series(healthy()), Charts(hang=True), chart_read_s=0.2)
    finding = await investigate(investigation, scope(service(health_metrics=HEALTH, models=["chart-vit"])))
    assert finding.verdict == Verdict.OK and finding.attachment is not None
    assert "chart-vit did not read the charts within 0.2 s." in finding.lines


async def test_the_alarm_is_charted_first_with_its_threshold() -> None:
    alarm = AlarmInfo(name="multimodal-api-p95-latency",
                      metric=MetricRef("AWS/ApplicationELB", "TargetResponseTime", DIMENSIONS, stat="p95"),
                      threshold=1.0, comparison="GreaterThanThreshold", state="ALARM",
                      state_changed_at=NOW - timedelta(minutes=12))
    source = Series(healthy(TargetResponseTime__p95=per_minute(0.3, 1.3)), alarm=alarm)
    finding = await investigate(MetricsInvestigation(source, Charts()),
                                scope(service(health_metrics=HEALTH), alarm=alarm.name))
    assert finding.data["panels"][0] == "alarm"
    assert finding.data["alarm"]["threshold"] == 1.0 and finding.data["alarm"]["state"] == "ALARM"
    assert finding.lines[0] == ("Alarm `multimodal-api-p95-latency` is ALARM since 14:18 UTC: "
                                "TargetResponseTime p95 alarms over 1, latest 1.3")
    assert finding.verdict == Verdict.CRITICAL


async def test_a_latency_in_an_unknown_unit_is_charted_but_not_judged() -> None:
    odd = {**HEALTH, "latency": {"namespace": "Custom", "name": "Latency", "dimensions": {"Api": "scoring"}}}
    source = Series({**healthy(), ("Latency", "p95"): [412.0] * MINUTES, ("Latency", "p99"): [530.0] * MINUTES})
    finding = await investigate(MetricsInvestigation(source, Charts()), scope(service(health_metrics=odd)))
    assert "p95_ms" not in finding.data["checks"] and "p95" in finding.data["panels"]
    assert any("add `unit: Milliseconds`" in line for line in finding.lines)


async def test_cloudwatch_down_for_every_metric_is_an_unavailable_finding() -> None:
    class Down:
        async def alarm(self, name: str) -> AlarmInfo:
            raise AssertionError("not reached")

        async def series(self, metric: MetricRef, **_: object) -> MetricSeries:
            raise ProviderUnavailable("CLOUDWATCH could not read: connection refused", provider="cloudwatch")

    finding = await investigate(MetricsInvestigation(Down(), Charts()), scope(service(health_metrics=HEALTH)))
    assert finding.verdict == Verdict.UNAVAILABLE and finding.headline == "metrics: could not be read"


class RecordingCloudWatch:
    """A CloudWatch endpoint on 127.0.0.1 that keeps each request (botocore speaks CloudWatch's JSON
    protocol) and answers with no data, to show what real CloudWatch is asked: moto cannot compute
    percentiles (its GetMetricData fails on ``p95``)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.bodies.append(json.loads(self.rfile.read(int(self.headers.get("content-length") or 0))))
                self.send_response(200)
                self.send_header("content-type", "application/x-amz-json-1.0")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def recording_cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingCloudWatch]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_CREDENTIALS["aws_secret_access_key"])
    server = RecordingCloudWatch()
    yield server
    server.close()


async def test_real_cloudwatch_is_asked_for_the_latencys_p95_and_p99(recording_cloudwatch) -> None:
    source = Boto3CloudWatch(endpoint_url=recording_cloudwatch.url, region="us-east-1", max_attempts=1)
    svc = service(health_metrics={"requests": HEALTH["requests"], "latency": HEALTH["latency"]})
    finding = await investigate(MetricsInvestigation(source, Charts()), scope(svc))
    asked = [query["MetricStat"] for body in recording_cloudwatch.bodies for query in body["MetricDataQueries"]]
    assert sorted((stat["Metric"]["MetricName"], stat["Stat"]) for stat in asked) == [
        ("RequestCount", "Sum"), ("TargetResponseTime", "p95"), ("TargetResponseTime", "p99")]
    assert all(stat["Period"] == 60 and stat["Metric"]["Dimensions"] == [
        {"Name": "LoadBalancer", "Value": DIMENSIONS["LoadBalancer"]}] for stat in asked)
    assert finding.verdict == Verdict.UNAVAILABLE and finding.headline == "metrics: no data in the window"


# --- Canary -------------------------------------------------------------------------------------

SLO = DEFAULT_OBJECTIVES  # seed 000's


def version(name: str, requests: float, errors: float, p95: float | None, p99: float | None = None) -> Version:
    return Version(name, f"tg/{name}", requests, errors, p95, p99)


@pytest.mark.parametrize(("canary", "stable", "decision", "why"), [
    (version("canary", 2000, 2, 420), version("stable", 20000, 30, 400), Decision.PROMOTE, ""),
    (version("canary", 2000, 2, 650), version("stable", 20000, 30, 600), Decision.ROLL_BACK, "misses the SLO"),
    (version("canary", 2000, 2, 500), version("stable", 20000, 30, 400), Decision.ROLL_BACK, "1.2x stable's 400 ms"),
    (version("canary", 2000, 2, 14), version("stable", 20000, 30, 10), Decision.PROMOTE, ""),  # within the 10 ms floor
    (version("canary", 2000, 9, 400), version("stable", 20000, 2, 400), Decision.PROMOTE, ""),  # 0.45%: near
    (version("canary", 2000, 12, 400), version("stable", 20000, 2, 400), Decision.ROLL_BACK, "5xx rate 0.60%"),
    (version("canary", 150, 0, 400), version("stable", 20000, 2, 400), Decision.HOLD, "fewer than the 200"),
    (version("canary", 150, 2, 400), version("stable", 20000, 2, 400), Decision.ROLL_BACK, "already miss"),
    (version("canary", 2000, 2, 420), None, Decision.PROMOTE, ""),
])
def test_the_canary_decision(canary: Version, stable: Version | None, decision: Decision, why: str) -> None:
    least = min_requests(service(health_metrics=HEALTH, canary=CANARY).canary, SLO)
    made, reasons, _ = decide(canary, stable, SLO, least=least)
    assert made == decision, reasons
    assert why in "; ".join(reasons)


def test_a_worse_error_rate_than_stable_rolls_back_even_within_the_slo() -> None:
    loose = service(health_metrics=HEALTH, slo={"error_rate": 0.02}).slo
    assert loose is not None
    made, reasons, _ = decide(version("canary", 5000, 40, None), version("stable", 50000, 50, None), loose,
                              least=100)
    assert made == Decision.ROLL_BACK and reasons == ["canary 5xx 0.80% is over stable's 0.10% + 0.5 points"]


def test_min_requests_follows_the_error_objective_unless_set() -> None:
    svc = service(health_metrics=HEALTH, canary=CANARY)
    assert min_requests(svc.canary, SLO) == 200
    assert min_requests(service(health_metrics=HEALTH, canary={**CANARY, "min_requests": 50}).canary, SLO) == 50
    seed_004 = service(health_metrics=HEALTH, slo={"p99_ms": 150, "error_rate": 0.001}).slo
    assert min_requests(svc.canary, seed_004) == 1000


async def test_the_canary_is_compared_with_stable_over_the_minutes_it_served() -> None:
    green, blue = CANARY["canary"], CANARY["stable"]
    served = 15  # the canary took traffic for the last 15 minutes; stable was bad before, fine since
    values = {
        ("RequestCount", "Sum", green): [120.0] * served,
        ("HTTPCode_Target_5XX_Count", "Sum", green): [5.0] * served,
        ("TargetResponseTime", "p95", green): [1.45] * served,
        ("TargetResponseTime", "p99", green): [2.2] * served,
        ("RequestCount", "Sum", blue): [1080.0] * MINUTES,
        ("HTTPCode_Target_5XX_Count", "Sum", blue): per_minute(200.0, 2.0),
        ("TargetResponseTime", "p95", blue): per_minute(3.0, 0.38),
        ("TargetResponseTime", "p99", blue): per_minute(4.0, 0.55),
    }
    source = Series(values)
    finding = await investigate(CanaryInvestigation(source), scope(service(health_metrics=HEALTH, canary=CANARY)))
    assert finding.verdict == Verdict.CRITICAL and finding.data["decision"] == "roll_back"
    assert finding.headline == "canary: roll back (p95 1,450 ms vs 380 ms; 5xx 4.17% vs 0.19%)"
    assert finding.data["stable"]["requests"] == 1080 * served  # only the minutes the canary served
    assert finding.data["canary"]["requests"] == 120 * served
    assert {m.dimensions["TargetGroup"] for m in source.asked} == {green, blue}
    assert all(m.dimensions["LoadBalancer"] == DIMENSIONS["LoadBalancer"] for m in source.asked)
    text = "\n".join(finding.lines)
    assert "*Roll back*: canary p95 1,450 ms misses the SLO (under 600 ms), over the critical line 1,000 ms" in text
    assert "3.8x stable's 380 ms" in text and "Rule: roll back on a missed SLO" in text
    assert finding.attachment is not None and png_size(finding.attachment.content) == (2 * WIDTH + 2,
                                                                                      3 * HEIGHT + 4)


async def test_a_canary_with_no_traffic_yet_holds_and_stable_alone_is_judged_on_the_slos() -> None:
    finding = await investigate(CanaryInvestigation(Series({})), scope(service(health_metrics=HEALTH, canary=CANARY)))
    assert finding.verdict == Verdict.WARNING and finding.data["decision"] == "hold"
    assert "no requests in the window" in "\n".join(finding.lines)
    assert finding.attachment is None


# --- against moto, seeded as the demo's production ---------------------------------------------------

async def test_metrics_and_canary_read_the_seeded_production(aws_env: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    seed_health(aws_env, now=now)
    svc = demo_config().services["multimodal-api"]
    window = Scope(incident_number=3, service_name="multimodal-api", service=svc, start=now - timedelta(minutes=60),
                   end=now)
    source = Boto3CloudWatch()
    metrics = await investigate(MetricsInvestigation(source, Charts()), window)
    assert metrics.verdict == Verdict.CRITICAL, metrics.lines  # p95 over 1 s since the canary went out
    assert metrics.data["checks"]["p95_ms"]["state"] == "critical"
    assert metrics.data["checks"]["error_rate"]["state"] == "over"
    assert metrics.data["metrics"]["memory"]["unit"] == "Bytes" and "GiB" in "\n".join(metrics.lines)
    assert metrics.data["panels"] == ["p95", "p99", "error_rate", "requests", "cpu", "memory", "gpu"]
    canary = await investigate(CanaryInvestigation(source), window)
    assert canary.data["decision"] == "roll_back" and canary.verdict == Verdict.CRITICAL
    assert canary.data["canary"]["p95_ms"] > 1000 and canary.data["stable"]["p95_ms"] < 450
