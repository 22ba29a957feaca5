"""Slack listeners: slash commands, buttons and modals."""

from slack_bolt.async_app import AsyncApp

from handlers.slack import (
    action_buttons,
    action_modals,
    actions,
    events,
    failover_button,
    follow_up_buttons,
    gate_override,
    investigate_buttons,
    notice_form,
    postmortem_review,
    runbook_steps,
    shortcuts,
    timeline_capture,
    update_modal,
    views,
)
from handlers.slack.commands import router
from handlers.slack.errors import register_error_handler


def register(app: AsyncApp) -> None:
    router.register(app)
    actions.register(app)
    action_buttons.register(app)
    action_modals.register(app)
    gate_override.register(app)
    views.register(app)
    update_modal.register(app)
    events.register(app)
    shortcuts.register(app)
    timeline_capture.register(app)
    postmortem_review.register(app)
    follow_up_buttons.register(app)
    runbook_steps.register(app)
    investigate_buttons.register(app)
    notice_form.register(app)
    failover_button.register(app)
    register_error_handler(app)
