"""The worker's golden-set scores: read from the registry when stored, else computed once and stored.

Scoring a version takes seconds (every golden example through the model), longer than a caller
such as a Slack form can wait. So each (version, golden set) is scored at most once: requests that
ask while it is being scored share that one run, and the run goes on when a caller stops waiting
(it is shielded from the request), so whoever asks next finds the score stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from inference import golden, scores
from inference.errors import NoGoldenSet
from inference.host import ModelHost
from inference.metrics import WorkerMetrics
from inference.registry import Manifest
from inference.scores import ScoreKey, StoredScore


class VersionScores:
    def __init__(self, host: ModelHost, metrics: WorkerMetrics) -> None:
        self._host = host
        self._metrics = metrics
        # Only scores that were read or written: a stored score never changes, a missing one may appear.
        self._known: dict[ScoreKey, StoredScore] = {}
        self._running: dict[ScoreKey, asyncio.Task[StoredScore]] = {}

    async def evaluate(self, name: str, version: str, *, golden_from: str | None = None) -> dict[str, Any]:
        """``version`` scored on its own golden set, or on ``golden_from``'s, so two versions meet the same data."""
        registry = self._host.registry
        manifest: Manifest = await self._host.run_blocking(registry.manifest, name, version)
        source = manifest
        if golden_from is not None and golden_from != version:
            source = await self._host.run_blocking(registry.manifest, name, golden_from)
        key = scores.golden_key(manifest, source)
        if key is None:
            raise NoGoldenSet(f"{name} {source.version} was published without a golden set ({golden.GOLDEN_FILE}); "
                              "retrain it, or evaluate on another version's with golden_from")
        return (await self.score(key)).answer()

    async def score(self, key: ScoreKey) -> StoredScore:
        known = self._known.get(key)
        if known is not None:
            return known
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._stored_or_scored(key))
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # A caller that stops waiting (a client's time limit) leaves the scoring running, to be stored.
        return await asyncio.shield(task)

    def _finished(self, key: ScoreKey, task: asyncio.Task[StoredScore]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled() and task.exception() is None:
            self._known[key] = task.result()

    async def _stored_or_scored(self, key: ScoreKey) -> StoredScore:
        registry = self._host.registry
        stored: StoredScore | None = await self._host.run_blocking(scores.read_stored, registry, key)
        if stored is not None:
            return stored
        raw = await self._host.version_file(key.name, key.golden_version, golden.GOLDEN_FILE)
        if raw is None:  # the manifest lists it: the registry lost it since
            raise NoGoldenSet(f"{key.name} {key.golden_version}'s golden set cannot be read")
        model = await self._host.version_model(key.name, key.version)
        try:
            result = await self._host.run_blocking(golden.evaluate, model, raw)
        except golden.GoldenSetError as exc:
            raise NoGoldenSet(f"{key.name} {key.golden_version}: {exc}") from exc
        self._metrics.golden_scorings.labels(model=key.name).inc()
        return await self._host.run_blocking(scores.store, registry, key, result)

    async def summaries(self, manifests: Sequence[Manifest], serving: str | None) -> dict[str, dict[str, Any] | None]:
        """Each version's stored score on the golden set a gate scores it on (its own, else the serving
        version's), without scoring anything: one cheap read per version not seen before."""
        serving_manifest = next((m for m in manifests if m.version == serving), None)
        keys = {m.version: scores.default_key(m, serving_manifest) for m in manifests}
        unseen = [key for key in keys.values() if key is not None and key not in self._known]
        if unseen:
            found = await self._host.run_blocking(scores.read_many, self._host.registry, unseen)
            self._known.update({key: stored for key, stored in zip(unseen, found, strict=True) if stored is not None})
        return {version: self._known[key].summary() if key is not None and key in self._known else None
                for version, key in keys.items()}

    async def stop(self) -> None:
        """Cancel scorings still running (the worker is shutting down; nothing half-stored remains)."""
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
