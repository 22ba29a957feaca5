"""The models a worker serves: one slot per model, each with its batcher and prediction log.

A slot's model is replaced in one assignment once the new version is fully loaded, so requests
never see a half-loaded model; batches already running finish on the version they started with.
Loads and rollbacks of one model take turns under its slot's swap lock, and each changes the
registry only after the new version has loaded: a failure leaves everything as it was.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.batching import Batcher, BatchPolicy
from inference.errors import (
    BadRequest,
    BatchFailed,
    DeployRefused,
    InferenceError,
    ModelNotFound,
    ModelNotReady,
    VersionChanged,
)
from inference.inputs import Instance
from inference.metrics import WorkerMetrics
from inference.models.base import Prediction, ServedModel
from inference.registry import RegistryError
from inference.registry.manifest import rollback_target, sha256_of

PREDICTION_LOG_SIZE = 5000
# Versions loaded for evaluation only, kept so that repeated evaluations don't reload them.
SIDE_CACHE_SIZE = 2
DEFAULT_ACTOR = "worker"

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


def _check_serving(slot: ModelSlot, expect: str | None) -> None:
    serving = slot.model.version if slot.model is not None else None
    if expect is not None and expect != serving:
        raise VersionChanged(slot.name, expected=expect, serving=serving)


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
        self._side: OrderedDict[tuple[str, str], ServedModel] = OrderedDict()
        self._side_lock = asyncio.Lock()

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
                current_model=lambda: slot.model, run=_run_batch, executor=self._executor, policy=self._policy,
                on_batch=lambda size, _seconds: self._metrics.batch_size.labels(model=name).observe(size),
            )
            slot.batcher.start()
            self._slots[name] = slot
        return slot

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def swap(self, name: str, version: str, *, promote: bool, expect: str | None = None,
                   actor: str = DEFAULT_ACTOR) -> ServedModel:
        """Load ``version`` fully, then serve it; with ``promote``, also record it in the registry.

        ``expect`` is the version the caller believes is serving; if another one is, nothing is done.
        """
        slot = self._slot(name)
        async with slot.swap_lock:
            _check_serving(slot, expect)
            model = await self._load(name, version)
            if promote:
                await self._call(lambda: self._registry.promote(name, version, actor=actor))
            slot.model = model
            return model

    async def rollback(self, name: str, steps: int, *, expect: str | None = None,
                       actor: str = DEFAULT_ACTOR) -> ServedModel:
        """Go back ``steps`` deploys in the registry's deploy log, never half-way.

        The target is loaded before the rollback is recorded, and served only once it is recorded,
        so a version that cannot load leaves both the served model and the registry as they were.
        """
        slot = self._require(name)
        async with slot.swap_lock:
            _check_serving(slot, expect)
            records = await self._call(self._registry.deploy_log, name)
            try:
                target = rollback_target(name, records, steps)
            except RegistryError as exc:
                raise DeployRefused(f"{exc}; nothing was changed") from exc
            model = await self._load(name, target)
            recorded = await self._call(lambda: self._registry.rollback(name, steps, actor=actor))
            if recorded != target:
                # Another process deployed between our read of the log and our write to it; the
                # registry's log is the truth, so serve what it recorded.
                try:
                    model = await self._load(name, recorded)
                except (InferenceError, RegistryError) as exc:
                    raise InferenceError(f"the registry now has {name} {recorded} serving (another deploy came "
                                         f"first), but the worker could not load it: {exc}") from exc
            slot.model = model
            return model

    async def _load(self, name: str, version: str) -> ServedModel:
        manifest = await self._call(self._registry.manifest, name, version)
        folder = self._cache_dir / name / version
        await self._call(self._registry.materialize, name, version, folder)
        try:
            return await self._call(self._loader, manifest, folder)
        except RegistryError:
            raise  # a fusion's components come from the registry: its errors keep their meaning
        except Exception as exc:
            raise DeployRefused(f"{name} {version} cannot be loaded: {exc}; nothing was changed") from exc

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
    def registry(self) -> Any:
        """The registry the versions come from; its methods block: call them through ``run_blocking``."""
        return self._registry

    @property
    def names(self) -> list[str]:
        return sorted(self._slots)

    @property
    def ready(self) -> bool:
        return bool(self._slots) and all(slot.model is not None for slot in self._slots.values())

    async def predict(self, name: str, instances: Sequence[Instance], *,
                      log: bool = True) -> list[tuple[str, Prediction]]:
        """Answer ``instances``; ``log=False`` (the bot's own probes) keeps them out of the
        prediction log and its counters, so diagnostics never measure their own traffic."""
        slot = self._require(name)
        if slot.model is None:
            raise ModelNotReady(f"{name} is still loading")
        assert slot.batcher is not None
        started = time.perf_counter()
        results = await asyncio.gather(*(slot.batcher.submit(instance) for instance in instances))
        self._record(slot, results, time.perf_counter() - started, log=log)
        return list(results)

    async def embed(self, name: str, texts: Sequence[str]) -> tuple[str, list[list[float]]]:
        """(version, one unit-length sentence embedding per text) from the served text model.

        Embeddings are not predictions: they skip the batcher and stay out of the prediction log,
        so drift and confidence checks never see them.
        """
        model = self.served(name)
        embed = getattr(model, "embed", None)
        if not callable(embed):
            raise BadRequest(f"{name} is a {model.kind} model; only text models give embeddings")
        try:
            vectors = await self._call(embed, list(texts))
        except InferenceError:
            raise
        except Exception as exc:  # a model bug fails its request, not the worker
            raise BatchFailed(f"embedding failed: {exc.__class__.__name__}: {exc}") from exc
        return model.version, vectors

    def _record(self, slot: ModelSlot, results: Sequence[tuple[str, Prediction]], seconds: float, *,
                log: bool = True) -> None:
        metrics = self._metrics
        metrics.requests.labels(model=slot.name).inc()
        metrics.latency.labels(model=slot.name).observe(seconds)
        if not log:
            return
        now = time.time()
        for version, prediction in results:
            metrics.confidence.labels(model=slot.name).observe(prediction.confidence)
            metrics.predictions.labels(model=slot.name, label=prediction.label).inc()
            slot.log.append(LoggedPrediction(now, version, prediction.label, prediction.confidence,
                                             prediction.embedding))

    def prediction_log(self, name: str, limit: int) -> list[LoggedPrediction]:
        log = self._require(name).log
        return list(log)[-limit:] if limit > 0 else []

    async def deploy_log(self, name: str) -> list[Any]:
        self._require(name)
        return list(await self._call(self._registry.deploy_log, name))

    async def versions(self, name: str) -> list[Any]:
        self._require(name)
        # The registry may be S3: keep its network calls off the event loop.
        return list(await self._call(self._registry.versions, name))

    # --- versions beside the served one (evaluation) ---------------------------------------

    async def version_model(self, name: str, version: str) -> ServedModel:
        """``version`` of ``name``, loaded beside the served one (never swapped in)."""
        served = self._require(name).model
        if served is not None and served.version == version:
            return served
        async with self._side_lock:
            key = (name, version)
            if key in self._side:
                self._side.move_to_end(key)
                return self._side[key]
            model = await self._load(name, version)
            self._side[key] = model
            while len(self._side) > SIDE_CACHE_SIZE:
                self._side.popitem(last=False)
            return model

    async def version_file(self, name: str, version: str, file_name: str) -> bytes | None:
        """One file of a version, checked against its manifest; None when the version has no such file."""
        self._require(name)
        manifest = await self._call(self._registry.manifest, name, version)
        if file_name not in manifest.files:
            return None
        folder = self._cache_dir / name / version

        def read() -> bytes:
            path = folder / file_name
            if not path.exists() or sha256_of(path) != manifest.files[file_name]:
                self._registry.materialize(name, version, folder)
            return path.read_bytes()

        return await self._call(read)

    async def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run slow work (an evaluation) on the worker's executor, off the event loop."""
        return await self._call(fn, *args)
