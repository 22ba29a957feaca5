"""Action, block and callback ids. Handlers and views share these; strings never drift apart."""

from enum import StrEnum


class ActionId(StrEnum):
    ACKNOWLEDGE = "incident_acknowledge"
    RESOLVE = "incident_resolve"


class BlockId(StrEnum):
    HEADLINE_ACTIONS = "headline_actions"
    DECLARE_TITLE = "declare_title"
    DECLARE_SEVERITY = "declare_severity"
    DECLARE_SERVICE = "declare_service"


class InputId(StrEnum):
    TITLE = "title"
    SEVERITY = "severity"
    SERVICE = "service"


class CallbackId(StrEnum):
    DECLARE_MODAL = "incident_declare"
