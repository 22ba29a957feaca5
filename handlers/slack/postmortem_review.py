"""The postmortem draft's buttons: Approve, Request changes (a modal for the comment), Regenerate.

Each button carries "<postmortem id>:<draft number>", so a decision always names the draft the
reviewer saw; the core refuses a decision on a draft that has since been replaced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.models import UnfilledPrompts
from bot.core import incidents, postmortems
from bot.core.errors import InvalidInput
from bot.core.postmortem.prompts import Prompt, count_text, unfilled_prompts, where
from bot.core.postmortems import Decision
from bot.slack.errors import SlackError
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from bot.slack.postmortem_blocks import changes_modal, parse_review_value
from handlers.services import Services
from handlers.slack import view_state
from handlers.slack.actions import request_from_action
from handlers.slack.context import (
    Ack,
    Reply,
    Request,
    ack_after,
    respond_later,
    services_of,
    view_metadata,
)
from handlers.slack.errors import message_for


def _target(body: dict[str, Any]) -> tuple[int, int]:
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    parsed = parse_review_value(value) if len(value) < 40 else None
    if parsed is None:
        raise InvalidInput("This button has lost its postmortem. Use `/incident postmortem` for a fresh draft.")
    return parsed


async def _may_approve(services: Services, user: str, postmortem_id: int) -> None:
    roles = services.config.postmortems.approvers
    if not roles:
        return

    async def commander(session: AsyncSession) -> str | None:
        postmortem = await postmortems.get(session, postmortem_id=postmortem_id)
        return (await incidents.get_incident(session, incident_id=postmortem.incident_id)).commander

    incident_commander = await services.core.read(commander)
    authorizer = services.actions.authorizer
    try:
        for role in roles:
            if await authorizer.holds(user, role, commander=incident_commander):
                return
    except LookupError as exc:
        raise InvalidInput(f"Could not check your roles ({exc}). Try again in a moment.") from exc
    who = await authorizer.describe_roles(tuple(roles))
    raise InvalidInput(f"Approving a postmortem needs the {' or '.join(roles)} role. {who}")


async def _prompts_left(services: Services, postmortem_id: int, draft: int) -> tuple[Prompt, ...]:
    """The draft's unfilled prompts. A draft's text never changes once written, so what is read
    here is what the approval approves (the core refuses it if a newer draft came meanwhile)."""
    async def markdown(session: AsyncSession) -> str:
        found = await postmortems.draft_number(session, postmortem_id=postmortem_id, number=draft)
        return found.markdown if found is not None else ""

    return unfilled_prompts(await services.core.read(markdown))


def _unfilled_refusal(prompts: tuple[Prompt, ...]) -> str:
    return (f"Not approved: {count_text(prompts)} still unfilled ({where(prompts)}). This team approves only "
            "drafts with every [prompt] filled in (`postmortems.unfilled_prompts: block`).")


async def decide(services: Services, *, user: str, postmortem_id: int, draft: int, decision: Decision,
                 comment: str = "") -> None:
    detail: dict[str, Any] = {"postmortem_id": postmortem_id, "draft": draft}
    if decision == Decision.APPROVED:
        await _may_approve(services, user, postmortem_id)
        prompts = await _prompts_left(services, postmortem_id, draft)
        if prompts and services.config.postmortems.unfilled_prompts == UnfilledPrompts.BLOCK:
            raise InvalidInput(_unfilled_refusal(prompts))
        detail["prompts_left"] = len(prompts)

    async def incident_id(session: AsyncSession) -> int:
        return (await postmortems.get(session, postmortem_id=postmortem_id)).incident_id

    await services.core.change(
        actor=user, action=f"postmortem.{decision.value}", incident_id=await services.core.read(incident_id),
        detail=detail,
        apply=lambda session, now: postmortems.review(
            session, postmortem_id=postmortem_id, draft_number=draft, reviewer=user, decision=decision,
            comment=comment, approvals_required=services.config.postmortems.approvals_required, now=now))


async def _approve(services: Services, request: Request, body: dict[str, Any]) -> None:
    try:
        postmortem_id, draft = _target(body)
        await decide(services, user=request.user_id, postmortem_id=postmortem_id, draft=draft,
                     decision=Decision.APPROVED)
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))


async def on_request_changes(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="action", name=ActionId.POSTMORTEM_REQUEST_CHANGES.value).inc()
    request = request_from_action(body)
    try:
        postmortem_id, draft = _target(body)

        async def number(session: AsyncSession) -> int:
            postmortem = await postmortems.get(session, postmortem_id=postmortem_id)
            return (await incidents.get_incident(session, incident_id=postmortem.incident_id)).number

        view = changes_modal(postmortem_id=postmortem_id, draft_number=draft,
                             number=await services.core.read(number), channel_id=request.channel_id)
        await services.gateway.open_view(request.trigger_id or "", view)
    except SlackError as exc:
        await respond_later(services, request, Reply(text=f"⚠️ Slack would not open the form ({exc}). Try again."))
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))


async def on_changes_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="view", name=CallbackId.POSTMORTEM_CHANGES_MODAL.value).inc()
    metadata = view_metadata(view)
    comment = view_state.typed(view, BlockId.POSTMORTEM_COMMENT, InputId.COMMENT)
    postmortem_id, draft = metadata.get("postmortem_id"), metadata.get("draft")
    user = (body.get("user") or {}).get("id", "")
    if not comment:
        await ack(response_action="errors", errors={BlockId.POSTMORTEM_COMMENT.value: "Say what should change."})
        return
    if not isinstance(postmortem_id, int) or not isinstance(draft, int):
        await ack(response_action="errors", errors={
            BlockId.POSTMORTEM_COMMENT.value: "This form lost its postmortem; close it and press the button again."})
        return
    try:
        await decide(services, user=user, postmortem_id=postmortem_id, draft=draft,
                     decision=Decision.CHANGES_REQUESTED, comment=comment)
    except Exception as exc:  # the form stays open with the comment in it
        await ack(response_action="errors",
                  errors={BlockId.POSTMORTEM_COMMENT.value: message_for(exc, metrics=services.metrics)[:500]})
        return
    await ack()


async def _regenerate(services: Services, request: Request, body: dict[str, Any]) -> None:
    try:
        postmortem_id, _ = _target(body)

        async def incident_id(session: AsyncSession) -> int:
            return (await postmortems.get(session, postmortem_id=postmortem_id)).incident_id

        target = await services.core.read(incident_id)
        actor = request.user_id
        await services.core.change(
            actor=actor, action="postmortem.draft", incident_id=target, detail={"via": "button"},
            apply=lambda session, now: postmortems.request_draft(
                session, incident_id=target, reason=f"regenerated by <@{actor}>", actor=actor, now=now))
        await respond_later(services, request, Reply(text="📝 Writing a new draft from the timeline as it is now."))
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))


Work = Callable[[Services, Request, dict[str, Any]], Coroutine[Any, Any, None]]


def _applied_before_ack(action_id: ActionId, work: Work) -> Callable[..., Awaitable[None]]:
    """A button whose change is quick: made before the ack where it can be, answered after."""
    async def on_click(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="action", name=action_id.value).inc()
        await ack_after(ack, work(services, request_from_action(body), body))

    return on_click


def register(app: AsyncApp) -> None:
    app.action(ActionId.POSTMORTEM_APPROVE.value)(_applied_before_ack(ActionId.POSTMORTEM_APPROVE, _approve))
    app.action(ActionId.POSTMORTEM_REQUEST_CHANGES.value)(on_request_changes)
    app.action(ActionId.POSTMORTEM_REGENERATE.value)(_applied_before_ack(ActionId.POSTMORTEM_REGENERATE, _regenerate))
    app.view(CallbackId.POSTMORTEM_CHANGES_MODAL.value)(on_changes_submitted)
