"""Refuse a signed Slack request that arrives a second time within the signature window.

Slack's signature only proves who sent a request and roughly when: anyone who captures one (a
proxy log, a leaked HAR file) can send it again within the 5 minutes the timestamp stays fresh,
and the bot would declare the incident or press the button again. Slack itself never sends the
same signed bytes twice: slash commands and interactions are not retried. Events API retries are
re-signed, so an event is remembered by its signed ``event_id`` instead (see
``handlers/slack/request_gate.py``, which chooses the key).

``ReplayGuard``'s memory is per process, and bounded: entries are forgotten once their timestamp
has left the window (a replay after that fails the timestamp check anyway), and past
``capacity`` the oldest are dropped first, trading an old replay's refusal for bounded memory
under a flood. On PostgreSQL, where several replicas can share the database, ``SharedReplays``
also records each request there, so a replay sent to another replica is refused as well.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.seen_requests import remember_request

log = logging.getLogger(__name__)

# slack_sdk's SignatureVerifier accepts timestamps up to this many seconds from now, either way.
SIGNATURE_WINDOW_SECONDS = 300
DEFAULT_CAPACITY = 100_000


class ReplayGuard:
    def __init__(self, *, window: float = SIGNATURE_WINDOW_SECONDS, capacity: int = DEFAULT_CAPACITY,
                 clock: Callable[[], float] = time.time) -> None:
        self._window = window
        self._capacity = capacity
        self._clock = clock
        # key -> when it may be forgotten. Insertion order is close to expiry order: an event id,
        # kept longer, only delays forgetting the entries behind it, and capacity still bounds all.
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, *, key: str, expires_at: float) -> bool:
        """True the first time a (verified) request's ``key`` is seen; False for a replay of it.

        Call only after the signature has been verified, so that only Slack's own requests (not
        an attacker's junk) take memory. The key is the signature (it covers the timestamp and
        the body, so it alone names the request) or an event's id; it is remembered until
        ``expires_at`` (epoch seconds), when a replay can no longer pass the signature check.
        """
        now = self._clock()
        self._forget_expired(now)
        if key in self._seen:
            return False
        self._seen[key] = expires_at
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def expires_at(self, timestamp: str) -> float:
        """When a request with this timestamp can no longer pass the signature check (epoch seconds)."""
        now = self._clock()
        try:
            sent_at = float(timestamp)
        except ValueError:
            sent_at = now
        # A timestamp up to a window in the future stays acceptable until a window after it.
        return max(sent_at, now) + self._window

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            key, expires = next(iter(self._seen.items()))
            if expires > now:
                return
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


class SharedReplays:
    """The requests every replica has taken, in the database: the first insert of a signature wins.

    A database that cannot be reached does not make every click a 401: the request goes on (the
    process's own ``ReplayGuard`` still refuses what it has seen), and meets the outage itself.
    """

    # Expired rows are swept on every this-many-th request, not on each: one indexed delete.
    SWEEP_EVERY = 200

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._since_sweep = 0

    async def first_time(self, *, key: str, expires_at: float) -> bool:
        expiry = datetime.fromtimestamp(expires_at, UTC)
        try:
            async with self._sessions() as session, session.begin():
                self._since_sweep += 1
                sweep = self._since_sweep >= self.SWEEP_EVERY
                if sweep:
                    self._since_sweep = 0
                await remember_request(session, key=key, expires_at=expiry, now=datetime.now(UTC),
                                       sweep_expired=sweep)
            return True
        except IntegrityError:
            return False
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not check a Slack request against other replicas: %s", exc.__class__.__name__)
            return True
