"""`/incident notify <audience>`: draft a notice for an approval audience (the customer-facing
status page notice) and send it for a second person's approval."""

from __future__ import annotations

from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.notice_form import open_notice_form


async def run(invocation: Invocation) -> None:
    audience = invocation.args.strip()
    if not audience or " " in audience:
        raise UsageError("Name one audience, e.g. `/incident notify customers`.")
    await invocation.ack()
    await open_notice_form(invocation.services, invocation.request, audience=audience)


SUBCOMMAND = Subcommand(name="notify", usage="notify <audience>",
                        summary="Draft a notice for an approval audience (customers); a second person approves it.",
                        run=run)
