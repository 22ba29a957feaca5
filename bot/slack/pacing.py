"""Keeping to Slack's posting rate: about one message per second per channel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class ChannelPacer:
    """Spaces writes to the same channel at least ``interval`` seconds apart.

    A turn holds the channel for the whole request and the interval starts when the request is
    done. Counting from when the previous turn *began* would let a request that was slow to go
    out arrive close behind the next one; Slack stamps messages on arrival, so two arrivals must
    never be nearer than ``interval``.
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._free_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        if self._interval <= 0:
            yield
            return
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._free_at.get(channel, 0.0) - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._free_at[channel] = self._clock() + self._interval
