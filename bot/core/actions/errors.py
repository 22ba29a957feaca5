"""Errors of the action pipeline. Each message is written for the person who asked."""

from __future__ import annotations

from bot.core.errors import CoreError


class ActionError(CoreError):
    """An action that was refused or could not run; the message says why."""


class ActionInputError(ActionError):
    """Unknown service, model or flag, or a value out of bounds; names the valid choices."""


class ActionDenied(ActionError):
    """The person may not do this; the message says who can."""


class ActionConflict(ActionError):
    """Someone else's action got there first, or the state changed since the request."""


class ActionNotFound(ActionError):
    pass


class ActionUnavailable(ActionError):
    """A provider (AWS, the model worker) could not be reached or refused; nothing was changed."""
