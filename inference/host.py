"""The models a worker serves: one slot per model, each with its batcher and prediction log.

A slot's model is replaced in one assignment once the new version is fully loaded, so requests
never see a half-loaded model; batches already running finish on the version they started with.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.batching import Batcher, BatchPolicy
from inference.errors import ModelNotFound, ModelNotReady
from inference.inputs import Instance
from inference.metrics import WorkerMetrics
from inference.models.base import Prediction, ServedModel

PREDICTION_LOG_SIZE = 5000

Loader = Callable[[Any, Path], ServedModel]


@dataclass(frozen=True)
class LoggedPrediction:
    at: float
    version: str
    label: str
    confidence: float
    embedding: tuple[float, ...]


@dataclass
class ModelSlot:
    name: str
    batcher: Batcher[ServedModel | None, Instance, tuple[str, Prediction]] | None = None
    model: ServedModel | None = None
    log: deque[LoggedPrediction] = field(default_factory=lambda: deque(maxlen=PREDICTION_LOG_SIZE))
    swap_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _run_batch(model: ServedModel | None, instances: Sequence[Instance]) -> list[tuple[str, Prediction]]:
    if model is None:
        raise ModelNotReady("the model is still loading")
    return [(model.version, p) for p in model.predict(instances)]


class ModelHost:
    def __init__(self, *, registry: Any, loader: Loader, executor: Executor, policy: BatchPolicy,
                 metrics: WorkerMetrics, cache_dir: Path) -> None:
        self._registry = registry
        self._loader = loader
        self._executor = executor
        self._policy = policy
        self._metrics = metrics
        self._cache_dir = cache_dir
        self._slots: dict[str, ModelSlot] = {}

    # --- lifecycle -------------------------------------------------------------------------

    async def load_all(self) -> None:
        for name in await self._call(self._registry.models):
            version = await self._call(self._registry.current, name)
            if version is None:
                versions = await self._call(self._registry.versions, name)
                if not versions:
                    continue
                version = versions[0].version
            await self.swap(name, version, promote=False)

    async def stop(self) -> None:
        for slot in self._slots.values():
            if slot.batcher is not None:
                await slot.batcher.stop()

    def _slot(self, name: str) -> ModelSlot:
        slot = self._slots.get(name)
        if slot is None:
            slot = ModelSlot(name=name)
            slot.batcher = Batcher(
                current_model=lambda s=slot: s.model, run=_run_batch, executor=self._executor, policy=self._policy,
                on_batch=lambda size, _seconds, n=name: self._metrics.batch_size.labels(model=n).observe(size),
            )
            slot.batcher.start()
            self._slots[name] = slot
        return slot

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def swap(self, name: str, version: str, *, promote: bool) -> ServedModel:
        """Load ``version`` fully, then serve it; with ``promote``, also record it in the registry."""
        slot = self._slot(name)
        async with slot.swap_lock:
            manifest = await self._call(self._registry.manifest, name, version)
            folder = self._cache_dir / name / version
            await self._call(self._registry.materialize, name, version, folder)
            model = await self._call(self._loader, manifest, folder)
            if promote:
                await self._call(lambda: self._registry.promote(name, version, actor="worker"))
            slot.model = model
            return model

    async def rollback(self, name: str, steps: int) -> ServedModel:
        self._require(name)
        version = await self._call(lambda: self._registry.rollback(name, steps, actor="worker"))
        return await self.swap(name, version, promote=False)

    # --- serving ---------------------------------------------------------------------------

    def _require(self, name: str) -> ModelSlot:
        slot = self._slots.get(name)
        if slot is None:
            raise ModelNotFound(f"no model named {name!r}")
        return slot

    def served(self, name: str) -> ServedModel:
        model = self._require(name).model
        if model is None:
            raise ModelNotReady(f"{name} is still loading")
        return model

    @property
    def names(self) -> list[str]:
        return sorted(self._slots)

    @property
    def ready(self) -> bool:
        return bool(self._slots) and all(slot.model is not None for slot in self._slots.values())

    async def predict(self, name: str, instances: Sequence[Instance]) -> list[tuple[str, Prediction]]:
        slot = self._require(name)
        if slot.model is None:
            raise ModelNotReady(f"{name} is still loading")
        assert slot.batcher is not None
        started = time.perf_counter()
        results = await asyncio.gather(*(slot.batcher.submit(instance) for instance in instances))
        self._record(slot, results, time.perf_counter() - started)
        return list(results)

    def _record(self, slot: ModelSlot, results: Sequence[tuple[str, Prediction]], seconds: float) -> None:
        metrics = self._metrics
        metrics.requests.labels(model=slot.name).inc()
        metrics.latency.labels(model=slot.name).observe(seconds)
        now = time.time()
        for version, prediction in results:
            metrics.confidence.labels(model=slot.name).observe(prediction.confidence)
            metrics.predictions.labels(model=slot.name, label=prediction.label).inc()
            slot.log.append(LoggedPrediction(now, version, prediction.label, prediction.confidence, prediction.embedding))

    def prediction_log(self, name: str, limit: int) -> list[LoggedPrediction]:
        log = self._require(name).log
        return list(log)[-limit:] if limit > 0 else []

    async def versions(self, name: str) -> list[Any]:
        self._require(name)
        # The registry may be S3: keep its network calls off the event loop.
        return list(await self._call(self._registry.versions, name))
