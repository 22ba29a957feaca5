"""The `publish_notice` action: a notice for an approval audience (the customer-facing status
page draft, seeds 002 and 003), posted only once a second person approved it.

Planning checks the audience and the text (no [prompt] left, within the status page's length,
and for a customer audience none of the internal names the configuration knows); the run asks
the `NoticePublisher` to queue it for the audience's channel and status page, where the outbox
delivers it and retries what fails. The notice's id is fixed when it is planned, so a replayed
run queues nothing more and the status page sees one notice.
"""

from __future__ import annotations

import uuid
from typing import Any

from bot.config import IncidentBotConfig
from bot.config.communication import NoticeTemplate
from bot.core.actions.errors import ActionInputError
from bot.core.actions.kinds import ActionState
from bot.core.actions.planned import Planned, Progress
from bot.core.actions.providers import ActionProviders
from bot.core.actions.requests import ActionRequest
from bot.core.notice_texts import CUSTOMER_NOTICE_MAX, leaks_in, prompts_in, status_word_of
from bot.core.ports.errors import ProviderError
from bot.core.ports.notices import Publication
from bot.core.text import clean_text, truncate


def notice_text(raw: str) -> str:
    """The notice as it will be published: printable lines, blank runs folded, trimmed."""
    lines = [clean_text(line) for line in raw.replace("\r\n", "\n").split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def plan_publish_notice(request: ActionRequest, *, config: IncidentBotConfig) -> Planned:
    name = (request.parameter or "").strip().lower()
    audiences = config.communication.approval_audiences()
    audience = audiences.get(name)
    if audience is None:
        known = ", ".join(sorted(audiences)) or "none is configured (communication.audiences with approval: true)"
        raise ActionInputError(f"No audience {truncate(name, 40)!r} takes approved notices (audiences: {known}).")
    text = notice_text(request.text or "")
    if not text:
        raise ActionInputError("Write the notice first: it is empty.")
    if len(text) > CUSTOMER_NOTICE_MAX:
        raise ActionInputError(f"The notice is {len(text)} characters; a status page takes {CUSTOMER_NOTICE_MAX}.")
    prompts = prompts_in(text)
    if prompts:
        raise ActionInputError(f"Replace these prompts with what customers should read, or delete them: "
                               f"{', '.join(prompts)}"[:500])
    if audience.template == NoticeTemplate.CUSTOMER:
        leaks = leaks_in(text, config)
        if leaks:
            raise ActionInputError("A customer notice must not name internal things: "
                                   f"{', '.join(truncate(leak, 40) for leak in leaks[:5])}. Reword it.")
    status = status_word_of(text)
    outlets = [f"#{audience.channel}" if not audience.channel.startswith(("C", "G")) else audience.channel]
    if audience.status_page is not None:
        outlets.append("the status page")
    first_line = truncate(text.splitlines()[0], 80)
    return Planned(
        target=f"notice:{name}", target_label=f"to {name}",
        before={"audience": name, "outlets": outlets},
        # The id keys every delivery: chosen now, so each retry or replay is the same notice.
        after={"audience": name, "text": text, "status": status, "notice_id": uuid.uuid4().hex},
        change=f"“{first_line}”",
        notes=(f"Goes to {' and '.join(outlets)}, once a second person approves it.",
               f"Status page status: {status}."),
    )


async def publish(*, after: dict[str, Any], providers: ActionProviders,
                  progress: Progress) -> tuple[ActionState, str, dict[str, Any]]:
    """Queue the approved notice for its outlets; the outbox posts it and retries failures."""
    if providers.notices is None:
        return ActionState.FAILED, "Notices cannot be published here: no publisher is set up. Nothing was sent.", {}
    await progress("Queueing the notice for its channel and status page…")
    publication = Publication(notice_id=str(after["notice_id"]), audience=str(after["audience"]),
                              text=str(after["text"]), status=str(after["status"]))
    try:
        queued = await providers.notices.publish(publication)
    except ProviderError as exc:
        return ActionState.FAILED, f"The notice could not be queued ({exc.message}); nothing was sent.", {}
    if not queued:
        return ActionState.NO_CHANGE, "This notice was queued already; nothing more was sent.", {}
    where = " and ".join("the status page" if outlet == "status_page" else "its channel" for outlet in queued)
    return (ActionState.SUCCEEDED, f"Queued for {where}; the bot keeps trying until each has taken it.",
            {"queued": list(queued), "notice_id": publication.notice_id})
