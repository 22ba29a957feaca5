"""Modals for guarded actions: Scale, Rollback and Flags show the current state and ask what to
change; the confirmation modal shows before and after. Pure builders."""

from __future__ import annotations

import json
from typing import Any

from bot.core.actions.kinds import ActionKind
from bot.core.actions.snapshot import ServiceSnapshot
from bot.core.text import escape_mrkdwn
from bot.slack.action_blocks import action_title
from bot.slack.blocks import Block, context, section
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from bot.slack.notice_blocks import approval_text
from storage.models import ResponseAction

OPTION_TEXT_MAX = 75


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(value: str, label: str) -> dict[str, Any]:
    text = label if len(label) <= OPTION_TEXT_MAX else label[: OPTION_TEXT_MAX - 1] + "…"
    return {"text": _plain(text), "value": value[:150]}


def _modal(callback: CallbackId, title: str, blocks: list[Block], *, metadata: dict[str, Any],
           submit: str | None = "Review") -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal", "callback_id": callback.value, "title": _plain(title[:24]), "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata), "blocks": blocks,
    }
    if submit:
        view["submit"] = _plain(submit)
    return view


def loading_modal(callback: CallbackId, title: str, *, metadata: dict[str, Any]) -> dict[str, Any]:
    """Opened at once (trigger ids last 3 s); replaced when the current state has been read."""
    return _modal(callback, title, [section("⏳ Reading the current state…")], metadata=metadata, submit=None)


def _problems(snapshot: ServiceSnapshot, *parts: str) -> list[Block]:
    lines = [f"⚠️ Could not read {part}: {escape_mrkdwn(why)}" for part, why in snapshot.errors.items()
             if any(part == p or part.startswith(p + ":") for p in parts)]
    return [context(*lines)] if lines else []


# --- Scale -------------------------------------------------------------------------------------


def scale_modal(snapshot: ServiceSnapshot, *, metadata: dict[str, Any], count: int | None = None,
                note: str = "") -> dict[str, Any]:
    """``count``: a runbook step's suggestion, shown instead of the current count (within the bounds)."""
    ecs, state = snapshot.ecs, snapshot.ecs_state
    blocks: list[Block] = []
    if ecs is None:
        blocks.append(section(f"*{escape_mrkdwn(snapshot.service)}* has no ECS service configured."))
        return _modal(CallbackId.SCALE_MODAL, "Scale", blocks, metadata=metadata, submit=None)
    header = f"*{escape_mrkdwn(ecs.service)}* on ECS cluster `{escape_mrkdwn(ecs.cluster)}`"
    if state is not None:
        deployments = ", ".join(
            f"{d.status.lower()} {d.task_definition.rsplit('/', 1)[-1]} ({(d.rollout_state or 'unknown').lower()}, "
            f"{d.running}/{d.desired})" for d in state.deployments[:3]) or "none"
        header += (f"\nDesired *{state.desired}* · Running *{state.running}* · Pending {state.pending}"
                   f"\nTask definition {state.revision_label} · Deployments: {deployments}")
    blocks.append(section(header))
    blocks += _problems(snapshot, "ecs")
    element: dict[str, Any] = {"type": "number_input", "action_id": InputId.COUNT.value, "is_decimal_allowed": False,
                               "min_value": str(ecs.min), "max_value": str(ecs.max)}
    if count is not None:
        bounded = min(max(count, ecs.min), ecs.max)
        element["initial_value"] = str(bounded)
        if bounded != count:
            note += f" It asks for {count}; the bounds allow {ecs.min}–{ecs.max}."
    elif state is not None and ecs.min <= state.desired <= ecs.max:
        element["initial_value"] = str(state.desired)
    blocks.append({"type": "input", "block_id": BlockId.SCALE_COUNT.value, "element": element,
                   "label": _plain(f"New desired count ({ecs.min}–{ecs.max})")})
    if note:
        blocks.append(context(escape_mrkdwn(note.strip())))
    blocks.append({"type": "actions", "block_id": BlockId.ACTION_BUTTONS.value, "elements": [
        {"type": "button", "action_id": ActionId.EMERGENCY_STOP.value, "style": "danger",
         "text": _plain("Emergency stop…"), "value": snapshot.service}]})
    blocks.append(context("Emergency stop sets the desired count to 0. It needs a second person's approval."))
    return _modal(CallbackId.SCALE_MODAL, "Scale", blocks, metadata=metadata)


# --- Rollback ----------------------------------------------------------------------------------


def rollback_modal(snapshot: ServiceSnapshot, *, metadata: dict[str, Any], preselect: str | None = None,
                   note: str = "") -> dict[str, Any]:
    """``preselect``: a target value (``model:NAME``, ``deploy``, ``config:NAME``) a runbook step names."""
    blocks: list[Block] = []
    target_groups: list[dict[str, Any]] = []
    version_groups: list[dict[str, Any]] = []
    for model in snapshot.models:
        lines = "\n".join(escape_mrkdwn(v.listing_line()) for v in model.versions[:8]) or "_no versions_"
        blocks.append(section(f"*Model {escape_mrkdwn(model.name)}* (serving {model.serving or 'nothing'})\n{lines}"))
        previous = model.rollback_target(1)
        if previous and model.serving:
            target_groups.append({"label": _plain("Models"), "options": [
                _option(f"model:{model.name}", f"{model.name}: {model.serving} → {previous}")]})
        others = [v for v in model.versions if v.version != model.serving][:20]
        if others:
            version_groups.append({"label": _plain(model.name[:75]), "options": [
                _option(f"{model.name}@{v.version}", v.listing_line()) for v in others]})
    blocks += _problems(snapshot, "models", "model")
    state = snapshot.ecs_state
    if snapshot.ecs is not None and state is not None:
        previous_text = snapshot.previous_revision or "none"
        blocks.append(section(f"*Deployment* {escape_mrkdwn(snapshot.ecs.service)}: task definition "
                              f"{state.revision_label}; previous active revision {previous_text}"))
        if snapshot.previous_revision:
            target_groups.append({"label": _plain("Deployment"), "options": [
                _option("deploy", f"{snapshot.ecs.service}: {state.revision_label} → {snapshot.previous_revision}")]})
    blocks += _problems(snapshot, "ecs")
    config_options = [_option(f"config:{flag.name}", f"{flag.name}: {flag.value} → {flag.previous}")
                      for flag in snapshot.flags if flag.previous is not None and flag.previous != flag.value]
    if snapshot.flags:
        lines = "\n".join(f"`{escape_mrkdwn(f.name)}` = `{escape_mrkdwn(f.value or '(not set)')}`"
                          + (f" (before: `{escape_mrkdwn(f.previous)}`)" if f.previous is not None else "")
                          for f in snapshot.flags)
        blocks.append(section(f"*Config*\n{lines}"))
    if config_options:
        target_groups.append({"label": _plain("Config"), "options": config_options[:100]})
    blocks += _problems(snapshot, "flags")
    if target_groups:
        select: dict[str, Any] = {"type": "static_select", "action_id": InputId.TARGET.value,
                                  "placeholder": _plain("Choose what to roll back"), "option_groups": target_groups}
        chosen = next((o for g in target_groups for o in g["options"] if o["value"] == preselect), None)
        if chosen is not None:
            select["initial_option"] = chosen
        elif preselect:
            note += " What it names has no earlier state to roll back to; choose another or close."
        blocks.append({"type": "input", "optional": True, "block_id": BlockId.ROLLBACK_TARGET.value,
                       "label": _plain("Roll back one step"), "element": select})
    if note:
        blocks.append(context(escape_mrkdwn(note.strip())))
    if version_groups:
        blocks.append({"type": "input", "optional": True, "block_id": BlockId.ROLLBACK_VERSION.value,
                       "label": _plain("…or serve a specific model version"),
                       "element": {"type": "static_select", "action_id": InputId.VERSION.value,
                                   "placeholder": _plain("Choose a version"), "option_groups": version_groups}})
    can_submit = bool(target_groups or version_groups)
    if not can_submit:
        blocks.append(context("Nothing here has an earlier state to roll back to."))
    return _modal(CallbackId.ROLLBACK_MODAL, "Roll back", blocks, metadata=metadata,
                  submit="Review" if can_submit else None)


# --- Flags -------------------------------------------------------------------------------------


def flags_modal(snapshot: ServiceSnapshot, *, metadata: dict[str, Any], preselect: str | None = None,
                value: str | None = None, note: str = "") -> dict[str, Any]:
    blocks: list[Block] = []
    if not snapshot.flags and "flags" not in snapshot.errors:
        blocks.append(section(f"*{escape_mrkdwn(snapshot.service)}* has no flags configured."))
        return _modal(CallbackId.FLAGS_MODAL, "Flags", blocks, metadata=metadata, submit=None)
    lines = "\n".join(f"`{escape_mrkdwn(f.name)}` = `{escape_mrkdwn(f.value or '(not set)')}`"
                      + (f" · version {f.version}" if f.version else "") for f in snapshot.flags)
    blocks.append(section(f"*Flags of {escape_mrkdwn(snapshot.service)}*\n{lines}"))
    blocks += _problems(snapshot, "flags")
    options = [_option(f.name, f.name) for f in snapshot.flags]
    if options:
        select: dict[str, Any] = {"type": "static_select", "action_id": InputId.FLAG.value, "options": options[:100]}
        chosen = next((o for o in options if o["value"] == preselect), None)
        if chosen:
            select["initial_option"] = chosen
        blocks.append({"type": "input", "block_id": BlockId.FLAG_NAME.value, "label": _plain("Flag"),
                       "element": select})
        value_input: dict[str, Any] = {"type": "plain_text_input", "action_id": InputId.VALUE.value,
                                       "max_length": 4096, "placeholder": _plain("e.g. false")}
        if value is not None:
            value_input["initial_value"] = value
        blocks.append({"type": "input", "block_id": BlockId.FLAG_VALUE.value, "label": _plain("New value"),
                       "element": value_input})
        if preselect and chosen is None:
            note += f" It names the flag {preselect}, which this service does not have."
    if note:
        blocks.append(context(escape_mrkdwn(note.strip())))
    return _modal(CallbackId.FLAGS_MODAL, "Flags", blocks, metadata=metadata, submit="Review" if options else None)


# --- Confirmation ------------------------------------------------------------------------------


def confirm_modal(action: ResponseAction) -> dict[str, Any]:
    notes = [escape_mrkdwn(str(n)) for n in (action.result or {}).get("notes", [])][:6]
    blocks: list[Block] = [section(action_title(action) + ("\n" + "\n".join(f"• {n}" for n in notes) if notes else ""))]
    if ActionKind(action.kind) == ActionKind.PUBLISH_NOTICE:
        blocks.append(approval_text(str((action.after or {}).get("text", ""))))
    if action.needs_approval:
        blocks.append(context("After you confirm, a second person with the *approver* role must approve it."))
    if action.dry_run:
        blocks.append(context("Dry-run mode is on: confirming shows what would happen and changes nothing."))
    submit = "Request approval" if action.needs_approval else "Confirm"
    return _modal(CallbackId.CONFIRM_MODAL, "Confirm", blocks, metadata={"action_id": action.id}, submit=submit)
