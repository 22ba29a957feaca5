"""POST /webhooks/pagerduty, /webhooks/cloudwatch (SNS) and /webhooks/eventbridge.

Each endpoint verifies, parses and hands the alert to the durable intake; every refusal is a
clear 4xx, every database trouble a 503, and nothing answers 2xx before it is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.core.signals import Source
from handlers.webhooks.cloudwatch import (
    alarm_signal_from_eventbridge,
    alarm_signal_from_sns,
    check_eventbridge_token,
    parse_sns_envelope,
)
from handlers.webhooks.errors import WebhookError
from handlers.webhooks.intake import Intake, accept, read_body, refuse
from handlers.webhooks.pagerduty import (
    parse_pagerduty_webhook,
    verify_pagerduty_signature,
)
from handlers.webhooks.sns_verify import CertFetcher, SnsVerifier, confirm_subscription

router = APIRouter(prefix="/webhooks")


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


def _settings(request: Request) -> WebhookSettings:
    return request.app.state.webhooks


@router.post("/pagerduty")
async def pagerduty(request: Request) -> JSONResponse:
    hooks = _settings(request)
    try:
        body = await read_body(request)
        verify_pagerduty_signature(body, request.headers.get("x-pagerduty-signature"), hooks.pagerduty_secrets)
        signal = parse_pagerduty_webhook(body, webhook_id=request.headers.get("x-webhook-id"))
        # Inside the try: a replay is only known for one once the inbox has been asked.
        return await accept(hooks.intake, signal, body)
    except WebhookError as exc:
        return refuse(exc, source=Source.PAGERDUTY, request=request, metrics=hooks.intake.metrics)


@router.post("/cloudwatch")
async def cloudwatch(request: Request) -> JSONResponse:
    hooks = _settings(request)
    try:
        body = await read_body(request)
        envelope = parse_sns_envelope(body)
        await hooks.sns_verifier.verify(envelope)
        if envelope["Type"] == "SubscriptionConfirmation":
            await confirm_subscription(envelope, hooks.sns_fetcher, hooks.sns_extra_origins)
        signal = alarm_signal_from_sns(envelope)
    except WebhookError as exc:
        return refuse(exc, source=Source.CLOUDWATCH, request=request, metrics=hooks.intake.metrics)
    return await accept(hooks.intake, signal, body)


@router.post("/eventbridge")
async def eventbridge(request: Request) -> JSONResponse:
    hooks = _settings(request)
    try:
        check_eventbridge_token(request.headers.get("x-incident-bot-token"), hooks.eventbridge_token)
        body = await read_body(request)
        signal = alarm_signal_from_eventbridge(body)
    except WebhookError as exc:
        return refuse(exc, source=Source.EVENTBRIDGE, request=request, metrics=hooks.intake.metrics)
    return await accept(hooks.intake, signal, body)
