"""The web UI's boundary: the JSON bodies the page may POST, reading them, and the errors it answers with.

Every ``/ui/api/...`` POST is read by :func:`read_body` into one of the strict pydantic models
here; anything the page (or a scenario) asks for that cannot be done is a :class:`WebError`,
which the route turns into a 4xx ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.models import SlackError

MAX_BODY_BYTES = 1_000_000
REACTION = re.compile(r"[a-z0-9_+'-]{1,100}")


# --- errors at the boundary --------------------------------------------------------------------


class WebError(Exception):
    """Something the page (or a scenario) asked for that cannot be done: a 4xx and a reason."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def response(self) -> JSONResponse:
        return JSONResponse({"ok": False, "error": self.message, **self.extra}, status_code=self.status)


_SLACK_ERROR_STATUS = {"channel_not_found": 404, "message_not_found": 404, "user_not_found": 404,
                       "not_found": 404, "not_in_channel": 403, "is_archived": 403,
                       "already_reacted": 409, "no_reaction": 409, "push_limit_reached": 409}


def refused(exc: SlackError, doing: str) -> WebError:
    return WebError(_SLACK_ERROR_STATUS.get(exc.code, 400), f"{doing}: Slack answers {exc.code}",
                    slack_error=exc.code)


# --- request bodies ------------------------------------------------------------------------------


Id = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Choice = str | list[str] | None
# What the page sends for a form: {block_id: {action_id: text | [values] | null}}. The server
# turns it into Slack's state.values, taking option objects from the view itself.
FormValues = dict[str, dict[str, Choice]]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CommandBody(Body):
    user: Id
    channel: Id
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class MessageBody(Body):
    user: Id
    channel: Id
    text: Annotated[str, StringConstraints(min_length=1, max_length=40_000)]
    thread_ts: Id | None = None


class JoinBody(Body):
    user: Id
    channel: Id


class ActionBody(Body):
    user: Id
    action_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    block_id: Annotated[str, StringConstraints(max_length=255)] | None = None
    channel: Id | None = None
    message_ts: Id | None = None
    view_id: Id | None = None
    value: Annotated[str, StringConstraints(max_length=2000)] | None = None
    selected: list[str] | None = None
    values: FormValues | None = None


class MessageRef(Body):
    user: Id
    channel: Id
    message_ts: Id


class ShortcutBody(MessageRef):
    callback_id: Id


class ReactionBody(MessageRef):
    name: Annotated[str, StringConstraints(pattern=f"^{REACTION.pattern}$")]


class ViewSubmitBody(Body):
    user: Id
    view_id: Id
    values: FormValues = {}


class ViewCloseBody(Body):
    user: Id
    view_id: Id


class ScenarioBody(Body):
    name: Id


B = TypeVar("B", bound=Body)


def _described(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts[:8])


async def read_body(request: Request, model: type[B]) -> B:
    # JSON only: a cross-site HTML form cannot send it without a CORS preflight, which this
    # server never grants, so another page in the browser cannot act as a person here.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise WebError(415, "send a JSON body (Content-Type: application/json)")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise WebError(413, f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WebError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise WebError(400, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise WebError(422, _described(exc)) from None
