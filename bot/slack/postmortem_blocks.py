"""Block Kit for postmortems and follow-ups. Pure functions: plain data in, Slack JSON out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from bot.config.durations import format_duration
from bot.config.models import UnfilledPrompts
from bot.core.followups import FollowUpState
from bot.core.postmortem.prompts import Prompt, count_text, where
from bot.core.postmortems import Decision, PostmortemState
from bot.core.text import display_title, escape_mrkdwn
from bot.slack.format import channel_link, person, user_text
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from storage.models import (
    FollowUp,
    Incident,
    Postmortem,
    PostmortemDraft,
    PostmortemReview,
)

Block = dict[str, Any]
COMMENT_INPUT_MAX = 3000
CONFIRM_TEXT_MAX = 300  # Slack's limit on a confirm dialog's text


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def review_value(postmortem_id: int, draft_number: int) -> str:
    return f"{postmortem_id}:{draft_number}"


def parse_review_value(value: str) -> tuple[int, int] | None:
    try:
        postmortem_id, draft = (int(part) for part in value.split(":", 1))
    except ValueError:
        return None
    return (postmortem_id, draft) if postmortem_id > 0 and draft > 0 else None


def _seconds(value: Any) -> str:
    return format_duration_seconds(value) if isinstance(value, int | float) else "—"


def format_duration_seconds(seconds: float) -> str:
    return format_duration(timedelta(seconds=seconds), max_units=2)


def draft_message(
    *, incident: Incident, postmortem: Postmortem, draft: PostmortemDraft, reviews: Sequence[PostmortemReview],
    approvals_required: int, state: PostmortemState | None = None, prompts: Sequence[Prompt] = (),
    unfilled: UnfilledPrompts = UnfilledPrompts.WARN,
) -> tuple[str, list[Block]]:
    """The summary posted with the draft file, with the reviewers' buttons.

    ``state`` overrides the stored one: the message that puts a draft in review says so as it
    is posted, before the state is recorded. ``prompts``: the draft's unfilled prompts, counted
    on the message; with ``unfilled`` at warn, Approve asks before approving a draft with some.
    """
    facts = draft.facts or {}
    state = state or PostmortemState(postmortem.state)
    text = f"📝 Postmortem draft v{draft.number} for incident #{incident.number} ({state.label})"
    fields = [
        f"*Time to detect*\n{_seconds(facts.get('detect_s'))}",
        f"*Time to acknowledge*\n{_seconds(facts.get('acknowledge_s'))}",
        f"*Time to contain*\n{_seconds(facts.get('contain_s'))}",
        f"*Time to resolve*\n{_seconds(facts.get('resolve_s'))}",
        f"*Timeline*\n{facts.get('events', 0):,} events in {facts.get('rows', 0):,} rows",
        f"*Actions · checks*\n{facts.get('actions', 0)} actions · {facts.get('diagnostics', 0)} checks",
    ]
    related = facts.get("related") or []
    if related:
        fields.append("*Related incidents*\n" + ", ".join(f"#{n}" for n in related))
    prompts = tuple(prompts)
    fields.append("*Prompts to fill*\n" + (f"{len(prompts)}: {where(prompts)}" if prompts else "none left"))
    current = [r for r in reviews if r.draft_number == draft.number]
    approvals = len({r.reviewer for r in current if r.decision == Decision.APPROVED})
    blocks: list[Block] = [
        {"type": "header", "text": _plain(display_title(f"📝 Postmortem · #{incident.number} {incident.title}"))},
        {"type": "section", "text": _mrkdwn(
            f"Draft *v{draft.number}* is attached above as Markdown. Everything in it comes from the record; "
            "text in [square brackets] is for the team. State: *" + state.label + "*"
            + (f" · approvals {approvals} of {approvals_required}" if state != PostmortemState.APPROVED else ""))},
        {"type": "section", "fields": [_mrkdwn(f) for f in fields]},
    ]
    for review in list(current)[-5:]:
        said = "✅ approved" if review.decision == Decision.APPROVED else "✍️ requested changes"
        comment = f": {user_text(review.comment, limit=300)}" if review.comment else ""
        blocks.append({"type": "context", "elements": [_mrkdwn(f"{person(review.reviewer)} {said}{comment}")]})
    if state == PostmortemState.APPROVED and postmortem.approved_at:
        blocks.append({"type": "context", "elements": [_mrkdwn(
            f"Approved {postmortem.approved_at:%Y-%m-%d %H:%M} UTC. Export it with "
            f"`incident-bot postmortem export {incident.number} --format html`.")]})
    value = review_value(postmortem.id, draft.number)
    buttons: list[Block] = []
    if state != PostmortemState.APPROVED:
        approve: Block = {"type": "button", "action_id": ActionId.POSTMORTEM_APPROVE.value, "style": "primary",
                          "text": _plain("Approve"), "value": value}
        if prompts and unfilled == UnfilledPrompts.WARN:
            approve["confirm"] = _approve_anyway(prompts)
        buttons.append(approve)
        buttons.append({"type": "button", "action_id": ActionId.POSTMORTEM_REQUEST_CHANGES.value,
                        "text": _plain("Request changes"), "value": value})
    buttons.append({"type": "button", "action_id": ActionId.POSTMORTEM_REGENERATE.value,
                    "text": _plain("Regenerate"), "value": value})
    blocks.append({"type": "actions", "block_id": BlockId.POSTMORTEM_ACTIONS.value, "elements": buttons})
    return text, blocks


def _approve_anyway(prompts: tuple[Prompt, ...]) -> dict[str, Any]:
    """Slack's confirm dialog on Approve: the draft still has prompts for the team."""
    places = where(prompts)
    room = CONFIRM_TEXT_MAX - len(f"{count_text(prompts)} still unfilled (). Approve anyway?")
    shown = places if len(places) <= room else places[: room - 1] + "…"
    return {"title": _plain("Approve with prompts left?"),
            "text": _mrkdwn(f"{count_text(prompts)} still unfilled ({shown}). Approve anyway?"),
            "confirm": _plain("Approve anyway"), "deny": _plain("Keep reviewing")}


def changes_modal(*, postmortem_id: int, draft_number: int, number: int, channel_id: str | None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.POSTMORTEM_CHANGES_MODAL.value,
        "title": _plain("Request changes"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"postmortem_id": postmortem_id, "draft": draft_number,
                                        "channel_id": channel_id}),
        "blocks": [{
            "type": "input", "block_id": BlockId.POSTMORTEM_COMMENT.value,
            "label": _plain(f"What should change in draft v{draft_number} of incident #{number}?"),
            "element": {"type": "plain_text_input", "action_id": InputId.COMMENT.value, "multiline": True,
                        "max_length": COMMENT_INPUT_MAX},
        }],
    }


def follow_up_list(incident: Incident, items: Sequence[FollowUp], *, today: date) -> list[Block]:
    """Every follow-up with a Done (or Reopen) button; the message is replaced after each click."""
    title = escape_mrkdwn(display_title(incident.title, limit=80))
    if not items:
        return [{"type": "section", "text": _mrkdwn(
            f"No follow-ups for incident #{incident.number} ({title}) yet. "
            "Add one with `/incident followup <text> [@owner] [due]`.")}]
    open_count = sum(1 for i in items if i.state == FollowUpState.OPEN)
    blocks: list[Block] = [{"type": "section", "text": _mrkdwn(
        f"*Follow-ups of incident #{incident.number}* ({title}): {open_count} open of {len(items)}")}]
    for item in list(items)[:45]:
        done = item.state == FollowUpState.DONE
        owner = person(item.owner) if item.owner else "_no owner_"
        due = _due(item.due_on, today=today, done=done)
        line = escape_mrkdwn(item.text)
        text = (f"~{line}~" if done else f"*{line}*") + f"\n{owner} · {due}"
        if done and item.done_by:
            text += f" · done by {person(item.done_by)}"
        action = ActionId.FOLLOW_UP_REOPEN if done else ActionId.FOLLOW_UP_DONE
        blocks.append({"type": "section", "block_id": f"{BlockId.FOLLOW_UP.value}-{item.id}", "text": _mrkdwn(text),
                       "accessory": {"type": "button", "action_id": action.value, "value": str(item.id),
                                     "text": _plain("Reopen" if done else "Done"),
                                     **({} if done else {"style": "primary"})}})
    if len(items) > 45:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"…and {len(items) - 45} more.")]})
    blocks.append({"type": "context", "elements": [_mrkdwn(f"In {channel_link(incident.channel_id)}")]})
    return blocks


def _due(due_on: date | None, *, today: date, done: bool) -> str:
    if due_on is None:
        return "no due date"
    if not done and due_on < today:
        return f"⚠️ overdue since {due_on.isoformat()}"
    return f"due {due_on.isoformat()}"
