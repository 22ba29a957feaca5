"""Which version of a model the worker serves, from its ``GET /v1/models/{name}`` description: the
version, when its weights were published, when it began serving, and a digest of its files.

A field the worker did not give (or gave in a shape this reader does not know) is ``None`` or
empty, never an error: the replay can still run, it just says less.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ServingVersion:
    model: str
    version: str | None  # None: the model is not serving (still loading)
    created_at: datetime | None = None  # when the version's weights were published
    serving_since: datetime | None = None  # the deploy that put it in service
    deployed_by: str | None = None
    weights_digest: str = ""  # sha256 over the manifest's file digests; "" when unknown
    notes: str = ""

    @property
    def label(self) -> str:
        return f"{self.model} {self.version or '(not serving)'}"


def serving_version(model: str, description: Mapping[str, Any]) -> ServingVersion:
    version = description.get("version")
    if not isinstance(version, str) or not version:
        return ServingVersion(model=model, version=None)
    manifest = next((m for m in _dicts(description.get("versions")) if m.get("version") == version), {})
    files = manifest.get("files")
    deploys = _dicts(description.get("deploys"))
    # The deploy log's last entry put the current version in service; an older entry naming the
    # same version is an earlier stint, not this one.
    last = deploys[-1] if deploys and deploys[-1].get("version") == version else {}
    actor = last.get("actor")
    notes = manifest.get("notes")
    return ServingVersion(
        model=model, version=version, created_at=_time(manifest.get("created_at")),
        serving_since=_time(last.get("deployed_at")), deployed_by=actor if isinstance(actor, str) else None,
        weights_digest=weights_digest(files) if isinstance(files, Mapping) and files else "",
        notes=notes if isinstance(notes, str) else "")


def weights_digest(files: Mapping[str, Any]) -> str:
    canonical = json.dumps({str(k): str(v) for k, v in files.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
