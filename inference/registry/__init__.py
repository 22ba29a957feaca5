"""The model registry: versioned models that the worker loads, promotes and rolls back.

``open_registry(uri)`` picks the storage: ``s3://bucket/prefix`` is an ``S3Registry`` (boto3,
imported only then), anything else a ``LocalRegistry`` folder. The default, ``./var/models``, is
relative to the working directory: ``incident-bot models train`` run in the project folder
writes there, and ``incident-bot worker`` started in the same folder serves from there.

Every method is blocking; async callers run them in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from inference.registry.errors import (
    CorruptVersion,
    InvalidManifest,
    InvalidModelName,
    RegistryError,
    RegistryUnavailable,
    UnknownModel,
    UnknownVersion,
)
from inference.registry.local import LocalRegistry
from inference.registry.manifest import (
    DeployRecord,
    Manifest,
    ModelKind,
    validate_model_name,
)

if TYPE_CHECKING:
    from inference.registry.s3 import S3Registry

DEFAULT_REGISTRY: Final = "./var/models"

__all__ = [
    "DEFAULT_REGISTRY", "CorruptVersion", "DeployRecord", "InvalidManifest", "InvalidModelName",
    "LocalRegistry", "Manifest", "ModelKind", "Registry", "RegistryError", "RegistryUnavailable",
    "S3Registry", "UnknownModel", "UnknownVersion", "open_registry", "validate_model_name",
]


@runtime_checkable
class Registry(Protocol):
    """Where model versions live. Unknown names raise ``UnknownModel``, unknown versions
    ``UnknownVersion``; both are ``RegistryError``s."""

    def models(self) -> list[str]:
        """Names of the models with at least one version, sorted."""

    def versions(self, name: str) -> list[Manifest]:
        """Every version of the model, newest first."""

    def manifest(self, name: str, version: str) -> Manifest: ...

    def publish(self, name: str, *, files: Mapping[str, bytes | Path], kind: ModelKind,
                labels: Sequence[str], data_hash: str, metrics: Mapping[str, Any] | None = None,
                config: Mapping[str, Any] | None = None, notes: str = "") -> Manifest:
        """Store a new version (the next number, its parent the newest so far), all or nothing."""

    def materialize(self, name: str, version: str, dest_dir: Path) -> Path:
        """Copy the version's files and manifest into ``dest_dir``, checking every sha256
        (``CorruptVersion`` when one does not match); returns ``dest_dir``."""

    def current(self, name: str) -> str | None:
        """The serving version, or None before the first promote."""

    def promote(self, name: str, version: str, *, actor: str = "cli") -> None: ...

    def rollback(self, name: str, steps: int = 1, *, actor: str = "cli") -> str:
        """Go back ``steps`` deploys in the deploy log; returns the version now serving."""

    def deploy_log(self, name: str) -> list[DeployRecord]:
        """Every promote and rollback, oldest first."""

    def read_evaluation(self, name: str, version: str, golden_version: str) -> bytes | None:
        """The stored score of ``version`` on ``golden_version``'s golden set, as written; None if none."""

    def write_evaluation(self, name: str, version: str, golden_version: str, data: bytes) -> None:
        """Store (or replace) that score, whole: a reader sees the old bytes or the new, never a mix."""


def open_registry(uri: str | Path = DEFAULT_REGISTRY) -> Registry:
    if isinstance(uri, str) and uri.startswith("s3://"):
        from inference.registry.s3 import S3Registry, default_s3_client

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise RegistryError(f"registry URI {uri!r} names no bucket: use s3://bucket/prefix")
        return S3Registry(bucket, prefix, default_s3_client())
    return LocalRegistry(Path(uri))


def __getattr__(name: str) -> Any:
    # S3Registry needs boto3, which only the worker extra installs: import it on first use.
    if name == "S3Registry":
        from inference.registry.s3 import S3Registry

        return S3Registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
