"""POST /slack/events: the HTTP door to Bolt, behind the request gate.

The body is read once with a size cap, passed through the gate (signature, replay, nesting:
see handlers/slack/request_gate.py), then handed to Bolt from a copy. Socket Mode does not
come this way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

from handlers.slack.errors import MALFORMED_PAYLOAD_ERRORS
from handlers.slack.request_gate import SlackRequestGate
from handlers.webhooks.asgi import ClientGone, Incoming
from handlers.webhooks.errors import PayloadTooLarge

log = logging.getLogger(__name__)

# Slack documents no cap, but its own limits bound a payload well below this: a modal holds at
# most 100 blocks, an input 3,000 characters. Anything bigger is refused before it is parsed.
SLACK_MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SlackDoor:
    """What the route needs, kept on ``app.state.slack_door``.

    Not captured in a closure: FastAPI caches what it learns about each endpoint function in a
    process-wide LRU (4,096 entries), so an endpoint closing over an app's services would keep
    them alive, Bolt app and database engine included, long after the app itself is gone.
    """

    gate: SlackRequestGate
    bolt: AsyncSlackRequestHandler


router = APIRouter()


@router.post("/slack/events")
async def slack_events(request: Request) -> Response:
    door: SlackDoor = request.app.state.slack_door
    gate, bolt = door.gate, door.bolt
    try:
        body = await Incoming(request.scope, request.receive).body(limit=SLACK_MAX_BODY_BYTES)
    except PayloadTooLarge as exc:
        return JSONResponse({"error": exc.reason}, status_code=exc.http_status)
    except ClientGone:
        return Response(status_code=400)  # nobody is left to read it
    refusal = await gate.admit(body, request.headers,
                               client=request.client.host if request.client else "unknown")
    if refusal is not None:
        return refusal
    try:
        # The body has been read from the stream; Bolt reads it again from this copy.
        return await bolt.handle(Request(request.scope, _replay_body(body)))
    except MALFORMED_PAYLOAD_ERRORS as exc:
        # Bolt assumes Slack's payload shapes while building its request; a signed body
        # of another shape is the sender's mistake, not a server error.
        log.warning("malformed Slack request: %s: %s", exc.__class__.__name__, exc)
        return JSONResponse({"error": "malformed Slack request"}, status_code=400)



def _replay_body(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
