"""`/incident runbook [NAME]`: what runbook the incident follows and why; with NAME, switch to it."""

from __future__ import annotations

from bot.core import checklists
from bot.core.errors import InvalidInput
from bot.core.text import escape_mrkdwn
from bot.slack.checklist_blocks import runbook_overview
from handlers.slack.commands.base import Invocation, Subcommand, channel_incident
from handlers.slack.context import Reply, answer_within_budget


async def run(invocation: Invocation) -> None:
    services = invocation.services
    wanted = invocation.args.strip().lower()
    library = services.runbooks
    actor = invocation.request.user_id

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        if wanted:
            if library.get(wanted) is None:
                raise InvalidInput(f"There is no runbook `{escape_mrkdwn(wanted[:64])}`. Runbooks: "
                                 + ", ".join(f"`{n}`" for n in library.names()) + ".")
            await services.core.change(
                actor=actor, action="runbook.choose", incident_id=incident.id, detail={"runbook": wanted},
                apply=lambda session, now: checklists.choose_by_person(
                    session, incident_id=incident.id, runbook=wanted, actor=actor, now=now))
            return Reply(text=f"📘 Incident #{incident.number} now follows the {library.runbooks[wanted].title} "
                              "runbook; its checklist is pinned in the channel.")
        choice = await services.core.read(lambda s: checklists.current(s, incident_id=incident.id))
        runbook = library.get(choice.runbook) if choice is not None and choice.runbook else None
        if runbook is None:
            names = ", ".join(f"`{n}`" for n in library.names())
            return Reply(text=f"📘 Incident #{incident.number} has no runbook yet. Choose one with "
                              f"`/incident runbook NAME`: {names}.")
        blocks = runbook_overview(runbook=runbook, choice=choice, names=library.names())
        return Reply(text=f"📘 Incident #{incident.number} follows the {runbook.title} runbook.", blocks=blocks)

    await answer_within_budget(invocation.ack, services, invocation.request, work())


SUBCOMMAND = Subcommand(name="runbook", usage="runbook [name]",
                        summary="Show the incident's runbook and why it was chosen; with a name, switch to it.",
                        run=run)
