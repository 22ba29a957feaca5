"""Action, block and callback ids. Handlers and views share these; strings never drift apart."""

from enum import StrEnum


class ActionId(StrEnum):
    ACKNOWLEDGE = "incident_acknowledge"
    RESOLVE = "incident_resolve"
    # Headline buttons that open the guarded-action modals.
    OPEN_SCALE = "action_open_scale"
    OPEN_ROLLBACK = "action_open_rollback"
    OPEN_FLAGS = "action_open_flags"
    DISABLE_AUTO_APPLY = "action_disable_auto_apply"
    DIAGNOSE = "incident_diagnose"
    # On Diagnose's results when the primary AI provider is down: proposes the failover.
    PROPOSE_FAILOVER = "action_propose_failover"
    # The headline's Investigate menu; the chosen option's value is the investigation's kind.
    INVESTIGATE = "incident_investigate"
    # Inside the Scale modal.
    EMERGENCY_STOP = "action_emergency_stop"
    # On a proposal, and on an approval request; the button's value is the action's id.
    CONFIRM = "action_confirm"
    CANCEL = "action_cancel"
    APPROVE = "action_approve"
    DENY = "action_deny"
    # On a status-update reminder; the value is the incident's id. Opens the update modal.
    POST_UPDATE = "incident_post_update"
    # On the postmortem draft's message; the value is "<postmortem id>:<draft number>".
    POSTMORTEM_APPROVE = "postmortem_approve"
    POSTMORTEM_REQUEST_CHANGES = "postmortem_request_changes"
    POSTMORTEM_REGENERATE = "postmortem_regenerate"
    # On the follow-up list; the value is the follow-up's id.
    FOLLOW_UP_DONE = "follow_up_done"
    FOLLOW_UP_REOPEN = "follow_up_reopen"
    # On the runbook checklist. A step's button's value is its step id; so is a checkbox option's.
    RUNBOOK_STEP = "runbook_step"
    RUNBOOK_STEP_CHECK = "runbook_step_check"
    RUNBOOK_PICK = "runbook_pick"  # the select that picks a runbook when none was chosen
    # On a notice draft for an approval audience (the customer notice); the value is
    # "<incident id>:<audience>". Opens the form to edit it and send it for approval.
    EDIT_NOTICE = "notice_edit"


class BlockId(StrEnum):
    HEADLINE_ACTIONS = "headline_actions"
    DECLARE_TITLE = "declare_title"
    DECLARE_SEVERITY = "declare_severity"
    DECLARE_SERVICE = "declare_service"
    SCALE_COUNT = "scale_count"
    ROLLBACK_TARGET = "rollback_target"
    ROLLBACK_VERSION = "rollback_version"
    FLAG_NAME = "flag_name"
    FLAG_VALUE = "flag_value"
    ACTION_BUTTONS = "action_buttons"
    REMINDER_ACTIONS = "reminder_actions"
    UPDATE_TEXT = "update_text"
    POSTMORTEM_ACTIONS = "postmortem_actions"
    POSTMORTEM_COMMENT = "postmortem_comment"
    FOLLOW_UP = "follow_up"
    RUNBOOK_STEP = "runbook_step"  # "runbook_step-<step id>"
    RUNBOOK_PICK = "runbook_pick"
    OVERRIDE_REASON = "override_reason"  # the approver's reason for overriding the accuracy gate
    NOTICE_TEXT = "notice_text"  # the notice's text in the publish form
    NOTICE_ACTIONS = "notice_actions"  # the Edit button on a notice draft


class InputId(StrEnum):
    TITLE = "title"
    SEVERITY = "severity"
    SERVICE = "service"
    COUNT = "count"
    TARGET = "target"
    VERSION = "version"
    FLAG = "flag"
    VALUE = "value"
    UPDATE = "update"
    COMMENT = "comment"
    REASON = "reason"
    NOTICE = "notice"


class CallbackId(StrEnum):
    DECLARE_MODAL = "incident_declare"
    SCALE_MODAL = "action_scale"
    ROLLBACK_MODAL = "action_rollback"
    FLAGS_MODAL = "action_flags"
    CONFIRM_MODAL = "action_confirm_modal"
    DIAGNOSTIC_SHORTCUT = "run_diagnostic_inference"  # the message shortcut
    STATUS_UPDATE_MODAL = "incident_status_update"
    ADD_TO_TIMELINE_SHORTCUT = "add_to_timeline"  # the message shortcut
    POSTMORTEM_CHANGES_MODAL = "postmortem_request_changes"
    GATE_OVERRIDE_MODAL = "action_gate_override"  # Approve on a version under the accuracy gate
    NOTICE_MODAL = "notice_publish"  # edit a notice for an approval audience, then request its approval
