"""`/incident followup <text> [@owner] [due]`: an action item; with no text, the list with buttons."""

from __future__ import annotations

from datetime import date

from bot.core import followups
from bot.core.due_dates import DueDateError, parse_due
from bot.slack.postmortem_blocks import follow_up_list
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    channel_incident,
    parse_user,
)
from handlers.slack.context import Reply, answer_within_budget


def split_follow_up(args: str, *, today: date) -> tuple[str, str | None, date | None]:
    """The text, the owner and the due date, which may come last in either order."""
    words = args.split()
    owner: str | None = None
    due: date | None = None
    for _ in range(2):
        if not words:
            break
        last = words[-1]
        if owner is None and last.startswith("<@"):
            owner = parse_user(last)
            words.pop()
            continue
        try:
            parsed = parse_due(last, today=today)
        except DueDateError as exc:
            raise UsageError(str(exc)) from None
        if due is None and parsed is not None and len(words) > 1:
            due = parsed
            words.pop()
            continue
        break
    return " ".join(words), owner, due


async def run(invocation: Invocation) -> None:
    services = invocation.services
    today = services.core.clock().date()
    if not invocation.args.strip():
        await show_list(invocation)
        return
    text, owner, due = split_follow_up(invocation.args, today=today)
    if not text:
        raise UsageError("Say what needs doing before the owner and due date.")
    actor = invocation.request.user_id

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        item = await services.core.change(
            actor=actor, action="followup.add", incident_id=incident.id,
            apply=lambda session, now: followups.add(session, incident_id=incident.id, text=text, owner=owner,
                                                     due_on=due, actor=actor, now=now),
            detail={"owner": owner or "", "due_on": due.isoformat() if due else ""})
        who = f" for <@{owner}>" if owner else ""
        when = f", due {due.isoformat()}" if due else ""
        return Reply(text=f"✅ Follow-up #{item.id} added to incident #{incident.number}{who}{when}. "
                          "`/incident followup` lists them.")

    await answer_within_budget(invocation.ack, services, invocation.request, work())


async def show_list(invocation: Invocation) -> None:
    services = invocation.services

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        items = await services.core.read(lambda s: followups.list_for(s, incident_id=incident.id))
        return Reply(text=f"Follow-ups of incident #{incident.number}",
                     blocks=follow_up_list(incident, items, today=services.core.clock().date()))

    await answer_within_budget(invocation.ack, services, invocation.request, work())


SUBCOMMAND = Subcommand(
    name="followup", usage="followup [<text> [@owner] [due]]",
    summary="Add an action item (due: 2026-12-24, tomorrow, 3d, 2w, friday); alone, list them with Done buttons.",
    run=run, aliases=("followups", "todo"))
