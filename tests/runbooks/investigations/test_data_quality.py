"""Data quality: its config, its rules, the /stats page, and the investigation against moto and a
real feature store health URL and /stats page on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config import IncidentBotConfig
from bot.config.errors import ConfigError
from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.http_probe import ProbeAnswer
from bot.integrations.cloudwatch import Boto3CloudWatch
from bot.integrations.http_probe import HttpxProbe
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import InvestigationKind, Scope, configured_kinds, investigate
from runbooks.investigations.data_quality import DataQualityInvestigation
from runbooks.investigations.data_quality_rules import FeatureReadings, Limits, Reading, judge_feature, store_health
from runbooks.investigations.stats_page import StatsUnreadable, normalization_context
from sandbox.aws_seed import (
    DATA_QUALITY_SERVICE,
    FEATURE_NAMESPACE,
    FEATURES,
    FRESHNESS_METRIC,
    NULL_HEAVY_FEATURE,
    NULL_RATE_METRIC,
    STALE_FEATURE,
    seed_data_quality,
)
from tests.loopback_http import Answer, LoopbackHttp, json_answer

NOW = datetime.now(UTC).replace(microsecond=0)
LIMITS = Limits(max_age=timedelta(hours=1), max_null_rate=0.05, max_context_age=timedelta(hours=24))
METRICS = {"namespace": FEATURE_NAMESPACE, "freshness_metric": FRESHNESS_METRIC, "null_rate_metric": NULL_RATE_METRIC,
           "dimensions": {"ServiceName": DATA_QUALITY_SERVICE}, "features": [f.name for f in FEATURES]}


def service_config(**data_quality: Any):
    config = IncidentBotConfig.from_mapping({"services": {"scoring-api": {"data_quality": data_quality}}})
    return config.services["scoring-api"]


def config_problems(**data_quality: Any) -> str:
    with pytest.raises(ConfigError) as error:
        service_config(**data_quality)
    return str(error.value)


def scope(service, *, minutes: int = 30) -> Scope:
    return Scope(incident_number=9, service_name="scoring-api", service=service,
                 start=NOW - timedelta(minutes=minutes), end=NOW, alarm_name="scoring-api-feature-freshness")


# --- config -------------------------------------------------------------------------------------

def test_the_config_takes_any_one_source_with_the_seeds_limits_by_default() -> None:
    full = service_config(**METRICS, probe_url="http://feature-store.internal:6566/health",
                          stats_url="https://scoring-api.internal/stats", max_age="2h", max_null_rate=0.1,
                          max_context_age="12h").data_quality
    assert full is not None and full.reads_metrics and full.feature_dimension == "Feature"
    assert (full.max_age, full.max_null_rate, full.max_context_age) == (timedelta(hours=2), 0.1, timedelta(hours=12))
    probe_only = service_config(probe_url="http://feast-server:6566/health").data_quality
    assert probe_only is not None and not probe_only.reads_metrics
    assert (probe_only.max_age, probe_only.max_null_rate, probe_only.max_context_age) == (
        timedelta(hours=1), 0.05, timedelta(hours=24))
    nulls_only = service_config(namespace="FS", null_rate_metric="nulls", features=["a"])
    assert configured_kinds(nulls_only) == (InvestigationKind.DATA_QUALITY,)


@pytest.mark.parametrize(("data_quality", "said"), [
    ({}, "data_quality: name at least one source"),
    ({"freshness_metric": "age"}, "data_quality.namespace: name the CloudWatch namespace"),
    ({"namespace": "FS", "null_rate_metric": "n"}, "data_quality.features: list the features"),
    ({"namespace": "FS", "features": ["a"]}, "data_quality.freshness_metric: name freshness_metric or"),
    ({**METRICS, "features": ["a", "b", "a"]}, "data_quality.features[2]: 'a' is listed twice"),
    ({**METRICS, "features": [f"f{i}" for i in range(51)]}, "data_quality.features: at most 50 features"),
    ({**METRICS, "dimensions": {"Feature": "x"}}, "data_quality.dimensions.Feature: is the feature_dimension"),
    ({"probe_url": "ftp://feature-store/health"}, "data_quality.probe_url: expected an http:// or https:// URL"),
    ({"probe_url": "feature-store.internal/health"}, "expected an http:// or https:// URL with a host"),
    ({"probe_url": "http:///health"}, "expected an http:// or https:// URL with a host"),
    ({"stats_url": "http://user:secret@scoring-api/stats"}, "data_quality.stats_url: must not carry a user"),
    ({"stats_url": "http://scoring-api:99999/stats"}, "the port must be a number from 1 to 65535"),
    ({"stats_url": "http://[::1/stats"}, "expected an http:// or https:// URL"),
    ({"stats_url": "http://scoring api/stats"}, "must not contain spaces"),
    ({"probe_url": "http://fs/health", "max_null_rate": 5}, "data_quality.max_null_rate: expected a fraction"),
    ({"probe_url": "http://fs/health", "max_null_rate": 0}, "data_quality.max_null_rate"),
    ({"probe_url": "http://fs/health", "max_null_rate": True}, "data_quality.max_null_rate"),
    ({"probe_url": "http://fs/health", "max_age": "90"}, "data_quality.max_age: invalid duration"),
    ({"probe_url": "http://fs/health", "max_context_age": "0s"}, "data_quality.max_context_age: must be longer"),
    ({"probe_url": "http://fs/health", "freshnes_metric": "x"}, "data_quality.freshnes_metric"),
])
def test_a_bad_data_quality_config_names_the_key(data_quality: dict[str, Any], said: str) -> None:
    assert said in config_problems(**data_quality)


# --- the rules ----------------------------------------------------------------------------------

def judge(*, age_s: float | None = None, reported_min_ago: int = 0, null_rate: float | None = None,
          freshness: bool = True, nulls: bool = True):
    at = NOW - timedelta(minutes=reported_min_ago)
    readings = FeatureReadings("doc_length", Reading(age_s, at) if age_s is not None else None,
                               Reading(null_rate, at) if null_rate is not None else None)
    return judge_feature(readings, limits=LIMITS, end=NOW, reads_freshness=freshness, reads_null_rate=nulls)


def test_a_feature_is_stale_past_its_limit_and_critical_past_four_times_it() -> None:
    assert judge(age_s=600, null_rate=0.01).verdict == Verdict.OK
    assert judge(age_s=3600, null_rate=0.01).verdict == Verdict.OK  # at the limit, not past it
    stale = judge(age_s=3 * 3600, null_rate=0.01)
    assert (stale.verdict, stale.problems, stale.age) == (Verdict.WARNING, ("stale",), timedelta(hours=3))
    assert judge(age_s=4 * 3600 + 1, null_rate=0.01).verdict == Verdict.CRITICAL


def test_a_freshness_reading_ages_from_when_it_was_reported() -> None:
    # Ten minutes old when reported, 55 minutes ago: over an hour old now.
    late = judge(age_s=600, reported_min_ago=55, null_rate=0.0)
    assert late.age == timedelta(minutes=65) and late.stale
    assert judge(age_s=-50, null_rate=0.0).age == timedelta(0)  # a clock ahead is not a negative age
    assert judge(age_s=1e108, null_rate=0.0).verdict == Verdict.CRITICAL  # CloudWatch's largest, no overflow
    assert judge(age_s=float("nan"), null_rate=0.0).problems == ("no freshness data",)


def test_null_rates_over_five_percent_warn_and_odd_values_say_so() -> None:
    assert judge(age_s=60, null_rate=0.05).verdict == Verdict.OK
    over = judge(age_s=60, null_rate=0.083)
    assert (over.verdict, over.problems, over.null_rate) == (Verdict.WARNING, ("nulls",), 0.083)
    percent = judge(age_s=60, null_rate=8.3)  # a percentage where a share was expected
    assert (percent.verdict, percent.problems, percent.null_rate) == (Verdict.WARNING, ("bad null rate",), None)


def test_a_feature_that_reported_nothing_is_a_warning_only_for_what_is_read() -> None:
    silent = judge()
    assert silent.verdict == Verdict.WARNING
    assert silent.problems == ("no freshness data", "no null-rate data")
    assert judge(age_s=60, nulls=False).verdict == Verdict.OK


def answer(status: int, body: bytes = b"") -> ProbeAnswer:
    return ProbeAnswer(url="http://fs/health", status=status, body=body, truncated=False, seconds=0.01)


def test_the_feature_store_is_down_on_no_answer_a_5xx_or_a_status_that_says_so() -> None:
    url = "http://fs/health"
    assert store_health(url, answer(200, b"OK"), None).up is True
    assert store_health(url, answer(200, b'{"status": "healthy"}'), None).up is True
    assert store_health(url, answer(200, b'{"status": " Unhealthy "}'), None).down
    assert store_health(url, answer(503), None).down
    assert store_health(url, None, ProviderUnavailable("no answer within 5 s")).down
    # A refused URL or a 4xx says nothing about the store: the probe's config is what to check.
    assert store_health(url, answer(404), None).up is None
    assert "check probe_url" in store_health(url, answer(404), None).detail
    assert store_health(url, None, ProviderRejected("redirects to another host", status=302)).up is None
    assert store_health(url, answer(200, b"[" * 100_000), None).up is True  # deep nesting is not a crash


# --- /stats -------------------------------------------------------------------------------------

def stats(page: Any) -> bytes:
    return page if isinstance(page, bytes) else json.dumps(page).encode()


def test_the_stats_page_gives_the_contexts_version_and_age_in_the_documented_fields() -> None:
    updated = NOW - timedelta(hours=30)
    nested = normalization_context(stats({"normalization_context": {"version": "ctx-2024-06-01",
                                                                    "updated_at": updated.isoformat()}}), now=NOW)
    assert (nested.version, nested.age, nested.updated_at) == ("ctx-2024-06-01", timedelta(hours=30), updated)
    zulu = normalization_context(stats({"normalization_context": {"created_at": "2024-01-01T00:00:00Z"}}),
                                 now=datetime(2024, 1, 2, tzinfo=UTC))
    assert zulu.age == timedelta(days=1) and zulu.version is None
    naive = normalization_context(stats({"normalization_context": {"updated_at": "2024-01-01T00:00:00"}}),
                                  now=datetime(2024, 1, 1, 1, tzinfo=UTC))
    assert naive.age == timedelta(hours=1)
    epoch = normalization_context(stats({"normalization_context": {"version": 7, "updated_at": NOW.timestamp() - 60}}),
                                  now=NOW)
    assert (epoch.version, epoch.age) == ("7", timedelta(minutes=1))
    # The service's own age wins over a time, and flat fields work too.
    both = normalization_context(stats({"normalization_context": {"age_seconds": 120, "updated_at": "1999-01-01"}}),
                                 now=NOW)
    assert both.age == timedelta(minutes=2)
    flat = normalization_context(stats({"context_age_seconds": 7200.5, "context_version": "v3", "memory_mb": 812}),
                                 now=NOW)
    assert (flat.version, flat.age) == ("v3", timedelta(seconds=7200.5))
    longer = normalization_context(
        stats({"normalization_context_age_seconds": 1, "normalization_context_version": 2.5}), now=NOW)
    assert longer.version == "2.5"


@pytest.mark.parametrize(("page", "said"), [
    (b"<html>502 Bad Gateway</html>", "the page is not JSON"),
    (b"\xff\xfe\x00garbage", "the page is not JSON"),
    (b"[" * 100_000, "the page is not JSON"),  # nested past the parser's recursion limit
    (b"9" * 5000, "the page is not JSON"),  # an int past Python's digit limit
    ([1, 2], "JSON but not an object"),
    ({"uptime": 5}, "names no normalization context age"),
    ({"normalization_context": "fresh"}, "normalization_context is not an object"),
    ({"normalization_context": {"age_seconds": "3600"}}, "age_seconds is not a number of seconds"),
    ({"normalization_context": {"age_seconds": True}}, "age_seconds is not a number of seconds"),
    ({"normalization_context": {"age_seconds": -5}}, "age_seconds is negative"),
    ({"normalization_context": {"age_seconds": 10**400}}, "age_seconds is not a number of seconds"),
    (b'{"context_age_seconds": Infinity}', "context_age_seconds is not a number of seconds"),
    (b'{"context_age_seconds": NaN}', "context_age_seconds is not a number of seconds"),
    ({"context_age_seconds": 1e15}, "is it in seconds?"),
    ({"normalization_context": {"updated_at": "yesterday"}}, "updated_at is not an ISO 8601 time"),
    ({"normalization_context": {"updated_at": "0001-01-01T00:00:00+01:00"}}, "is not an ISO 8601 time"),
    ({"normalization_context": {"updated_at": 1.7e12}}, "updated_at is not Unix epoch seconds"),
    ({"normalization_context": {"updated_at": {"at": 1}}}, "updated_at is not a time"),
    ({"normalization_context": {"updated_at": "2999-01-01T00:00:00Z"}}, "is in the future: check the service's clock"),
])
def test_a_stats_page_that_cannot_be_read_says_why(page: Any, said: str) -> None:
    with pytest.raises(StatsUnreadable, match=None) as error:
        normalization_context(stats(page), now=NOW)
    assert said in str(error.value)


def test_a_version_is_cleaned_and_cut() -> None:
    page = {"normalization_context": {"version": "v1\n<!channel>" + "x" * 200, "age_seconds": 1}}
    version = normalization_context(stats(page), now=NOW).version
    assert version is not None and "\n" not in version and len(version) <= 64


# --- the investigation, against moto and a loopback feature store -------------------------------

@pytest.fixture
def feature_store() -> Iterator[LoopbackHttp]:
    with LoopbackHttp() as server:
        server.answers["/health"] = json_answer({"status": "ok"})
        server.answers["/stats"] = json_answer({"normalization_context": {
            "version": "ctx-41", "updated_at": (NOW - timedelta(hours=3)).isoformat()}, "memory_mb": 700})
        yield server


@pytest.fixture
def seeded(aws_env: str) -> str:
    seed_data_quality(aws_env, now=NOW)
    return aws_env


async def run(service, **probe: Any):
    http = HttpxProbe(**probe)
    try:
        return await investigate(DataQualityInvestigation(Boto3CloudWatch(), http), scope(service))
    finally:
        await http.aclose()


async def test_the_stale_feature_is_named_with_its_age_and_the_null_heavy_one_counted(
        seeded: str, feature_store: LoopbackHttp) -> None:
    service = service_config(**METRICS, probe_url=feature_store.url("/health"), stats_url=feature_store.url("/stats"))
    finding = await run(service)
    assert finding.kind == InvestigationKind.DATA_QUALITY and finding.verdict == Verdict.WARNING
    assert finding.headline.startswith(f"data quality: feature {STALE_FEATURE} is 3h")
    assert "stale (limit 1h); 1 feature over 5% nulls" in finding.headline
    data = finding.data
    assert data["worst_feature"] == STALE_FEATURE and data["stale"] == [STALE_FEATURE]
    assert data["over_null_rate"] == [NULL_HEAVY_FEATURE] and data["without_data"] == []
    by_name = {f["feature"]: f for f in data["features"]}
    assert 3 * 3600 <= by_name[STALE_FEATURE]["age_seconds"] < 3 * 3600 + 600
    # Materialized every 15 minutes, reported every 5: under 20 minutes old, counted to the window's end.
    assert all(f["age_seconds"] < 20 * 60 for name, f in by_name.items() if name != STALE_FEATURE), by_name
    assert by_name[NULL_HEAVY_FEATURE]["null_rate"] == pytest.approx(0.083)
    assert data["feature_store"]["up"] is True and "suggested_severity" not in data
    assert data["normalization_context"]["version"] == "ctx-41"
    assert data["normalization_context"]["age_seconds"] == 3 * 3600
    shown = "\n".join(finding.lines)
    assert "Feature store" in shown and "up (HTTP 200" in shown
    assert f"*{STALE_FEATURE}*: 3h" in shown and f"*{NULL_HEAVY_FEATURE}*: 8.3% null" in shown
    assert "version ctx-41, 3h old, within the 1d limit" in shown
    assert finding.attachment is not None
    table = finding.attachment.content.decode()
    assert table.splitlines()[2].split() == ["feature", "age", "null", "rate", "verdict", "problems"]
    assert all(f.name in table for f in FEATURES) and "warning   stale" in table
    json.dumps(data)  # it goes on the timeline as is


async def test_a_feature_store_that_is_down_is_critical_and_suggests_p1(seeded: str,
                                                                          feature_store: LoopbackHttp) -> None:
    feature_store.answers["/health"] = Answer(status=503, body=b"Service Unavailable")
    service = service_config(**METRICS, probe_url=feature_store.url("/health"))
    finding = await run(service)
    assert finding.verdict == Verdict.CRITICAL and finding.data["suggested_severity"] == "P1"
    assert finding.headline.startswith("data quality: feature store down (HTTP 503 in ")
    assert STALE_FEATURE in finding.headline
    assert "raise the incident to P1 or above" in finding.lines[0]

    feature_store.answers["/health"] = Answer(delay=2.0, body=b"late")
    slow = await run(service_config(probe_url=feature_store.url("/health")), timeout=0.5)
    assert slow.verdict == Verdict.CRITICAL and "did not answer within 0.5 s" in slow.headline
    assert slow.data["suggested_severity"] == "P1"


async def test_an_old_normalization_context_warns_and_a_garbled_page_is_a_line_not_a_crash(
        aws_env: str, feature_store: LoopbackHttp) -> None:
    feature_store.answers["/stats"] = json_answer({"context_age_seconds": 30 * 3600, "context_version": "v9"})
    old = await run(service_config(stats_url=feature_store.url("/stats")))
    assert old.verdict == Verdict.WARNING
    assert old.headline == "data quality: normalization context 1d 6h old (limit 1d)"

    feature_store.answers["/stats"] = Answer(body=b'{"normalization_context": {"updated_at": ')
    garbled = await run(service_config(stats_url=feature_store.url("/stats"), probe_url=feature_store.url("/health")))
    assert garbled.verdict == Verdict.OK
    assert garbled.headline == "data quality: feature store up; could not read /stats"
    assert "could not be read: the page is not JSON" in "\n".join(garbled.lines)
    assert garbled.data["normalization_context"]["problem"] == "the page is not JSON"

    feature_store.answers["/stats"] = Answer(body=b"{" + b" " * 200_000 + b"}")
    huge = await run(service_config(stats_url=feature_store.url("/stats")), max_bytes=1024)
    assert huge.verdict == Verdict.UNAVAILABLE and huge.headline == "data quality: could not read /stats"
    assert "larger than 1 KiB" in "\n".join(huge.lines)


async def test_metrics_that_are_not_there_or_a_cloudwatch_that_is_down_degrade_to_a_line(
        aws_env: str, feature_store: LoopbackHttp) -> None:
    nothing = await run(service_config(**{**METRICS, "namespace": "No/Such"}))
    assert nothing.verdict == Verdict.UNAVAILABLE
    assert nothing.headline == "data quality: could not read the feature metrics"
    assert "check the namespace, metric and dimension names" in nothing.lines[0]

    http = HttpxProbe()
    dead = Boto3CloudWatch(endpoint_url="http://127.0.0.1:9", max_attempts=1)
    service = service_config(**METRICS, probe_url=feature_store.url("/health"))
    try:
        finding = await investigate(DataQualityInvestigation(dead, http), scope(service))
    finally:
        await http.aclose()
    assert finding.verdict == Verdict.OK  # what could be read was fine; what could not says so
    assert finding.headline == "data quality: feature store up; could not read the feature metrics"
    assert "CloudWatch could not be read" in "\n".join(finding.lines)


async def test_a_service_without_data_quality_config_says_what_to_add() -> None:
    config = IncidentBotConfig.from_mapping({"services": {"scoring-api": {"models": ["incident-text"]}}})
    http = HttpxProbe()
    try:
        finding = await investigate(DataQualityInvestigation(Boto3CloudWatch(), http),
                                    scope(config.services["scoring-api"]))
    finally:
        await http.aclose()
    assert finding.verdict == Verdict.UNAVAILABLE and "Add `data_quality:`" in finding.lines[0]
