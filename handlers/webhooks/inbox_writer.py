"""Group commit for webhook deliveries: the appends that arrive together share one transaction.

A delivery's request hands its signal to the writer and waits. One task takes everything
waiting, appends it all to the inbox (``bot.core.inbox.append_many``) in one statement, commits,
and answers every waiter; what arrived meanwhile is the next batch. Under a storm a commit (the
costly part: one fsync on SQLite, one round trip and a WAL flush on PostgreSQL) is paid per
batch instead of per delivery, and nobody is answered 2xx before their delivery is durable.

A batch that fails on something other than the connection is retried one delivery per
transaction, so one bad delivery gets its own error and the rest of its batch still goes in;
and nothing a delivery holds can stop the writer's task, which every later delivery needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.core import inbox
from bot.core.errors import OutsideReplayWindow
from bot.core.inbox import Appended, Arrival, Backlog
from bot.core.signals import AlertSignal
from bot.core.unit_of_work import Core
from bot.metrics import Metrics

log = logging.getLogger(__name__)


class InboxFull(Exception):
    """The backlog is over its bound: answer 503, so the sender keeps the delivery for later."""


@dataclass
class InboxState:
    """What this process knows of the inbox's backlog: measured by the processor after each of
    its passes (shared by every replica, so it counts theirs too), plus what this process
    appended since."""

    max_backlog: int
    pending: int = 0
    oldest_age: float = 0.0

    def measured(self, backlog: Backlog, *, age: float) -> None:
        self.pending, self.oldest_age = backlog.pending, age

    @property
    def full(self) -> bool:
        return self.pending >= self.max_backlog


@dataclass
class _Waiting:
    signal: AlertSignal
    body: str
    answer: asyncio.Future[Appended] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class InboxWriter:
    def __init__(self, *, core: Core, metrics: Metrics, state: InboxState, appended: Callable[[], None],
                 max_batch: int = 256) -> None:
        self._core = core
        self._appended = appended  # wakes the processor
        self._metrics = metrics
        self.state = state
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Set while no delivery waits for its append: the processor gives way until it is.
        self.idle = asyncio.Event()
        self.idle.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for waiting in self._waiting:  # never answered 2xx: their senders retry them
            if not waiting.answer.done():
                waiting.answer.set_exception(ConnectionError("the bot is shutting down"))
        self._waiting.clear()

    async def append(self, signal: AlertSignal, body: str) -> Appended:
        """The delivery's place in the inbox, once committed. Raises ``InboxFull``,
        ``OutsideReplayWindow``, or the database's error (``SQLAlchemyError``, ``OSError``)."""
        if self.state.full:
            raise InboxFull()
        waiting = _Waiting(signal, body)
        self._waiting.append(waiting)
        self.idle.clear()
        self._arrived.set()
        return await waiting.answer

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
                await self._commit(batch)

    async def _commit(self, batch: list[_Waiting]) -> None:
        self.idle.clear()
        try:
            await self._commit_batch(batch)
        finally:
            if not self._waiting:
                self.idle.set()

    async def _commit_batch(self, batch: list[_Waiting]) -> None:
        try:
            answers = await self._append_all(batch)
        except (SQLAlchemyError, OSError) as exc:
            if len(batch) == 1 or _is_connection_error(exc):
                _fail(batch, exc)
                return
            log.warning("an inbox batch of %d failed (%s); appending them one by one", len(batch),
                        exc.__class__.__name__)
            for waiting in batch:
                await self._commit_batch([waiting])
            return
        except asyncio.CancelledError:
            _fail(batch, ConnectionError("the bot is shutting down"))
            raise
        except Exception as exc:  # a bug met by one delivery: its sender gets a 503, the writer goes on
            if len(batch) > 1:
                for waiting in batch:
                    await self._commit_batch([waiting])
                return
            log.exception("could not append a delivery to the inbox")
            _fail(batch, ConnectionError(f"the delivery could not be stored ({exc.__class__.__name__})"))
            return
        self._metrics.inbox_batch.observe(len(batch))
        new = 0
        for waiting, answer in zip(batch, answers, strict=True):
            if waiting.answer.done():
                continue
            if isinstance(answer, BaseException):
                waiting.answer.set_exception(answer)
            else:
                new += 0 if answer.duplicate else 1
                waiting.answer.set_result(answer)
        self.state.pending += new
        if new:
            self._appended()

    async def _append_all(self, batch: list[_Waiting]) -> list[Appended | OutsideReplayWindow]:
        now = self._core.clock()
        async with self._core.sessions() as session, session.begin():
            return await inbox.append_many(session, [Arrival(w.signal, w.body) for w in batch], now=now)


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for waiting in batch:
        if not waiting.answer.done():
            waiting.answer.set_exception(exc)


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
