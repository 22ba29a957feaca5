"""POST /webhooks/pagerduty, /webhooks/cloudwatch (SNS) and /webhooks/eventbridge.

Each route verifies, parses and hands the alert to the durable intake; every refusal is a
clear 4xx, every database trouble a 503, and nothing answers 2xx before it is committed. They are
served as plain ASGI in front of the web framework (``asgi.py``): in a storm, its routing would
cost more than the routes themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.signals import Source
from handlers.webhooks.asgi import Answer, Incoming, Route
from handlers.webhooks.cloudwatch import (
    alarm_signal_from_eventbridge,
    alarm_signal_from_sns,
    check_eventbridge_token,
    parse_sns_envelope,
)
from handlers.webhooks.errors import WebhookError
from handlers.webhooks.intake import Intake, accept, refuse
from handlers.webhooks.pagerduty import (
    parse_pagerduty_webhook,
    verify_pagerduty_signature,
)
from handlers.webhooks.sns_verify import CertFetcher, SnsVerifier, confirm_subscription


@dataclass(frozen=True)
class WebhookSettings:
    intake: Intake
    pagerduty_secrets: tuple[str, ...]
    eventbridge_token: str
    sns_verifier: SnsVerifier
    sns_fetcher: CertFetcher
    # Origins besides SNS's own that may appear in a SubscribeURL: a local AWS stand-in.
    sns_extra_origins: frozenset[str]

    def senders(self) -> dict[str, str]:
        """Which senders each route believes, in words, for /readyz and the start-up log.

        A route with nothing configured believes nobody: its deliveries are refused.
        """
        topics = len(self.sns_verifier.trusted_topics)
        secrets = len([secret for secret in self.pagerduty_secrets if secret])
        return {
            "pagerduty": (f"{secrets} signing secret{'s' if secrets != 1 else ''} configured" if secrets else
                          "refused: PAGERDUTY_WEBHOOK_SECRETS is unset"),
            "cloudwatch_sns": (f"{topics} topic{'s' if topics != 1 else ''} trusted" if topics else
                               "refused: SNS_TOPIC_ARNS is unset, so no SNS topic is trusted"),
            "eventbridge": ("token configured" if self.eventbridge_token else
                            "refused: EVENTBRIDGE_TOKEN is unset"),
        }


def webhook_routes(hooks: WebhookSettings) -> dict[str, Route]:
    """The table ``WebhookRoutes`` answers from: path to route."""
    async def pagerduty(incoming: Incoming) -> Answer:
        try:
            body = await incoming.body()
            verify_pagerduty_signature(body, incoming.header("x-pagerduty-signature"), hooks.pagerduty_secrets)
            signal = parse_pagerduty_webhook(body, webhook_id=incoming.header("x-webhook-id"))
            # Inside the try: a replay is only known for one once the inbox has been asked.
            return await accept(hooks.intake, signal, body)
        except WebhookError as exc:
            return refuse(exc, source=Source.PAGERDUTY, client=incoming.client, metrics=hooks.intake.metrics)

    async def cloudwatch(incoming: Incoming) -> Answer:
        try:
            body = await incoming.body()
            envelope = parse_sns_envelope(body)
            await hooks.sns_verifier.verify(envelope)
            if envelope["Type"] == "SubscriptionConfirmation":
                await confirm_subscription(envelope, hooks.sns_fetcher, hooks.sns_extra_origins)
            signal = alarm_signal_from_sns(envelope)
        except WebhookError as exc:
            return refuse(exc, source=Source.CLOUDWATCH, client=incoming.client, metrics=hooks.intake.metrics)
        return await accept(hooks.intake, signal, body)

    async def eventbridge(incoming: Incoming) -> Answer:
        try:
            check_eventbridge_token(incoming.header("x-incident-bot-token"), hooks.eventbridge_token)
            body = await incoming.body()
            signal = alarm_signal_from_eventbridge(body)
        except WebhookError as exc:
            return refuse(exc, source=Source.EVENTBRIDGE, client=incoming.client, metrics=hooks.intake.metrics)
        return await accept(hooks.intake, signal, body)

    return {"/webhooks/pagerduty": pagerduty, "/webhooks/cloudwatch": cloudwatch,
            "/webhooks/eventbridge": eventbridge}
