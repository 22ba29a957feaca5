"""Who a level's PagerDuty schedules put on call, as Slack users: asked when the page goes out.

PagerDuty knows who is on call (``GET /oncalls``) and their email; Slack knows the person by
that email (``users.lookupByEmail``). Each schedule is looked up on its own, and a lookup that
fails (PagerDuty down, nobody on call, no Slack account with that email) becomes a line for the
brief instead of an error: the rest of the level is still paged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.ports.errors import ProviderError
from bot.core.ports.pagerduty import OncallDirectory
from bot.slack.errors import SlackRejected
from bot.slack.gateway import SlackGateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleOncall:
    users: tuple[str, ...]  # Slack user ids, once each
    problems: tuple[str, ...]  # what could not be found, in words for the channel


async def resolve_schedules(schedules: Iterable[str], *, directory: OncallDirectory | None,
                            gateway: SlackGateway) -> ScheduleOncall:
    users: dict[str, None] = {}
    problems: list[str] = []
    for schedule in schedules:
        found, problem = await _resolve_one(schedule, directory=directory, gateway=gateway)
        users.update(dict.fromkeys(found))
        if problem:
            problems.append(problem)
    return ScheduleOncall(users=tuple(users), problems=tuple(problems))


async def _resolve_one(schedule: str, *, directory: OncallDirectory | None,
                       gateway: SlackGateway) -> tuple[list[str], str | None]:
    if directory is None:
        return [], f"PagerDuty schedule {schedule} was not asked: the PagerDuty REST API is not configured."
    try:
        emails = await directory.oncall_emails(schedule)
    except ProviderError as exc:
        log.warning("could not ask PagerDuty who is on call in %s: %s", schedule, exc)
        return [], f"Could not ask PagerDuty who is on call in schedule {schedule} ({exc})."
    if not emails:
        return [], f"Nobody is on call in PagerDuty schedule {schedule}."
    found: list[str] = []
    missing: list[str] = []
    for email in emails:
        try:
            user = await gateway.user_by_email(email)
        except SlackRejected as exc:  # unavailable is raised: the page is retried, Slack being needed for it anyway
            log.warning("could not look up the Slack user for %s: %s", email, exc)
            user = None
        if user:
            found.append(user)
        else:
            missing.append(email)
    if missing:
        return found, f"No Slack user has the email of schedule {schedule}'s on-call ({', '.join(missing)})."
    return found, None
