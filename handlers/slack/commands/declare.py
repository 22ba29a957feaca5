"""`/incident declare [P0|P1|P2|P3] <title>`: open an incident; with no title, a modal asks."""

from __future__ import annotations

from bot.config.severity import Severity
from bot.core import incidents
from bot.core.text import display_title, escape_mrkdwn
from bot.slack.errors import SlackError
from bot.slack.views import declare_modal
from handlers.services import Services
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    looks_like_severity,
    parse_severity,
    split_first,
)
from handlers.slack.context import Reply, Request, answer_within_budget, respond_later

DEFAULT_SEVERITY = Severity.P2


# `/incident declare security P1 <title>`: a security incident, confidential from the start
# (private channel, neutral announcement). Its channel cannot be made private later.
SECURITY_WORDS = frozenset({"security", "--security", "confidential"})


async def run(invocation: Invocation) -> None:
    confidential, args = split_security(invocation.args)
    severity, title = parse_declare_args(args)
    if confidential and not title:
        raise UsageError("Give the security incident a title: `declare security P1 <title>`.")
    if title:
        security_runbooks = invocation.services.config.security.runbooks
        runbook = (security_runbooks[0] if security_runbooks else None) if confidential else None
        if confidential and runbook is None:
            raise UsageError("No security runbook is configured (`security.runbooks`).")
        await answer_within_budget(
            invocation.ack, invocation.services, invocation.request,
            declare_incident(invocation.services, invocation.request, title=title, severity=severity,
                             runbook_class=runbook),
        )
        return
    if not invocation.request.trigger_id:
        raise UsageError("Give the incident a title.")
    await invocation.ack()
    # The trigger id is only good for 3 s, so the modal opens right after the ack.
    view = declare_modal(
        severity=severity, severity_names=invocation.services.severity_names,
        services=list(invocation.services.config.services), origin_channel=invocation.request.channel_id,
    )
    try:
        await invocation.services.gateway.open_view(invocation.request.trigger_id, view)
    except SlackError as exc:
        await respond_later(
            invocation.services, invocation.request,
            Reply(text=f"⚠️ Slack would not open the form ({exc}). Try `/incident declare P2 <title>` instead."),
        )


def split_security(args: str) -> tuple[bool, str]:
    """Whether the declaration starts with `security` (before or after the severity), and the rest."""
    first, rest = split_first(args)
    if first.lower() in SECURITY_WORDS:
        return True, rest
    second, after = split_first(rest)
    if first and looks_like_severity(first) and second.lower() in SECURITY_WORDS:
        return True, f"{first} {after}"
    return False, args


def parse_declare_args(args: str) -> tuple[Severity, str]:
    first, rest = split_first(args)
    if first and looks_like_severity(first):
        return parse_severity(first), rest.strip()
    return DEFAULT_SEVERITY, args.strip()


async def declare_incident(
    services: Services, request: Request, *, title: str, severity: Severity, service: str | None = None,
    runbook_class: str | None = None,
) -> Reply:
    actor = request.user_id
    incident = await services.core.change(
        actor=actor, action="incident.declare", incident_id=None,
        apply=lambda session, now: incidents.declare(
            session, title=title, severity=severity, declared_by=actor, now=now, service=service,
            runbook_class=runbook_class,
        ),
        detail={"severity": severity.value, "service": service,
                **({"runbook": runbook_class} if runbook_class else {})},
    )
    return Reply(
        text=(
            f"🚨 Declared {severity.value} incident #{incident.number}: "
            f"*{escape_mrkdwn(display_title(incident.title))}*. "
            "Its channel is being set up, and you'll be invited."
        )
    )


SUBCOMMAND = Subcommand(
    name="declare", usage="declare [security] [P0|P1|P2|P3] <title>",
    summary="Open an incident with its own channel. Without a title, a form opens.", run=run,
    aliases=("new", "open"),
)
