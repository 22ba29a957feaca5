"""The sandbox's scenario menu: realistic deliveries through the bot's real webhook endpoints.

Each scenario does what production would: CloudWatch alarms arrive as EventBridge API
destination calls with the connection's token, PagerDuty incidents as signed Webhooks v3
deliveries from the local PagerDuty, and the "bad model version" is a real deploy on the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
from sqlalchemy import select

from demo.config import DEMO_PAGERDUTY_SERVICE, DEMO_PROVIDERS, demo_config
from sandbox.ai_providers import ProviderOrchestrator
from sandbox.aws_seed import (
    ACCURACY_AFTER_MODEL,
    DATA_QUALITY_SERVICE,
    DUMMY_CREDENTIALS,
    FEATURE_DIMENSION,
    FEATURE_NAMESPACE,
    FEATURES,
    FRESHNESS_METRIC,
    LATENCY_AFTER_DEPLOY,
    SECURITY_KEY_USER,
    SECURITY_SECRET_NAME,
    STALE_FEATURE,
    MetricStep,
)
from sandbox.budget_seed import fast_burn, seed_budget
from sandbox.cloudwatch_events import AlarmChange, alarm_event, deliver
from sandbox.pagerduty_api import PagerDutySandbox
from sandbox.web import Scenario
from storage.db import create_engine_for, session_factory
from storage.models import Incident, WebhookDelivery

TEXT_MODEL = "incident-text"
STORM_ALERTS = 120
# PagerDuty's own priority for the outage: P1 is its highest, which pagerduty.priority_map turns into
# the bot's P0, so the menu names both or a person reads "P1" and finds a P0 incident.
OUTAGE_PRIORITY = "P1"
# The provider orchestrator's error alarms (seed 003): one service, many alarms at once.
STORM_ALARMS = ("ai-orchestrator-provider-errors", "ai-orchestrator-error-rate", "ai-orchestrator-5xx",
                "ai-orchestrator-openai-errors", "ai-orchestrator-anthropic-errors", "ai-orchestrator-timeouts")


# How long the outage scenario's provider stays down: time to fail over, then to restore.
PROVIDER_RECOVERS_AFTER_S = 120.0


class ScenarioError(Exception):
    """A scenario could not start; the message is shown in the sandbox."""


@dataclass(frozen=True)
class Targets:
    """Where the scenarios deliver: the bot, the worker (if it runs) and the local PagerDuty."""

    bot_url: str
    eventbridge_token: str
    worker_url: str | None
    pagerduty: PagerDutySandbox
    providers: ProviderOrchestrator | None = None  # seed 003's stand-in orchestrator
    aws_url: str | None = None  # the local AWS stand-in, where the fast-burn scenario puts its counters
    # The bot's database: the run's note says what the deliveries did, once the bot applied them.
    database_url: str | None = None


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30)


async def where_it_went(targets: Targets, answers: list[httpx.Response]) -> str:
    """What the bot did with the scenario's deliveries, for the run's note, once it applied them
    (it answers a delivery once it is stored, and applies it just after).

    Alerts for one service within the group window join the incident already open for it, so a
    scenario run soon after another for the same service adds to that incident; the note says
    so, or a person would look for a channel that was never meant to appear.
    """
    stored: list[int] = []
    statuses: set[str] = set()
    for answer in answers:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        statuses.add(str(body.get("status") or f"HTTP {answer.status_code}"))
        if isinstance(body.get("delivery"), int):
            stored.append(body["delivery"])
    outcomes = await applied(targets.database_url, stored) if targets.database_url and stored else []
    opened = [n for status, n in outcomes if status == "opened" and n is not None]
    joined = [n for status, n in outcomes if status in ("attached", "updated", "no_change") and n is not None]
    alerts = "alert" if len(answers) == 1 else f"{len(answers)} alerts"
    if opened:
        more = f" from {alerts}: the first opened it and {len(joined)} joined it" if joined else ""
        return f"Opened incident #{opened[0]}{more}. Its channel is in the list."
    if joined:
        return (f"The {alerts} joined incident #{joined[0]}, already open for this service: alerts for one "
                f"service within the group window become one incident. Resolve #{joined[0]} to see this "
                "scenario open an incident of its own.")
    return f"The bot answered: {', '.join(sorted(statuses | {status for status, _ in outcomes}))}."


async def applied(database_url: str, deliveries: list[int], timeout: float = 20.0) -> list[tuple[str, int | None]]:
    """Each stored delivery's outcome and incident number, in order, once the bot applied them
    all (or as they stand after ``timeout``)."""
    engine = create_engine_for(database_url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with session_factory(engine)() as session:
                rows = (await session.execute(
                    select(WebhookDelivery.outcome, Incident.number)
                    .outerjoin(Incident, Incident.id == WebhookDelivery.incident_id)
                    .where(WebhookDelivery.id.in_(deliveries)).order_by(WebhookDelivery.id))).all()
            outcomes: list[tuple[str, int | None]] = [(str(outcome), number) for outcome, number in rows]
            if all(outcome != "pending" for outcome, _ in outcomes) or asyncio.get_running_loop().time() > deadline:
                return outcomes
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def latency_after_deploy(targets: Targets) -> str:
    """Seed 000: P95 latency stepped up 40 minutes ago, when multimodal-api:1.6.0 went out."""
    change = AlarmChange(alarm_name="multimodal-api-p95-latency", metric=LATENCY_AFTER_DEPLOY, threshold=1.0,
                         description="P95 latency above 1 s for 5 minutes (SLO: P95 < 600 ms)")
    async with _client() as http:
        answer = await deliver(http, targets.bot_url, targets.eventbridge_token, alarm_event(change))
    return await where_it_went(targets, [answer])


async def weakest_version(http: httpx.AsyncClient, worker_url: str) -> tuple[str, bool]:
    """The text model's version with the lowest held-out accuracy, and whether it serves already
    (a second run of the scenario finds the bad release still out, until someone rolls it back)."""
    info = (await http.get(f"{worker_url}/v1/models/{TEXT_MODEL}")).raise_for_status().json()
    versions = [v for v in info.get("versions", []) if v.get("version")]
    if len(versions) < 2:
        raise ScenarioError("The registry has no second version of incident-text to deploy as the bad one; "
                            "`incident-bot demo` trains one on its first run.")
    weakest = min(versions, key=lambda v: float((v.get("metrics") or {}).get("accuracy") or 1.0))["version"]
    return str(weakest), weakest == info.get("version")


async def model_regression(targets: Targets) -> str:
    """Seed 001: a weaker incident-text version goes out, and the accuracy alarm fires."""
    async with _client() as http:
        if targets.worker_url is None:
            raise ScenarioError("The model worker is not running (no trained models); run `make models` first.")
        bad, serving = await weakest_version(http, targets.worker_url)
        if not serving:
            load = await http.post(f"{targets.worker_url}/v1/models/{TEXT_MODEL}/versions/{bad}:load",
                                   json={"actor": "deploy-pipeline"}, timeout=120)
            load.raise_for_status()
        change = AlarmChange(alarm_name="multimodal-api-accuracy-below-85", metric=ACCURACY_AFTER_MODEL,
                             threshold=0.85, comparison="LessThanThreshold",
                             description=f"7-day classification accuracy below 85% since {TEXT_MODEL} {bad} "
                                         "was deployed (auto-apply is on)")
        answer = await deliver(http, targets.bot_url, targets.eventbridge_token, alarm_event(change))
    deployed = f"{TEXT_MODEL} {bad} was still serving" if serving else f"Deployed {TEXT_MODEL} {bad} on the worker"
    return f"{deployed}. " + await where_it_went(targets, [answer])


async def pagerduty_outage(targets: Targets) -> str:
    """A PagerDuty incident for the scoring API: health checks failing everywhere."""
    stamp = datetime.now(UTC).strftime("%H%M%S")
    incident = targets.pagerduty.add_incident(
        f"PDEMO{stamp}", title="scoring-api is down: every health check failing, 100% 503s",
        service_id=DEMO_PAGERDUTY_SERVICE, service_name="scoring-api", urgency="high", priority=OUTAGE_PRIORITY)
    response = await targets.pagerduty.emit_async("incident.triggered", incident["id"])
    if response.status_code >= 300:
        raise ScenarioError(f"the bot answered the PagerDuty webhook with HTTP {response.status_code}")
    return await where_it_went(targets, [response])


async def stale_feature(targets: Targets) -> str:
    """Seeds 002 and 004: one of scoring-api's input features stopped materializing hours ago, and
    its freshness alarm fires; the headline's Investigate menu has Data quality, which names it."""
    stalled = next(f.stalled_minutes_ago for f in FEATURES if f.name == STALE_FEATURE) or 0
    limit = 3600
    metric = MetricStep(FEATURE_NAMESPACE, FRESHNESS_METRIC,
                        {"ServiceName": DATA_QUALITY_SERVICE, FEATURE_DIMENSION: STALE_FEATURE},
                        before=600, after=stalled * 60, stepped_minutes_ago=stalled - limit // 60, unit="Seconds")
    change = AlarmChange(alarm_name=f"{DATA_QUALITY_SERVICE}-feature-freshness", metric=metric, threshold=limit,
                         description=f"Feature {STALE_FEATURE} not materialized for more than 1 h "
                                     "(seed 002: validate data freshness)")
    async with _client() as http:
        answer = await deliver(http, targets.bot_url, targets.eventbridge_token, alarm_event(change))
    return (await where_it_went(targets, [answer])
            + " On its headline, Investigate → Data quality names the stale feature.")


async def alert_storm(targets: Targets) -> str:
    """A burst of error alarms for one service: grouped into one incident, summarised, not posted one by one."""
    steps = [MetricStep("AI/Performance", "ProviderErrors", {"ServiceName": "ai-orchestrator"}, before=2, after=310,
                        stepped_minutes_ago=5, unit="Count")]
    gate = asyncio.Semaphore(16)

    async def one(http: httpx.AsyncClient, index: int) -> httpx.Response:
        metric: MetricStep = steps[0]
        change = AlarmChange(alarm_name=STORM_ALARMS[index % len(STORM_ALARMS)], metric=metric, threshold=50,
                             description="5xx responses above 50 a minute")
        async with gate:
            return await deliver(http, targets.bot_url, targets.eventbridge_token, alarm_event(change))

    async with _client() as http:
        return await where_it_went(targets, list(await asyncio.gather(*(one(http, i) for i in range(STORM_ALERTS)))))


async def provider_outage(targets: Targets) -> str:
    """Seed 003: the primary AI provider goes down; its error alarm fires. It comes back after a
    few minutes, so the failover and then the canary restore can both be tried."""
    if targets.providers is None:
        raise ScenarioError("The stand-in AI orchestrator is not running.")
    primary = DEMO_PROVIDERS[0]
    targets.providers.set_health(primary, 503, recover_after=PROVIDER_RECOVERS_AFTER_S)
    metric = MetricStep("AI/Performance", "ProviderErrors", {"ServiceName": "ai-orchestrator", "Provider": primary},
                        before=1, after=240, stepped_minutes_ago=3, unit="Count")
    change = AlarmChange(alarm_name=f"ai-orchestrator-{primary}-provider-outage", metric=metric, threshold=50,
                         description=f"{primary} provider outage: requests failing and timing out "
                                     "(seed 003: provider availability below 95%)")
    async with _client() as http:
        answer = await deliver(http, targets.bot_url, targets.eventbridge_token, alarm_event(change))
    return (await where_it_went(targets, [answer])
            + f" Diagnose finds {primary} down and offers Fail over…; {primary} recovers in "
            f"{PROVIDER_RECOVERS_AFTER_S // 60:g} minutes, then `/incident failover restore` brings the traffic back "
            "10% → 50% → 100%.")


async def budget_fast_burn(targets: Targets) -> str:
    """Seed 004: the scoring engine's 5xx counter jumps to 2.5% of requests, 25x the pace its
    monthly budget allows; no alarm is sent, the bot's own burn check finds it."""
    if targets.aws_url is None:
        raise ScenarioError("The local AWS stand-in is not running.")
    aws_url = targets.aws_url
    await asyncio.to_thread(lambda: seed_budget(aws_url, now=datetime.now(UTC), profile=fast_burn))
    every = demo_config().scaled(demo_config().error_budgets.check_every).total_seconds()
    return (f"scoring-api's request counters now show a fast burn. Within {every:g} s the burn check opens a P1 "
            "incident (or raises scoring-api's open one to P1); its headline shows the budget it spent and what is "
            "left this month.")


async def leaked_key(targets: Targets) -> str:
    """Seeds 002 and 003: GuardDuty sees the CI deployer's access key used from an unknown network.
    The alarm routes to the security runbook at once, so the incident is confidential from its first
    write: a private channel for the security group, a neutral line in #incidents."""
    if targets.aws_url is None:
        raise ScenarioError("The local AWS stand-in is not running.")
    key_id = await asyncio.to_thread(leaked_key_id, targets.aws_url)
    metric = MetricStep("IncidentBot/Security", "UnauthorizedApiCalls", {"ServiceName": "multimodal-api"},
                        before=0, after=37, stepped_minutes_ago=2, unit="Count")
    change = AlarmChange(alarm_name="multimodal-unauthorized-key-use", metric=metric, threshold=5,
                         description=f"GuardDuty: access key {key_id} of {SECURITY_KEY_USER} used from an unknown "
                                     "network (seeds 002, 003: unauthorized access, leaked credentials)")
    async with _client() as http:
        answer = await deliver(http, targets.bot_url, targets.eventbridge_token, alarm_event(change))
    return (await where_it_went(targets, [answer]) + " In its private channel: the checklist's Preserve evidence (or "
            "`/incident evidence`) copies logs, ECS and SSM state and the audit rows to S3 with SHA-256 hashes; "
            f"`/incident deactivate-key {SECURITY_KEY_USER} {key_id}` and `/incident rotate-secret "
            f"{SECURITY_SECRET_NAME}` wait for an approver (Vera, paged in as the compliance officer).")


def leaked_key_id(aws_url: str) -> str:
    iam = boto3.client("iam", endpoint_url=aws_url, region_name="us-east-1", **DUMMY_CREDENTIALS)
    keys = iam.list_access_keys(UserName=SECURITY_KEY_USER)["AccessKeyMetadata"]
    if not keys:
        raise ScenarioError(f"{SECURITY_KEY_USER} has no access key in the local AWS stand-in.")
    return str(keys[0]["AccessKeyId"])


def _outage_description() -> str:
    severity = demo_config().pagerduty.priority_map[OUTAGE_PRIORITY]
    return (f"PagerDuty pages scoring-api at its priority {OUTAGE_PRIORITY} (its highest) and sends its signed "
            f"webhook; the bot opens a {severity} incident (pagerduty.priority_map: {OUTAGE_PRIORITY} → {severity}).")


_SCENARIOS: tuple[tuple[str, str, str, Callable[[Targets], Any]], ...] = (
    ("latency-after-deploy", "P95 latency after a deploy (seed 000)",
     "A CloudWatch P95-latency alarm on multimodal-api, 40 minutes after the v1.6.0 deploy.", latency_after_deploy),
    ("model-regression", "Model regression with a bad model version (seed 001)",
     "A weaker incident-text version is deployed on the worker; the accuracy alarm fires.", model_regression),
    ("pagerduty-outage", "PagerDuty: complete outage", _outage_description(), pagerduty_outage),
    ("data-quality", "A stale feature (seeds 002, 004)",
     f"{DATA_QUALITY_SERVICE}'s feature freshness alarm: {STALE_FEATURE} stopped materializing hours ago. "
     "Investigate → Data quality reads every feature's freshness and null rate.", stale_feature),
    ("alert-storm", f"An alert storm ({STORM_ALERTS} alarms)",
     "ai-orchestrator's error alarms arrive at once: one incident, summarised in the channel.", alert_storm),
    ("provider-outage", "AI provider outage with failover (seed 003)",
     "ai-orchestrator's primary provider, openai, goes down. Diagnose checks every provider; Fail over… "
     "moves the traffic to a healthy backup and verifies it moved; once openai recovers, "
     "`/incident failover restore` brings it back in canary steps.", provider_outage),
    ("budget-fast-burn", "Error budget fast burn on the scoring engine (seed 004)",
     "scoring-api's 5xx share jumps to 25x the pace of its 99.9% monthly budget. No alarm: the bot's burn check "
     "reads the counters from CloudWatch and opens a P1 incident.", budget_fast_burn),
    ("leaked-key", "Leaked access key (security, seeds 002 and 003)",
     "GuardDuty flags the CI deployer's access key. The incident is confidential: a private channel for the "
     "security group, a neutral line in #incidents. Preserve evidence to S3, then deactivate the key and "
     "rotate the secret, each approved by a second person.", leaked_key),
)


def demo_scenarios(targets: Targets) -> list[Scenario]:
    def starter(run: Callable[[Targets], Any]) -> Callable[[], Any]:
        return lambda: run(targets)

    return [Scenario(name=name, title=title, description=description, run=starter(run))
            for name, title, description, run in _SCENARIOS]
