"""The correlation id of the work in hand: a webhook delivery, a Slack request, an outbox row, a
timer, an action. Log records carry it (see `observability.logs`), the outbox stores it beside the
rows it writes, and calls to the model worker send it as `X-Request-Id`, so one id follows an
alert from its delivery to the Slack messages and the predictions it led to.

A `ContextVar`, so each asyncio task (and each thread started through `contextvars`) keeps its
own: a task inherits the id of the code that created it, and binding one in a task never leaks
into another.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The header that carries the id between processes (the bot's calls to the worker; a proxy in
# front of either may set it too).
REQUEST_ID_HEADER = "X-Request-Id"

# What an id may look like when it comes from outside (a header, a webhook's own event id): one
# word of printable ASCII, short. Anything else is replaced, never logged as sent, so a hostile
# header cannot forge log lines or smuggle control characters into them.
_ACCEPTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_PROCESS_PREFIX = uuid.uuid4().hex[:12]
_sequence = itertools.count(1)


def current() -> str | None:
    """The id of the work this code runs for, or None outside any."""
    return _current.get()


def new_id(kind: str) -> str:
    """A fresh id for work that starts here, such as `request:3f2a9c0e1b7d-1f`.

    A random prefix drawn once per process and a counter: unique across processes and restarts
    as a uuid would be (ids are for finding log lines, not secrets), without asking the kernel
    for random bytes on every request of a storm.
    """
    return f"{kind}:{_PROCESS_PREFIX}-{next(_sequence):x}"


def accepted(candidate: str | None) -> str | None:
    """`candidate` if it is a safe id from outside, else None."""
    if candidate and _ACCEPTED.fullmatch(candidate):
        return candidate
    return None


def scoped(kind: str, external: str | None) -> str:
    """`kind:external` when `external` is a safe id, else a fresh `kind:` id."""
    safe = accepted(external)
    return f"{kind}:{safe}"[:160] if safe else new_id(kind)


def bind(correlation_id: str | None) -> None:
    """Make `correlation_id` the current one for the rest of this task (or thread)."""
    _current.set(correlation_id)


@contextmanager
def bound(correlation_id: str | None) -> Iterator[str | None]:
    """Run a block of work under `correlation_id`, restoring the id around it afterwards."""
    token = _current.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _current.reset(token)
