"""Dynamic batching: one bounded queue per model, flushed at the batch size or after a few ms.

Requests wait on futures; a flush runs the batch in a worker thread (torch releases the GIL in
its kernels), so the event loop keeps accepting requests. The model is looked up at the start
of each batch, which is what makes a hot swap safe: a batch already running finishes on the
model it started with, and the next batch uses the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

from inference.errors import BatchFailed, InferenceError, Overloaded

Item = TypeVar("Item")
Result = TypeVar("Result")
Model = TypeVar("Model")


@dataclass(frozen=True)
class BatchPolicy:
    max_batch: int = 16
    max_wait_ms: float = 4.0
    max_queue: int = 256


@dataclass
class _Pending(Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result]
    enqueued: float


class Batcher(Generic[Model, Item, Result]):
    """Collects items into batches and runs ``run(model, items)`` off the event loop."""

    def __init__(
        self,
        *,
        current_model: Callable[[], Model],
        run: Callable[[Model, Sequence[Item]], Sequence[Result]],
        executor: Executor,
        policy: BatchPolicy = BatchPolicy(),
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self._current_model = current_model
        self._run = run
        self._executor = executor
        self._policy = policy
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending[Item, Result]] = asyncio.Queue(maxsize=policy.max_queue)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(Overloaded("the worker is shutting down"))

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(item, future, time.perf_counter()))
        except asyncio.QueueFull:
            raise Overloaded("the model's queue is full; retry shortly") from None
        return await future

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = time.perf_counter() + self._policy.max_wait_ms / 1000
            while len(batch) < self._policy.max_batch:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout=remaining))
                except TimeoutError:
                    break
            await self._flush(batch)

    async def _flush(self, batch: list[_Pending[Item, Result]]) -> None:
        live = [p for p in batch if not p.future.done()]  # a caller that gave up is skipped
        if not live:
            return
        model = self._current_model()
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._run, model, [p.item for p in live])
            if len(results) != len(live):
                raise BatchFailed(f"the model returned {len(results)} results for {len(live)} inputs")
        except InferenceError as exc:
            _fail_all(live, exc)
            return
        except Exception as exc:  # a model bug fails its batch, not the worker
            _fail_all(live, BatchFailed(f"inference failed: {exc.__class__.__name__}: {exc}"))
            return
        finally:
            if self._on_batch is not None:
                self._on_batch(len(live), time.perf_counter() - started)
        for pending, result in zip(live, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)


def _fail_all(batch: Sequence[_Pending[Item, Result]], exc: InferenceError) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)
