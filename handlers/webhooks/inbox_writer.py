"""Group commit for webhook deliveries: the appends that arrive together share one transaction.

A delivery's request hands its signal to the writer and waits. The writer's thread takes
everything waiting, appends it all to the inbox (``bot.core.inbox.append_many``) in one
statement, commits, and answers every waiter; what arrived meanwhile is the next batch. Under a
storm a commit (the costly part: one fsync on SQLite, one round trip and a WAL flush on
PostgreSQL) is paid per batch instead of per delivery, and nobody is answered 2xx before their
delivery is durable.

The thread has a synchronous connection of its own and goes from one batch straight to the next.
Run from the event loop instead, with the async driver, every statement was a hand-off to the
driver and a wait for the loop to come round again, behind the requests that arrived meanwhile
(and on SQLite, a queue for the one connection every other job shares): under a storm that
waiting, not the work, was most of an ack. The loop now only queues deliveries and hands the
answers back.

A batch that fails on something other than the connection is retried one delivery per
transaction, so one bad delivery gets its own error and the rest of its batch still goes in;
and nothing a delivery holds can stop the thread, which every later delivery needs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from bot.core import inbox
from bot.core.clock import Clock
from bot.core.errors import OutsideReplayWindow
from bot.core.inbox import Appended, Arrival, Backlog
from bot.core.signals import AlertSignal
from bot.metrics import Metrics

log = logging.getLogger(__name__)

Answer = Appended | BaseException
# On SQLite, how long an append waits for the write lock, and how often it asks for it.
LOCK_WAIT_SECONDS = 10.0
LOCK_RETRY_SECONDS = 0.0005
SQLITE_BUSY = 5  # sqlite3's result code for "database is locked"


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
    arrival: Arrival
    answer: asyncio.Future[Appended] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class InboxWriter:
    def __init__(self, *, engine: Engine, clock: Clock, metrics: Metrics, state: InboxState,
                 appended: Callable[[], None], max_batch: int = 256) -> None:
        self._engine = engine  # synchronous, used from the writer's thread only
        self._clock = clock
        self._appended = appended  # wakes the processor
        self._metrics = metrics
        self.state = state
        self._max_batch = max_batch
        self._queue: deque[_Waiting] = deque()  # filled by the loop, emptied by the thread
        self._arrived = threading.Condition()
        self._stopping = False
        self._sleeping = False  # the thread waits for the first delivery of a batch
        # Appends asked for since start: the processor reads a storm from how fast it grows.
        self.arrivals = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    async def aclose(self) -> None:
        with self._arrived:
            self._stopping = True
            self._arrived.notify()
        if self._thread is not None:
            # A batch already taken commits (its senders' retries are then duplicates).
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        while self._queue:  # never answered 2xx: their senders retry them
            _settle(self._queue.popleft(), ConnectionError("the bot is shutting down"))
        self._engine.dispose()

    def submit(self, signal: AlertSignal, body: str) -> asyncio.Future[Appended]:
        """Queue the delivery; the future is its place in the inbox once committed, or fails with
        ``OutsideReplayWindow`` or the database's error (``SQLAlchemyError``, ``OSError``).
        Raises ``InboxFull`` at once past the backlog bound. A future, not a task: in a storm
        each request would otherwise pay for a task of its own."""
        if self.state.full:
            raise InboxFull()
        if self._stopping or self._thread is None or not self._thread.is_alive():
            raise ConnectionError("the inbox writer is not running")
        waiting = _Waiting(Arrival(signal, body))
        self.arrivals += 1
        with self._arrived:
            self._queue.append(waiting)
            if self._sleeping:  # only then: waking a thread that is busy anyway costs the GIL twice
                self._arrived.notify()
        return waiting.answer

    # --- the writer's thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._arrived:
                while not self._queue and not self._stopping:
                    self._sleeping = True
                    self._arrived.wait()
                    self._sleeping = False
                if self._stopping:
                    return
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            answers = self._commit(batch)
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._answer, batch, answers)
            except RuntimeError:  # the loop closed under us: nobody is left to answer
                return

    def _commit(self, batch: list[_Waiting]) -> list[Answer]:
        try:
            return list(self._append(batch))
        except (SQLAlchemyError, OSError) as exc:
            if len(batch) == 1 or _is_connection_error(exc):
                return [exc] * len(batch)
            log.warning("an inbox batch of %d failed (%s); appending them one by one", len(batch),
                        exc.__class__.__name__)
            return [answer for waiting in batch for answer in self._commit([waiting])]
        except Exception as exc:  # a bug met by one delivery: its sender gets a 503, the writer goes on
            if len(batch) > 1:
                return [answer for waiting in batch for answer in self._commit([waiting])]
            log.exception("could not append a delivery to the inbox")
            return [ConnectionError(f"the delivery could not be stored ({exc.__class__.__name__})")]

    def _append(self, batch: Sequence[_Waiting]) -> list[Appended | OutsideReplayWindow]:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                with self._engine.begin() as connection:
                    return inbox.append_many(connection, [waiting.arrival for waiting in batch], now=self._clock())
            except OperationalError as exc:
                if not _is_sqlite_busy(exc) or time.monotonic() > deadline:
                    raise
            # SQLite's own busy handler sleeps longer and longer (up to 100 ms) and loses the lock
            # to writers that ask while it sleeps: under a storm beside the processor's passes,
            # appends waited up to a second. Asking again every half millisecond takes the lock
            # as soon as it is free. (The engine's busy timeout is 0: see bot/app.py.)
            time.sleep(LOCK_RETRY_SECONDS)

    # --- back on the loop --------------------------------------------------------------------

    def _answer(self, batch: list[_Waiting], answers: list[Answer]) -> None:
        self._metrics.inbox_batch.observe(len(batch))
        new = 0
        for waiting, answer in zip(batch, answers, strict=True):
            if isinstance(answer, Appended) and not answer.duplicate:
                new += 1
            _settle(waiting, answer)
        self.state.pending += new
        if new:
            self._appended()


def _settle(waiting: _Waiting, answer: Answer) -> None:
    if waiting.answer.done():  # its request gave up waiting; the append stands
        return
    if isinstance(answer, BaseException):
        waiting.answer.set_exception(answer)
    else:
        waiting.answer.set_result(answer)


def _is_sqlite_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == SQLITE_BUSY  # SQLITE_BUSY or one of its extended codes


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
