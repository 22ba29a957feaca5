"""Storing a version's golden-set score when training publishes it, so nobody waits for it later.

Training already runs the new model over its golden set, as serving would, for the drift
baseline; the score comes from those same predictions (``golden.score``, as the worker's
``:evaluate`` computes it) and is stored beside the version (``inference.scores``). The worker
and the bot's accuracy gate then read it without scoring anything. A version trained before
scores were stored is scored (loaded from the registry) when training finds it again.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inference import golden, scores
from inference.errors import InferenceError
from inference.models.loading import ModelLoader
from inference.registry import Manifest, Registry, RegistryError
from inference.scores import StoredScore

log = logging.getLogger(__name__)


def ensure_scored(registry: Registry, manifest: Manifest, *, loader: ModelLoader | None = None) -> StoredScore | None:
    """The version's stored score on its own golden set, computed and stored now if missing.

    None when the version has no golden set, or when scoring it failed: the version stays
    published, and the worker scores it (and says what is wrong) when first asked.
    """
    key = scores.golden_key(manifest)
    if key is None:
        return None
    stored = scores.read_stored(registry, key)
    if stored is not None:
        return stored
    try:
        with tempfile.TemporaryDirectory(prefix="golden-score-") as scratch:
            folder = registry.materialize(manifest.name, manifest.version, Path(scratch) / "version")
            loader = loader or ModelLoader(registry=registry, cache_dir=Path(scratch) / "components")
            model = loader.load(manifest, folder)
            result = golden.evaluate(model, (folder / golden.GOLDEN_FILE).read_bytes())
    except (golden.GoldenSetError, InferenceError, RegistryError, OSError) as exc:
        log.warning("%s %s was published, but scoring it on its golden set failed: %s",
                    manifest.name, manifest.version, exc)
        return None
    return scores.store(registry, key, result)


def store_published(registry: Registry, manifest: Manifest, result: Mapping[str, Any]) -> StoredScore | None:
    """Keep ``result`` (``golden.score`` of the model's predictions on its golden set) as the score of the
    version just published; None when the version has no golden set."""
    key = scores.golden_key(manifest)
    return scores.store(registry, key, result) if key is not None else None
