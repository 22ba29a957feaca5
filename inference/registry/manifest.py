"""What the registry stores about a model: version manifests, the deploy log, and their rules.

Plain data and pure functions; the storage backends (``local``, ``s3``) only move the bytes.
A manifest is the proof that a version is complete: backends write it last, and a version
folder without one is a publish still in progress (or one that died), which readers skip.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, get_args

from inference.registry.errors import (
    CorruptVersion,
    InvalidManifest,
    InvalidModelName,
    RegistryError,
)

MODEL_NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
VERSION_PATTERN: Final = re.compile(r"^v[1-9][0-9]*$")
# Flat names only: a file name never reaches outside its version's folder.
FILE_NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MANIFEST_FILE: Final = "manifest.json"
# Where a version's stored golden-set scores lie, beside its files; no file name starts with a dot.
EVALUATIONS_DIR: Final = ".evaluations"
CHUNK_SIZE: Final = 1 << 20

ModelKind = Literal["text", "image", "fusion"]
DeployAction = Literal["promote", "rollback"]
MODEL_KINDS: Final[tuple[str, ...]] = get_args(ModelKind)


def utc_now() -> datetime:
    return datetime.now(UTC)


def validate_model_name(name: object) -> str:
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.match(name):
        raise InvalidModelName(
            f"invalid model name {name!r}: use 1-63 characters, lowercase letters, digits and "
            "'-', starting with a letter"
        )
    return name


def is_model_name(name: str) -> bool:
    return bool(MODEL_NAME_PATTERN.match(name))


def is_version(version: str) -> bool:
    return bool(VERSION_PATTERN.match(version))


def version_number(version: str) -> int:
    if not is_version(version):
        raise InvalidManifest(f"invalid version {version!r}: versions are 'v1', 'v2', ...")
    return int(version[1:])


def version_name(number: int) -> str:
    return f"v{number}"


def newest_first(versions: Iterable[str]) -> list[str]:
    return sorted((v for v in versions if is_version(v)), key=version_number, reverse=True)


def validate_file_names(names: Iterable[str]) -> list[str]:
    names = list(names)
    if not names:
        raise InvalidManifest("a version needs at least one file (its weights)")
    for file_name in names:
        if not isinstance(file_name, str) or not FILE_NAME_PATTERN.match(file_name) \
                or file_name == MANIFEST_FILE:
            raise InvalidManifest(
                f"invalid file name {file_name!r}: use a flat name of letters, digits, '.', '_' "
                f"and '-' (not {MANIFEST_FILE!r})"
            )
    return names


@dataclass(frozen=True)
class Manifest:
    """One published version of a model. ``files`` maps each file name to its sha256 (hex)."""

    name: str
    version: str
    kind: ModelKind
    labels: list[str]
    created_at: datetime
    parent: str | None
    data_hash: str
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        validate_model_name(self.name)
        version_number(self.version)
        if self.parent is not None:
            version_number(self.parent)
        if self.kind not in MODEL_KINDS:
            raise InvalidManifest(f"invalid kind {self.kind!r}: one of {', '.join(MODEL_KINDS)}")
        labels = list(self.labels) if isinstance(self.labels, (list, tuple)) else None
        if not labels or not all(isinstance(x, str) and x for x in labels) \
                or len(set(labels)) != len(labels):
            raise InvalidManifest("labels must be a non-empty list of distinct, non-empty strings")
        if not isinstance(self.created_at, datetime) or self.created_at.utcoffset() is None:
            raise InvalidManifest("created_at must be a timezone-aware datetime")
        for text_field in ("data_hash", "notes"):
            if not isinstance(getattr(self, text_field), str):
                raise InvalidManifest(f"{text_field} must be a string")
        _check_metrics(self.metrics, "metrics")
        _check_json_object(self.config, "config")
        if not isinstance(self.files, Mapping):
            raise InvalidManifest("files must map file names to sha256 digests")
        validate_file_names(self.files)
        if not all(isinstance(d, str) and re.fullmatch(r"[0-9a-f]{64}", d) for d in self.files.values()):
            raise InvalidManifest("files must map each file name to a hex sha256 digest")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))
        object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(self, "config", dict(self.config))
        object.__setattr__(self, "files", dict(self.files))

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        data = _load_object(text, "manifest")
        expected = {f.name for f in fields(cls)}
        if set(data) != expected:
            missing, unknown = expected - set(data), set(data) - expected
            raise InvalidManifest(f"manifest fields wrong: missing {sorted(missing)}, "
                                  f"unknown {sorted(unknown)}")
        data["created_at"] = _parse_time(data["created_at"], "created_at")
        return cls(**data)


@dataclass(frozen=True)
class DeployRecord:
    """One entry of a model's deploy log. ``steps`` is how far a rollback went back (0 for a
    promote)."""

    version: str
    deployed_at: datetime
    actor: str
    action: DeployAction
    steps: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "deployed_at": self.deployed_at.isoformat()}

    @classmethod
    def from_dict(cls, data: object) -> DeployRecord:
        if not isinstance(data, dict):
            raise InvalidManifest("deploy log entries must be objects")
        try:
            record = cls(version=data["version"], actor=data["actor"], action=data["action"],
                         steps=data.get("steps", 0),
                         deployed_at=_parse_time(data["deployed_at"], "deployed_at"))
        except KeyError as exc:
            raise InvalidManifest(f"deploy log entry lacks {exc.args[0]!r}") from exc
        version_number(record.version)
        if record.action not in get_args(DeployAction) or not isinstance(record.steps, int) \
                or not isinstance(record.actor, str):
            raise InvalidManifest(f"invalid deploy log entry {data!r}")
        return record


def dump_deploy_log(records: Iterable[DeployRecord]) -> str:
    return json.dumps({"deploys": [r.to_dict() for r in records]}, indent=2) + "\n"


def load_deploy_log(text: str | bytes) -> list[DeployRecord]:
    data = _load_object(text, "deploy log")
    entries = data.get("deploys")
    if not isinstance(entries, list):
        raise InvalidManifest("deploy log must be an object with a 'deploys' list")
    return [DeployRecord.from_dict(entry) for entry in entries]


def serving_history(records: Iterable[DeployRecord]) -> list[str]:
    """The stack of deploys still in effect, oldest first; its last entry is the serving one.

    A promote pushes a version; a rollback of ``steps`` pops that many deploys, so rolling back
    twice by one walks back through two earlier deploys, never sideways between two versions.
    """
    stack: list[str] = []
    for record in records:
        if record.action == "promote":
            stack.append(record.version)
        else:
            del stack[max(len(stack) - record.steps, 1):]
    return stack


def rollback_target(name: str, records: Iterable[DeployRecord], steps: int) -> str:
    if not isinstance(steps, int) or steps < 1:
        raise RegistryError(f"rollback steps must be a positive whole number, not {steps!r}")
    stack = serving_history(records)
    if not stack:
        raise RegistryError(f"model {name!r} has never been promoted: there is nothing to roll back")
    if steps >= len(stack):
        raise RegistryError(
            f"cannot roll back model {name!r} by {steps} deploy(s): {stack[-1]} is serving and only "
            f"{len(stack) - 1} earlier deploy(s) remain in its deploy log"
        )
    return stack[-1 - steps]


def sha256_of(source: bytes | Path) -> str:
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
        return digest.hexdigest()
    with open(source, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def write_verified(chunks: Iterable[bytes], dest: Path, *, manifest: Manifest, file_name: str) -> None:
    """Write ``chunks`` to ``dest`` only if they hash to the manifest's digest for the file."""
    partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as handle:
            for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != manifest.files[file_name]:
            raise CorruptVersion(manifest.name, manifest.version,
                                 f"{file_name} does not match its sha256 in the manifest")
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)


def _check_metrics(value: object, where: str) -> None:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidManifest(f"{where} must be an object with string keys")
    for key, item in value.items():
        if isinstance(item, Mapping):
            _check_metrics(item, f"{where}.{key}")
        elif isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise InvalidManifest(f"{where}.{key} must be a finite number or an object of them")


def _check_json_object(value: object, where: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidManifest(f"{where} must be an object")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidManifest(f"{where} must hold JSON values only: {exc}") from exc


def _load_object(text: str | bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidManifest(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidManifest(f"{what} must be a JSON object")
    return data


def _parse_time(value: object, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise InvalidManifest(f"{where} must be an ISO 8601 time with a UTC offset, not {value!r}")
    return parsed
