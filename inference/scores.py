"""Golden-set scores kept with the versions they describe.

A version's weights and golden set never change, so how it scores on a golden set is a fact of
the version: it is computed once (by training when it publishes the version, or by the worker on
the first ``:evaluate``) and stored in the registry beside the version, one record per golden set
it was scored on. A record names the golden set's sha256; one that cannot be read, or that
describes other data, counts as absent, so the version is scored again and the record rewritten.

Blocking (the registry is), and no torch: the worker runs these on its executor.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from inference.golden import GOLDEN_FILE
from inference.registry import Manifest, Registry, RegistryError
from inference.registry.manifest import utc_now

log = logging.getLogger(__name__)

SCORE_FORMAT: Final = 1
# What a version's description carries of its stored score: enough for a gate, not the confusion matrix.
SUMMARY_FIELDS: Final = ("accuracy", "macro_f1", "examples")


@dataclass(frozen=True)
class ScoreKey:
    """One version scored on one golden set (the version's own, or ``golden_version``'s)."""

    name: str
    version: str
    golden_version: str
    golden_sha256: str


@dataclass(frozen=True)
class StoredScore:
    key: ScoreKey
    scored_at: str
    result: dict[str, Any]  # ``golden.score``'s answer: accuracy, macro_f1, per class, confusion matrix

    def to_bytes(self) -> bytes:
        key = self.key
        return json.dumps({"format": SCORE_FORMAT, "name": key.name, "version": key.version,
                           "golden_version": key.golden_version, "golden_sha256": key.golden_sha256,
                           "scored_at": self.scored_at, "result": self.result},
                          sort_keys=True, allow_nan=False).encode()

    def answer(self) -> dict[str, Any]:
        """The worker's ``:evaluate`` answer."""
        key = self.key
        return {"name": key.name, "version": key.version, "golden_version": key.golden_version,
                **self.result, "scored_at": self.scored_at}

    def summary(self) -> dict[str, Any]:
        """What ``GET /v1/models/{name}`` shows of it, beside the version."""
        return {"golden_version": self.key.golden_version, "scored_at": self.scored_at,
                **{field: self.result[field] for field in SUMMARY_FIELDS if field in self.result}}


def golden_key(manifest: Manifest, golden: Manifest | None = None) -> ScoreKey | None:
    """The key of ``manifest``'s version scored on ``golden``'s golden set (its own by default);
    None when that version was published without one."""
    golden = golden or manifest
    digest = golden.files.get(GOLDEN_FILE)
    if digest is None:
        return None
    return ScoreKey(manifest.name, manifest.version, golden.version, digest)


def default_key(manifest: Manifest, serving: Manifest | None) -> ScoreKey | None:
    """The golden set a gate scores a version on: its own, or the serving version's when it has none."""
    return golden_key(manifest) or (golden_key(manifest, serving) if serving is not None else None)


def parse_stored(raw: bytes, key: ScoreKey) -> StoredScore | None:
    """The record in ``raw`` if it is a readable score for exactly ``key``; None otherwise."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != SCORE_FORMAT:
        return None
    named = (data.get("name"), data.get("version"), data.get("golden_version"), data.get("golden_sha256"))
    if named != (key.name, key.version, key.golden_version, key.golden_sha256):
        return None  # another version's record, or one scored on a golden set that has since changed
    result, scored_at = data.get("result"), data.get("scored_at")
    if not isinstance(result, dict) or not isinstance(scored_at, str) or not _plausible(result):
        return None
    return StoredScore(key=key, scored_at=scored_at, result=result)


def _plausible(result: Mapping[str, Any]) -> bool:
    accuracy, macro_f1, examples = (result.get(field) for field in SUMMARY_FIELDS)
    return (_fraction(accuracy) and _fraction(macro_f1) and isinstance(examples, int)
            and not isinstance(examples, bool) and examples > 0)


def _fraction(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= 1)


def read_stored(registry: Registry, key: ScoreKey) -> StoredScore | None:
    """The stored score for ``key``, or None: never stored, unreadable, or the registry failed to answer
    (a score missing here is computed again, which is slower but never wrong)."""
    try:
        raw = registry.read_evaluation(key.name, key.version, key.golden_version)
    except RegistryError as exc:
        log.warning("cannot read the stored score of %s %s: %s", key.name, key.version, exc)
        return None
    if raw is None:
        return None
    stored = parse_stored(raw, key)
    if stored is None:
        log.warning("the stored score of %s %s on %s's golden set is unreadable; it will be scored again",
                    key.name, key.version, key.golden_version)
    return stored


def read_many(registry: Registry, keys: Sequence[ScoreKey]) -> list[StoredScore | None]:
    return [read_stored(registry, key) for key in keys]


def store(registry: Registry, key: ScoreKey, result: Mapping[str, Any]) -> StoredScore:
    """Keep ``result`` as the score for ``key``. A failure to write is logged, not raised: the score
    itself stands, and the next request scores the version again."""
    stored = StoredScore(key=key, scored_at=utc_now().isoformat(timespec="seconds"), result=dict(result))
    try:
        registry.write_evaluation(key.name, key.version, key.golden_version, stored.to_bytes())
    except (RegistryError, TypeError, ValueError) as exc:
        log.warning("cannot store the score of %s %s: %s", key.name, key.version, exc)
    return stored
