"""Field types shared by the configuration models: durations, Slack ids, names, severities.

Each type validates one scalar and fails with a `PydanticCustomError` whose message reads well
after a key path (`oncall.users[0]: invalid Slack user id ...`), so `errors.py` can show it as is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict
from pydantic_core import PydanticCustomError

from bot.config.durations import ACCEPTED_DURATIONS, parse_duration
from bot.config.severity import Severity

__all__ = [
    "KNOWN_ACTIONS",
    "ChannelRef",
    "Duration",
    "Name",
    "NonNegativeInt",
    "PositiveDuration",
    "PositiveNumber",
    "RunbookName",
    "SeverityKey",
    "SeverityValue",
    "UserGroupId",
    "UserId",
    "is_channel_id",
    "short_repr",
]

# The guarded actions that exist whether or not `rbac.actions` mentions them.
KNOWN_ACTIONS = ("scale", "rollback", "flag", "stop", "failover", "security", "publish_notice", "evidence")

# Slack ids are upper-case letters and digits after a one-letter kind prefix.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_USERGROUP_ID = re.compile(r"S[A-Z0-9]{2,31}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,31}")
_CHANNEL_NAME = re.compile(r"[a-z0-9_-]{1,80}")
_RUNBOOK_NAME = re.compile(r"[a-z][a-z0-9_]*")


def short_repr(value: object, limit: int = 40) -> str:
    """`repr` cut to a length that fits on one error line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error(kind: str, message: str) -> PydanticCustomError:
    # Braces in user input would be read as format fields by pydantic; escape them.
    return PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"))


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _error("expected_string", f"expected {what} as a string, got {short_repr(value)}")
    return value


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    # YAML reads `after: 0` as an int; zero means the same in every unit, so let it through.
    if type(value) is int and value == 0:
        return timedelta(0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise _error("duration", f"{short_repr(value)} has no unit; expected {ACCEPTED_DURATIONS}")
    text = _require_str(value, "a duration")
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _error("duration", str(exc)) from None


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise _error("duration", "must not be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise _error("duration", "must be longer than 0s")
    return value


def _slack_id(pattern: re.Pattern[str], what: str, example: str) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        text = _require_str(value, f"a Slack {what} id")
        if not pattern.fullmatch(text):
            message = f"invalid Slack {what} id {short_repr(text)} (expected an id like {example})"
            raise _error("slack_id", message)
        return text

    return validate


def _channel(value: Any) -> str:
    text = _require_str(value, "a Slack channel id or name")
    if _CHANNEL_ID.fullmatch(text):
        return text
    name = text.removeprefix("#")
    if _CHANNEL_NAME.fullmatch(name):
        return name
    raise _error(
        "slack_channel",
        f"invalid Slack channel {short_repr(text)} (expected an id like C0123ABCD or a name of "
        "at most 80 lowercase letters, digits, '-' and '_')",
    )


def is_channel_id(channel: str) -> bool:
    """True for `C…`/`G…` ids; False for the channel names that config also allows."""
    return bool(_CHANNEL_ID.fullmatch(channel))


def _name(value: Any) -> str:
    text = _require_str(value, "a name")
    if not text.strip():
        raise _error("name", "must not be empty")
    if text != text.strip() or any(char.isspace() for char in text):
        raise _error("name", f"{short_repr(text)} must not contain spaces")
    return text


def _runbook_name(value: Any) -> str:
    text = _require_str(value, "a runbook class name")
    if not _RUNBOOK_NAME.fullmatch(text):
        raise _error(
            "runbook_name",
            f"invalid runbook class {short_repr(text)} (expected lowercase letters, digits and "
            "'_', starting with a letter)",
        )
    return text


def _severity_key(value: Any) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError:
        # The key path already shows the bad value, so the message leaves it out.
        raise _error("severity", f"unknown severity (expected {Severity.expected()})") from None


def _severity_value(value: Any) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError:
        message = f"unknown severity (expected {Severity.expected()}), got {short_repr(value)}"
        raise _error("severity", message) from None


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise _error("number", f"expected a number, got {value!r}")
    return value


Duration = Annotated[timedelta, BeforeValidator(_to_duration), AfterValidator(_not_negative)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
UserId = Annotated[str, BeforeValidator(_slack_id(_USER_ID, "user", "U0123ABCD or W0123ABCD"))]
UserGroupId = Annotated[str, BeforeValidator(_slack_id(_USERGROUP_ID, "user group", "S0123ABCD"))]
ChannelRef = Annotated[str, BeforeValidator(_channel)]
Name = Annotated[str, BeforeValidator(_name)]
RunbookName = Annotated[str, BeforeValidator(_runbook_name)]
SeverityKey = Annotated[Severity, BeforeValidator(_severity_key)]
SeverityValue = Annotated[Severity, BeforeValidator(_severity_value)]
NonNegativeInt = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0)]
PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
