"""The batcher on its own: flushing, ordering, failures and back-pressure."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from inference.batching import Batcher, BatchPolicy
from inference.errors import BatchFailed, Overloaded


@pytest.fixture
def executor():
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


async def test_concurrent_requests_are_batched_and_answered_in_order(executor) -> None:
    sizes: list[int] = []

    def run(model: str, items):
        sizes.append(len(items))
        return [f"{model}:{item * 2}" for item in items]

    batcher = Batcher(current_model=lambda: "m1", run=run, executor=executor,
                      policy=BatchPolicy(max_batch=8, max_wait_ms=20, max_queue=100))
    batcher.start()
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    await batcher.stop()
    assert results == [f"m1:{i * 2}" for i in range(20)]
    assert max(sizes) == 8 and sum(sizes) == 20


async def test_a_lone_request_flushes_after_the_wait(executor) -> None:
    batcher = Batcher(current_model=lambda: None, run=lambda _m, items: list(items), executor=executor,
                      policy=BatchPolicy(max_batch=64, max_wait_ms=5, max_queue=10))
    batcher.start()
    assert await asyncio.wait_for(batcher.submit("x"), timeout=2) == "x"
    await batcher.stop()


async def test_a_failed_batch_fails_each_of_its_requests(executor) -> None:
    def run(_model, items):
        raise RuntimeError("CUDA out of memory (pretend)")

    batcher = Batcher(current_model=lambda: None, run=run, executor=executor,
                      policy=BatchPolicy(max_batch=4, max_wait_ms=20, max_queue=10))
    batcher.start()
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(4)), return_exceptions=True)
    await batcher.stop()
    assert all(isinstance(o, BatchFailed) and "out of memory" in str(o) for o in outcomes)


async def test_a_full_queue_refuses_with_overloaded(executor) -> None:
    gate = threading.Event()

    def run(_model, items):
        gate.wait(5)
        return list(items)

    batcher = Batcher(current_model=lambda: None, run=run, executor=executor,
                      policy=BatchPolicy(max_batch=1, max_wait_ms=0, max_queue=2))
    batcher.start()
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0.05)  # the first batch is now running and holds the gate
    queued = [asyncio.ensure_future(batcher.submit(i)) for i in (1, 2)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await batcher.submit(3)
    gate.set()
    assert await asyncio.gather(first, *queued) == [0, 1, 2]
    await batcher.stop()


async def test_a_swap_takes_effect_at_the_next_batch(executor) -> None:
    current = {"model": "v1"}
    batcher = Batcher(current_model=lambda: current["model"], run=lambda m, items: [m for _ in items],
                      executor=executor, policy=BatchPolicy(max_batch=4, max_wait_ms=1, max_queue=10))
    batcher.start()
    assert await batcher.submit(0) == "v1"
    current["model"] = "v2"
    assert await batcher.submit(0) == "v2"
    await batcher.stop()
