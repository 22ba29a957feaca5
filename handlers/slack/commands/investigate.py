"""`/incident investigate [kind] [correlation-id]`: run one read-only investigation from the channel.

No kind (or one the bot does not know, or one this service is not configured for) lists what
this incident's service offers and how to ask for it. `logs <id>` searches the incident's logs
for a correlation id. The finding posts in the channel, as from the headline's Investigate menu.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.text import escape_mrkdwn, truncate
from bot.slack.blocks import context, section
from handlers.slack.commands.base import COMMAND, Invocation, Subcommand, UsageError, channel_incident
from handlers.slack.context import Reply, answer_within_budget
from runbooks.investigations.base import InvestigationKind
from runbooks.investigations.logs import valid_correlation_id
from storage.models import Incident

USAGE = "investigate [kind] [correlation-id]"
# The one investigation that can search for a request; the others take no argument.
SEARCHES_CORRELATION = InvestigationKind.LOGS


@dataclass(frozen=True)
class Asked:
    kind: InvestigationKind | None = None  # None: list what is offered
    correlation_id: str | None = None
    unknown: str | None = None  # the word that was not a kind, to say so above the list


def parse(args: str) -> Asked:
    """What was asked for; a malformed ask is a ``UsageError`` that says what is wrong."""
    words = args.split()
    if not words:
        return Asked()
    try:
        kind = InvestigationKind(words[0].lower().replace("-", "_"))
    except ValueError:
        return Asked(unknown=words[0])
    if len(words) > 2:
        raise UsageError("Give a kind and at most one correlation id.")
    if len(words) == 1:
        return Asked(kind=kind)
    if kind != SEARCHES_CORRELATION:
        raise UsageError(f"Only `{SEARCHES_CORRELATION.value}` searches by correlation id: "
                         f"`{COMMAND} investigate {SEARCHES_CORRELATION.value} <correlation-id>`.")
    if not valid_correlation_id(words[1]):
        raise UsageError("That is not a correlation id the bot can search: one word of up to 128 letters, "
                         "digits and `. _ : -`.")
    return Asked(kind=kind, correlation_id=words[1])


def offered_reply(incident: Incident, service: str, offered: tuple[InvestigationKind, ...], *,
                  problem: str = "") -> Reply:
    """The investigations this incident's service offers, each with how to call it."""
    intro = f"🔎 *Investigations for `{escape_mrkdwn(service)}`* (incident #{incident.number})"
    if not offered:
        lines = [f"{escape_mrkdwn(service)} is not configured for any investigation "
                 "(see docs/configuration.md, Investigations)."]
    else:
        lines = [f"• `{COMMAND} investigate {kind.value}"
                 + (" [correlation-id]" if kind == SEARCHES_CORRELATION else "")
                 + f"`  {escape_mrkdwn(kind.label)}" for kind in offered]
    text = "\n".join(([problem] if problem else []) + [intro, *lines])
    blocks = ([section(problem)] if problem else []) + [
        section("\n".join([intro, *lines])),
        context("Each only reads, and posts its finding in this channel and on the timeline."),
    ]
    return Reply(text=text, blocks=blocks)


async def run(invocation: Invocation) -> None:
    asked = parse(invocation.args)  # a usage error is answered by the router, before any work
    services = invocation.services

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        name, service = services.investigator.service_of(incident)
        offered = services.investigator.offered(service)
        if asked.unknown is not None:
            shown = escape_mrkdwn(truncate(asked.unknown, 40))
            return offered_reply(incident, name, offered, problem=f"⚠️ `{shown}` isn't an investigation.")
        if asked.kind is None:
            return offered_reply(incident, name, offered)
        if asked.kind not in offered:
            return offered_reply(incident, name, offered, problem=(
                f"⚠️ Service {escape_mrkdwn(name)} is not configured for the {asked.kind.value} investigation."))
        if not services.investigator.start(incident, asked.kind, actor=invocation.request.user_id,
                                           correlation_id=asked.correlation_id):
            return Reply(text=f"🔎 The {asked.kind.value} investigation of incident #{incident.number} is already "
                              "running; its finding will show in the channel.")
        doing = (f"Searching the logs for correlation id `{asked.correlation_id}`" if asked.correlation_id
                 else f"Running the {asked.kind.value} investigation")
        return Reply(text=f"🔎 {doing} (incident #{incident.number}); the finding posts in the channel.")

    await answer_within_budget(invocation.ack, services, invocation.request, work())


SUBCOMMAND = Subcommand(name="investigate", usage=USAGE, run=run,
                        summary="Run a read-only investigation (logs, tasks, targets…); "
                                "`logs <correlation-id>` finds one request's lines.")
