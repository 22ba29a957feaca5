"""Settings: read once from the environment (and the YAML file it names), then passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import IncidentBotConfig, load_config
from storage.db import DEFAULT_DATABASE_URL, parse_database_url


class Settings(BaseSettings):
    """Environment variables by their documented names; see README for each one's use.

    Secrets (and the database URL, which may carry a password) are left out of ``repr``, so a
    Settings object in a log line or a traceback gives none of them away.
    """

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True)

    slack_bot_token: str = Field(
        default="", repr=False, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token"),
        description="The Slack app's Bot User OAuth Token (xoxb-...), from the app's Install App page.",
    )
    slack_signing_secret: str = Field(
        default="", repr=False, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret"),
        description=(
            "The Slack app's Signing Secret (Basic Information): a request to /slack/events with a bad or stale "
            "signature gets 401."
        ),
    )
    slack_app_token: str = Field(
        default="", repr=False, validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token"),
        description=(
            "An app-level token (xapp-..., scope connections:write), needed only by `incident-bot serve "
            "--socket-mode`."
        ),
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", validation_alias=AliasChoices("SLACK_API_URL", "slack_api_url"),
        description="Slack's Web API; tests and the demo point it at their local Slack.",
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, repr=False, validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description=(
            "Where incidents are kept: sqlite:///path/to.db (the default, sqlite:///var/incident-bot.db, serves "
            "one replica) or postgresql://user:password@host:5432/db (any number of replicas). A secret because "
            "it may carry a password."
        ),
    )
    config_path: Path | None = Field(
        default=None, validation_alias=AliasChoices("INCIDENT_BOT_CONFIG", "config_path"),
        description="Path of the YAML configuration file (the keys below); unset: the built-in defaults.",
    )
    pagerduty_webhook_secrets: str = Field(
        default="", repr=False, validation_alias=AliasChoices("PAGERDUTY_WEBHOOK_SECRETS", "pagerduty_webhook_secrets"),
        description=(
            "Comma-separated signing secrets of your PagerDuty Webhooks v3 subscriptions (list the old and the "
            "new one during a rotation); unset: /webhooks/pagerduty refuses every delivery."
        ),
    )
    pagerduty_api_url: str = Field(
        default="https://api.pagerduty.com", validation_alias=AliasChoices("PAGERDUTY_API_URL", "pagerduty_api_url"),
        description=(
            "PagerDuty's REST API, for syncing acknowledgements and resolutions back and looking up on-call "
            "schedules."
        ),
    )
    pagerduty_api_token: str = Field(
        default="", repr=False, validation_alias=AliasChoices("PAGERDUTY_API_TOKEN", "pagerduty_api_token"),
        description=(
            "A PagerDuty REST API token; unset: nothing is synced back to PagerDuty and escalation levels cannot "
            "page schedules."
        ),
    )
    pagerduty_from_email: str = Field(
        default="", validation_alias=AliasChoices("PAGERDUTY_FROM_EMAIL", "pagerduty_from_email"),
        description="The email of a PagerDuty user, sent as the From header that PagerDuty requires on REST writes.",
    )
    aws_endpoint_url: str = Field(
        default="", validation_alias=AliasChoices("AWS_ENDPOINT_URL", "aws_endpoint_url"),
        description=(
            "Send every AWS call to this stand-in (moto, LocalStack) instead of AWS; leave unset in production."
        ),
    )
    sns_topic_arns: str = Field(
        default="", validation_alias=AliasChoices("SNS_TOPIC_ARNS", "sns_topic_arns"),
        description=(
            "Comma-separated ARNs of the SNS topics allowed to post CloudWatch alarms to /webhooks/cloudwatch; "
            "unset: every SNS message is refused (403)."
        ),
    )
    sns_certs_dir: str = Field(
        default="", validation_alias=AliasChoices("SNS_CERTS_DIR", "sns_certs_dir"),
        description=(
            "A folder of pinned SNS signing certificates, each named by the last path segment of its URL, read "
            "before any download (for installs without internet access)."
        ),
    )
    eventbridge_token: str = Field(
        default="", repr=False, validation_alias=AliasChoices("EVENTBRIDGE_TOKEN", "eventbridge_token"),
        description=(
            "The shared secret an EventBridge API destination sends in the X-Incident-Bot-Token header; unset: "
            "EventBridge deliveries are refused."
        ),
    )
    worker_url: str = Field(
        default="http://127.0.0.1:9001", validation_alias=AliasChoices("WORKER_URL", "worker_url"),
        description="The model worker's base URL: Diagnose, the runbook choice and model rollbacks call it.",
    )
    # A folder of the team's own runbook YAML files, laid over the bundled library.
    runbooks_dir: str = Field(
        default="", validation_alias=AliasChoices("RUNBOOKS_DIR", "runbooks_dir"),
        description="A folder of your own runbook YAML files, laid over the bundled library (docs/runbooks.md).",
    )

    # Tuning knobs with safe defaults; tests and the demo shorten them.
    slack_post_interval: float = Field(
        default=1.0, ge=0, validation_alias=AliasChoices("SLACK_POST_INTERVAL", "slack_post_interval"),
        description="Seconds between two posts to the same Slack channel (Slack's own pace is about one a second).",
    )
    outbox_poll_interval: float = Field(
        default=1.0, gt=0, validation_alias=AliasChoices("OUTBOX_POLL_INTERVAL", "outbox_poll_interval"),
        description="Seconds between looks for Slack and PagerDuty writes waiting to be delivered.",
    )
    action_sweep_interval: float = Field(
        default=15.0, gt=0, validation_alias=AliasChoices("ACTION_SWEEP_INTERVAL", "action_sweep_interval"),
        description="Seconds between checks for expired approvals and for action runs cut off by a restart.",
    )
    outbox_retry_base: float = Field(
        default=1.0, gt=0, validation_alias=AliasChoices("OUTBOX_RETRY_BASE", "outbox_retry_base"),
        description="Seconds before the first retry of a failed Slack write; each later retry waits longer.",
    )
    # Back-pressure: past this many acknowledged deliveries not yet applied (across replicas),
    # webhooks answer 503 with Retry-After, and the senders keep them, rather than a 2xx the bot
    # could only keep late.
    inbox_max_backlog: int = Field(
        default=5000, ge=1, le=1_000_000,
        validation_alias=AliasChoices("INBOX_MAX_BACKLOG", "inbox_max_backlog"),
        description=(
            "How many acknowledged webhook deliveries may wait to be applied before new ones are answered 503 "
            "with Retry-After (the senders retry them later)."
        ),
    )
    # How long a claimed outbox row stays with the process that claimed it. A process killed
    # mid-write holds its rows this long before another (or its own restart) retries them, so
    # it must outlast one Slack call with its retries, and no more than that is needed.
    outbox_lease: float = Field(
        default=120.0, ge=5, validation_alias=AliasChoices("OUTBOX_LEASE", "outbox_lease"),
        description=(
            "Seconds a Slack write claimed by one process stays its own: after a crash it is retried once this "
            "runs out."
        ),
    )
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com",
        validation_alias=AliasChoices("PAGERDUTY_EVENTS_URL", "pagerduty_events_url"),
        description="PagerDuty's Events API v2, for the pages of escalation levels that have a routing key.",
    )
    # Multiplies every Diagnose step's time limit: for slow or shared machines.
    diagnose_timeout_factor: float = Field(
        default=1.0, gt=0, validation_alias=AliasChoices("DIAGNOSE_TIMEOUT_FACTOR", "diagnose_timeout_factor"),
        description="Multiplies the time limit of every Diagnose step and investigation, for slow or shared machines.",
    )
    # How often the scheduler looks for escalation and reminder timers that fell due.
    timer_tick_interval: float = Field(
        default=1.0, gt=0, validation_alias=AliasChoices("TIMER_TICK_INTERVAL", "timer_tick_interval"),
        description="Seconds between looks for escalation and reminder timers that fell due.",
    )
    headline_refresh_interval: float = Field(
        default=300.0, gt=0, validation_alias=AliasChoices("HEADLINE_REFRESH_INTERVAL", "headline_refresh_interval"),
        description="Seconds between refreshes of open incidents' headlines, so their running duration stays true.",
    )
    migrate_on_start: bool = Field(
        default=True, validation_alias=AliasChoices("MIGRATE_ON_START", "migrate_on_start"),
        description=(
            "Whether `incident-bot serve` upgrades the database schema before it starts; set false on replicas "
            "when a migration Job runs `incident-bot migrate` first."
        ),
    )

    _config: IncidentBotConfig = PrivateAttr(default_factory=IncidentBotConfig)

    @field_validator("database_url")
    @classmethod
    def _database_url_is_usable(cls, value: str) -> str:
        parse_database_url(value)
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        # slack_sdk joins method names onto the base URL; without the slash it drops "api".
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _load_config_file(self) -> Settings:
        self._config = load_config(self.config_path)
        return self

    @property
    def config(self) -> IncidentBotConfig:
        return self._config

    def with_config(self, config: IncidentBotConfig) -> Settings:
        copy = self.model_copy()
        copy._config = config
        return copy

    @property
    def sns_topics(self) -> list[str]:
        return [t.strip() for t in self.sns_topic_arns.split(",") if t.strip()]

    @property
    def pagerduty_secrets(self) -> list[str]:
        return [s.strip() for s in self.pagerduty_webhook_secrets.split(",") if s.strip()]
