"""The bot's composition root: builds the parts from Settings, hands them to each other, and
starts and stops them with the FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from bot.config.errors import SettingsError
from bot.config.settings import Settings
from bot.core.actions.apply import Executor
from bot.core.actions.pipeline import ActionPipeline
from bot.core.actions.plans import Planner
from bot.core.actions.providers import ActionProviders
from bot.core.actions.rbac import Authorizer
from bot.core.background import BackgroundTasks
from bot.core.clock import Clock, utc_now
from bot.core.escalation import EscalationPolicy
from bot.core.evidence import EvidenceCollector
from bot.core.notice_queue import OutboxNoticePublisher
from bot.core.unit_of_work import Core
from bot.integrations.access_keys import Boto3AccessKeys
from bot.integrations.aws import aws_region
from bot.integrations.budget_metrics import CloudWatchEventCounts
from bot.integrations.cloudwatch import Boto3CloudWatch
from bot.integrations.ecs import Boto3Ecs
from bot.integrations.elb import Boto3TargetHealth
from bot.integrations.embedding import WorkerEmbedder
from bot.integrations.evidence import Boto3EvidenceStore, Boto3StateSnapshots
from bot.integrations.http_probe import HttpxProbe
from bot.integrations.logs import Boto3Logs
from bot.integrations.models import WorkerModelControl
from bot.integrations.pagerduty import PagerDutyEventsClient, PagerDutyRestClient
from bot.integrations.pagerduty_sync import PagerDutySync
from bot.integrations.paging import PagerDutyPaging
from bot.integrations.provider_admin import HttpxProviderAdmin
from bot.integrations.secrets import Boto3SecretStore
from bot.integrations.ssm import Boto3ParameterStore
from bot.integrations.status_page import HttpxStatusPage
from bot.integrations.worker import HttpWorkerClient
from bot.metrics import Metrics
from bot.outbox.dispatcher import DispatchPolicy, OutboxDispatcher
from bot.outbox.headline_refresh import keep_headlines_current
from bot.outbox.writers import outbox_writers
from bot.slack.blocks import service_action_buttons
from bot.slack.budget_writes import BudgetWrites
from bot.slack.checklist_writes import ChecklistWrites
from bot.slack.escalation_writes import EscalationWrites
from bot.slack.gateway import SlackSdkGateway, build_web_client
from bot.slack.notice_writes import NoticeWrites
from bot.slack.postmortem_writes import PostmortemWrites
from bot.slack.writes import SlackWorkspaceConfig, SlackWrites
from handlers.http import health
from handlers.jobs.action_sweep import sweep_actions
from handlers.jobs.budget_job import JOB_ID as BUDGET_JOB_ID
from handlers.jobs.budget_job import BudgetJob
from handlers.jobs.diagnose import Diagnoser
from handlers.jobs.fire_timers import TimerJob
from handlers.jobs.inbox_processor import InboxProcessor
from handlers.jobs.investigate import Investigator
from handlers.jobs.scheduler import TimerScheduler
from handlers.services import Services
from handlers.slack import route as slack_route
from handlers.slack.bolt_app import build_bolt_app
from handlers.slack.replay_guard import ReplayGuard, SharedReplays
from handlers.slack.request_gate import SlackRequestGate
from handlers.slack.route import SlackDoor
from handlers.webhooks.asgi import WebhookRoutes
from handlers.webhooks.inbox_writer import InboxState, InboxWriter
from handlers.webhooks.intake import Intake
from handlers.webhooks.routes import WebhookSettings, webhook_routes
from handlers.webhooks.sns_verify import HttpxCertFetcher, SnsVerifier
from observability.asgi import CorrelationMiddleware
from runbooks.diagnostics.suite import STEP_TIMEOUTS
from runbooks.engine.choosing import RunbookChooser
from runbooks.engine.errors import RunbookError
from runbooks.engine.loader import Library, load_library
from runbooks.engine.matching import ActionSteps
from runbooks.investigations.table import investigations
from storage.db import async_url, create_engine_for, create_sync_engine_for, is_sqlite, session_factory

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)
security_log = logging.getLogger("incident_bot.security")


@dataclass(frozen=True)
class AppOptions:
    socket_mode: bool = False
    clock: Clock = utc_now


def check_settings(settings: Settings, *, socket_mode: bool) -> None:
    missing = []
    if not settings.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN")
    if socket_mode and not settings.slack_app_token:
        missing.append("SLACK_APP_TOKEN (needed for --socket-mode)")
    if not socket_mode and not settings.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        raise SettingsError("missing settings: " + ", ".join(missing))


def runbook_library(settings: Settings) -> Library:
    """The bundled runbooks with the team's RUNBOOKS_DIR over them; a broken file stops the start."""
    try:
        return load_library(settings.runbooks_dir or None)
    except RunbookError as exc:
        raise SettingsError(
            f"RUNBOOKS_DIR has broken runbooks (check with `incident-bot runbooks lint`):\n{exc}"
        ) from exc


class IncidentBotApp(FastAPI):
    """FastAPI with two plain ASGI layers in front of its own middleware stack.

    Outermost, the correlation id: every request's logs carry one, and each request gets a line
    once answered. Then ``POST /webhooks/*``, answered before FastAPI's own middleware (error
    pages, telemetry, body limits) and routing, which together cost more than the verify, parse
    and append that a delivery needs before its 2xx; the webhook routes read their own body with
    its own cap and never raise past themselves. Everything else goes on to FastAPI.
    """

    def build_middleware_stack(self) -> ASGIApp:
        inner = WebhookRoutes(super().build_middleware_stack(), routes=lambda: webhook_routes(self.state.webhooks))
        return CorrelationMiddleware(inner, log_requests="all", logger="incident_bot.http")


def create_app(settings: Settings, options: AppOptions = AppOptions()) -> IncidentBotApp:
    check_settings(settings, socket_mode=options.socket_mode)
    config = settings.config
    library = runbook_library(settings)
    engine = create_engine_for(settings.database_url)
    sessions = session_factory(engine)
    metrics = Metrics()
    client = build_web_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    gateway = SlackSdkGateway(client, post_interval=settings.slack_post_interval)
    workspace = SlackWorkspaceConfig(
        announce_channel=config.channels.announce,
        oncall_users=tuple(config.oncall.users),
        oncall_usergroups=tuple(config.oncall.usergroups),
        severity_names={sev.value: policy.name for sev, policy in config.severities.items()},
        summary_every=config.alerts.summary_every,
        service_actions=service_action_buttons(config),
        security=config.security,
    )
    slack_writes = SlackWrites(sessions=sessions, gateway=gateway, workspace=workspace, clock=options.clock)
    pagerduty = _pagerduty_client(settings)
    escalation_writes = EscalationWrites(
        sessions=sessions, gateway=gateway, clock=options.clock, escalations_channel=config.channels.escalations,
        severity_names=workspace.severity_names,
        update_cadence={sev.value: policy.update_every for sev, policy in config.severities.items()},
        security=config.security,
        oncall=pagerduty,  # who PagerDuty schedules put on call, for levels that page schedules
    )
    worker = HttpWorkerClient(settings.worker_url)
    postmortem_writes = PostmortemWrites(sessions=sessions, gateway=gateway, clock=options.clock, config=config,
                                         embedder=WorkerEmbedder(worker))
    diagnose_models = Diagnoser.guess_model_names(config)
    chooser = RunbookChooser(sessions=sessions, clock=options.clock, library=library, classifier=worker,
                             policy=config.runbooks, text_model=diagnose_models.text)
    checklist_writes = ChecklistWrites(sessions=sessions, gateway=gateway, clock=options.clock, library=library,
                                       chooser=chooser, config=config, region=aws_region())
    pagerduty_sync = PagerDutySync(sessions=sessions, client=pagerduty, clock=options.clock)
    pagerduty_events = PagerDutyEventsClient(settings.pagerduty_events_url)
    paging = PagerDutyPaging(sessions=sessions, sender=pagerduty_events, clock=options.clock)

    status_page = HttpxStatusPage()  # approved customer notices (seeds 002 and 003), from the outbox
    # The status page tokens are named in the config and read from the environment once, here.
    notice_writes = NoticeWrites(sessions=sessions, gateway=gateway, clock=options.clock, config=config,
                                 models=WorkerModelControl(worker), status_page=status_page, environ=dict(os.environ))
    writers = outbox_writers(slack=slack_writes, escalations=escalation_writes, postmortems=postmortem_writes,
                             checklists=checklist_writes, pagerduty_status=pagerduty_sync, paging=paging,
                             budgets=BudgetWrites(gateway=gateway), notices=notice_writes)
    dispatcher = OutboxDispatcher(
        sessions=sessions,
        perform=writers.perform,
        clock=options.clock,
        metrics=metrics,
        policy=DispatchPolicy(poll_interval=settings.outbox_poll_interval, retry_base=settings.outbox_retry_base,
                              lease=settings.outbox_lease),
    )
    core = Core(sessions=sessions, clock=options.clock, outbox_ready=dispatcher.wake)
    # Webhook deliveries: appended (group commit) before the 2xx, applied after it.
    inbox_state = InboxState(max_backlog=settings.inbox_max_backlog)
    metrics.inbox_backlog.set_function(lambda: inbox_state.pending)
    metrics.inbox_oldest_age.set_function(lambda: inbox_state.oldest_age)
    inbox_processor = InboxProcessor(
        core=core, config=config, metrics=metrics, state=inbox_state,
        # A pass holds SQLite's one writer: short, so appends and people's commands wait little.
        pass_seconds=0.025 if is_sqlite(async_url(settings.database_url)) else 0.1,
        poll_interval=settings.outbox_poll_interval)
    # The appends get a synchronous connection of their own, used from a thread of their own,
    # which waits for SQLite's write lock its own way (no busy timeout).
    inbox_writer = InboxWriter(engine=create_sync_engine_for(settings.database_url, sqlite_busy_timeout_ms=0),
                               clock=options.clock,
                               metrics=metrics, state=inbox_state, appended=inbox_processor.wake)
    inbox_processor.give_way_to(lambda: inbox_writer.arrivals)
    escalation = EscalationPolicy(config)
    timer_scheduler = TimerScheduler(TimerJob(core=core, policy=escalation), interval=settings.timer_tick_interval)
    # Seed 004's burn check and daily digest: timers of no incident, fired by their own job.
    budget_scheduler = TimerScheduler(
        BudgetJob(core=core, config=config,
                  counts=CloudWatchEventCounts(endpoint_url=settings.aws_endpoint_url or None)),
        interval=settings.timer_tick_interval, job_id=BUDGET_JOB_ID)
    http_probe = HttpxProbe()  # reads of the services' own pages: a feature store's health, a /stats page
    provider_admin = HttpxProviderAdmin()  # an AI orchestrator's routing API (seed 003's failover)
    action_providers = ActionProviders(
        ecs=Boto3Ecs(endpoint_url=settings.aws_endpoint_url or None),
        parameters=Boto3ParameterStore(endpoint_url=settings.aws_endpoint_url or None),
        models=WorkerModelControl(worker),
        probe=http_probe,
        metrics=Boto3CloudWatch(endpoint_url=settings.aws_endpoint_url or None),
        provider_admin=provider_admin,
        secrets=Boto3SecretStore(endpoint_url=settings.aws_endpoint_url or None),
        access_keys=Boto3AccessKeys(endpoint_url=settings.aws_endpoint_url or None),
        notices=OutboxNoticePublisher(core=core, communication=config.communication),
    )
    actions = ActionPipeline(
        core=core, config=config, planner=Planner(config=config, providers=action_providers),
        executor=Executor(config=config, providers=action_providers),
        authorizer=Authorizer(rbac=config.rbac, directory=gateway), runbooks=ActionSteps(library),
    )
    diagnoser = Diagnoser(core=core, config=config, gateway=gateway, worker=worker, probe=http_probe,
                          cloudwatch=Boto3CloudWatch(endpoint_url=settings.aws_endpoint_url or None),
                          timeouts={step: limit * settings.diagnose_timeout_factor
                                    for step, limit in STEP_TIMEOUTS.items()})
    aws_endpoint = settings.aws_endpoint_url or None
    investigator = Investigator(core=core, config=config, gateway=gateway,
                                investigations=investigations(logs=Boto3Logs(endpoint_url=aws_endpoint),
                                                              ecs=Boto3Ecs(endpoint_url=aws_endpoint),
                                                              targets=Boto3TargetHealth(endpoint_url=aws_endpoint),
                                                              worker=worker, sessions=sessions,
                                                              metrics=Boto3CloudWatch(endpoint_url=aws_endpoint),
                                                              http=http_probe),
                                timeout_factor=settings.diagnose_timeout_factor)
    services = Services(core=core, gateway=gateway, config=config, metrics=metrics, actions=actions,
                        action_providers=action_providers, diagnoser=diagnoser, escalation=escalation,
                        runbooks=library, investigator=investigator,
                        evidence=EvidenceCollector(core=core, config=config, authorizer=actions.authorizer,
                                                   store=Boto3EvidenceStore(endpoint_url=aws_endpoint),
                                                   snapshots=Boto3StateSnapshots(endpoint_url=aws_endpoint),
                                                   logs=Boto3Logs(endpoint_url=aws_endpoint)))
    # Bolt's own client carries no token: the authorize function hands it one per request.
    bolt_client = AsyncWebClient(base_url=settings.slack_api_url)
    bolt = build_bolt_app(settings, client=bolt_client, services=services)
    slack_handler = AsyncSlackRequestHandler(bolt)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            # Alembic loads only here: replicas deployed with MIGRATE_ON_START=false (a migration
            # Job runs it) never hold its few megabytes.
            from storage.migrate import upgrade_to_head_async

            await upgrade_to_head_async(settings.database_url)
        delivery = asyncio.create_task(dispatcher.run(), name="slack-outbox")
        inbox_writer.start()
        inbox_processor.start()
        loops = BackgroundTasks()
        loops.spawn(keep_headlines_current(core=core, interval=settings.headline_refresh_interval),
                    name="headline-refresh")
        loops.spawn(sweep_actions(actions=actions, interval=settings.action_sweep_interval), name="action-sweep")
        timer_scheduler.start()
        budget_scheduler.start()
        socket = await _start_socket_mode(bolt, settings) if options.socket_mode else None
        try:
            yield
        finally:
            if socket is not None:
                await socket.close_async()
            # The sweep stops before the pipeline closes, so it cannot mark a run this
            # shutdown is about to cut off.
            await loops.aclose()
            # Appends still waiting are answered 503 (their senders retry); what was appended
            # and not yet applied stays pending for the next start, on this or another replica.
            await inbox_writer.aclose()
            await inbox_processor.aclose()
            await timer_scheduler.stop()
            await budget_scheduler.stop()
            # A run cut off here is marked interrupted by the next sweep, on this or another replica.
            await actions.aclose()
            await diagnoser.aclose()
            await investigator.aclose()
            # The outbox stops before the clients its writes use (the worker, the status page) close.
            dispatcher.stop()
            await delivery
            await http_probe.aclose()
            await provider_admin.aclose()
            await status_page.aclose()
            await worker.aclose()
            if pagerduty is not None:
                await pagerduty.aclose()
            await pagerduty_events.aclose()
            await engine.dispose()

    app = IncidentBotApp(title="incident-bot", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.dispatcher = dispatcher
    app.state.outbox_writers = writers
    app.state.inbox = inbox_state
    app.state.inbox_processor = inbox_processor
    app.state.webhooks = _webhook_settings(settings, intake=Intake(metrics=metrics, writer=inbox_writer))
    for route, trust in app.state.webhooks.senders().items():
        if trust.startswith("refused"):
            security_log.warning("webhooks: %s deliveries are %s", route, trust)
    app.include_router(health.router)
    app.state.slack_door = SlackDoor(gate=_slack_request_gate(settings, sessions), bolt=slack_handler)
    app.include_router(slack_route.router)
    return app


def _webhook_settings(settings: Settings, *, intake: Intake) -> WebhookSettings:
    sns_fetcher = HttpxCertFetcher()
    return WebhookSettings(
        intake=intake,
        pagerduty_secrets=tuple(settings.pagerduty_secrets),
        eventbridge_token=settings.eventbridge_token,
        sns_verifier=SnsVerifier(
            certs_dir=Path(settings.sns_certs_dir) if settings.sns_certs_dir else None,
            fetcher=sns_fetcher,
            allowed_topics=frozenset(settings.sns_topics),
        ),
        sns_fetcher=sns_fetcher,
        sns_extra_origins=frozenset(o for o in [_origin(settings.aws_endpoint_url)] if o),
    )


def _slack_request_gate(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> SlackRequestGate:
    """The one signature check for HTTP deliveries (Bolt's own is switched off), with the replay
    and nesting checks: see handlers/slack/request_gate.py."""
    return SlackRequestGate(
        verifier=SignatureVerifier(settings.slack_signing_secret) if settings.slack_signing_secret else None,
        replays=ReplayGuard(),
        # Only PostgreSQL can be shared by replicas; a SQLite bot is one process, and its memory is enough.
        shared=None if is_sqlite(async_url(settings.database_url)) else SharedReplays(sessions),
    )


def _pagerduty_client(settings: Settings) -> PagerDutyRestClient | None:
    if not settings.pagerduty_api_token:
        return None
    return PagerDutyRestClient(
        base_url=settings.pagerduty_api_url, token=settings.pagerduty_api_token,
        from_email=settings.pagerduty_from_email,
    )


def _origin(url: str) -> str | None:
    """scheme://host[:port] of AWS_ENDPOINT_URL, the local AWS stand-in SNS may confirm through."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


async def _start_socket_mode(bolt: AsyncApp, settings: Settings) -> AsyncSocketModeHandler:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)
    await handler.connect_async()
    log.info("connected to Slack over Socket Mode")
    return handler
