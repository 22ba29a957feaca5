"""The registry in a local folder.

Layout: ``root/<name>/<version>/{manifest.json, <files>}``, ``root/<name>/deploys.json`` (the
deploy log) and ``root/<name>/CURRENT`` (the serving version, one line). A version's stored
golden-set scores lie in ``root/<name>/<version>/.evaluations/<golden version>.json``, outside its
manifest: they are added after the version is published, and a file name can never start with a dot.

Readers never see half a version: ``publish`` assembles it in a hidden staging folder beside
the versions and renames the folder into place. Writers of the deploy log hold an exclusive
``flock`` on ``root/<name>/.lock`` while they read, append and rewrite it, and every file is
rewritten through a temporary file and ``os.replace``; so two processes (or threads) promoting at
once both land in the log, in some order, and CURRENT names the later one. ``flock`` makes
this POSIX-only; on a network filesystem it is only as good as that filesystem's locks.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from inference.registry.errors import (
    CorruptVersion,
    InvalidManifest,
    RegistryError,
    UnknownModel,
    UnknownVersion,
)
from inference.registry.manifest import (
    CHUNK_SIZE,
    EVALUATIONS_DIR,
    MANIFEST_FILE,
    DeployRecord,
    Manifest,
    ModelKind,
    dump_deploy_log,
    is_model_name,
    is_version,
    load_deploy_log,
    newest_first,
    rollback_target,
    sha256_of,
    utc_now,
    validate_file_names,
    validate_model_name,
    version_name,
    version_number,
    write_verified,
)

DEPLOY_LOG_FILE = "deploys.json"
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"


class LocalRegistry:
    """Model versions in a folder on this machine (the default registry)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalRegistry({str(self.root)!r})"

    # --- reading ---------------------------------------------------------------------------

    def models(self) -> list[str]:
        with _os_errors(f"list models in {self.root}"):
            if not self.root.is_dir():
                return []
            return sorted(p.name for p in self.root.iterdir()
                          if is_model_name(p.name) and self._complete_versions(p.name))

    def versions(self, name: str) -> list[Manifest]:
        return [self._read_manifest(name, v) for v in self._require_model(name)]

    def manifest(self, name: str, version: str) -> Manifest:
        if version not in self._require_model(name):
            raise UnknownVersion(name, version)
        return self._read_manifest(name, version)

    def materialize(self, name: str, version: str, dest_dir: Path) -> Path:
        manifest = self.manifest(name, version)
        dest_dir = Path(dest_dir)
        source = self.root / name / version
        with _os_errors(f"copy {name} {version} to {dest_dir}"):
            dest_dir.mkdir(parents=True, exist_ok=True)
            for file_name in manifest.files:
                try:
                    handle = open(source / file_name, "rb")  # noqa: SIM115  opened apart so only a missing source is CorruptVersion
                except FileNotFoundError as exc:
                    raise CorruptVersion(name, version, f"{file_name} is missing") from exc
                with handle:
                    write_verified(iter(partial(handle.read, CHUNK_SIZE), b""), dest_dir / file_name,
                                   manifest=manifest, file_name=file_name)
            _write_atomic(dest_dir / MANIFEST_FILE, manifest.to_json().encode())
        return dest_dir

    def current(self, name: str) -> str | None:
        self._require_model(name)
        with _os_errors(f"read the serving version of {name}"):
            try:
                return (self.root / name / CURRENT_FILE).read_text().strip() or None
            except FileNotFoundError:
                return None

    def deploy_log(self, name: str) -> list[DeployRecord]:
        self._require_model(name)
        return self._read_log(name)

    def read_evaluation(self, name: str, version: str, golden_version: str) -> bytes | None:
        path = self._evaluation_path(name, version, golden_version)
        with _os_errors(f"read the stored score of {name} {version}"):
            try:
                return path.read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                return None

    # --- writing ---------------------------------------------------------------------------

    def publish(self, name: str, *, files: Mapping[str, bytes | Path], kind: ModelKind,
                labels: Sequence[str], data_hash: str, metrics: Mapping[str, Any] | None = None,
                config: Mapping[str, Any] | None = None, notes: str = "") -> Manifest:
        validate_model_name(name)
        validate_file_names(files)
        model_dir = self.root / name
        with _os_errors(f"publish a version of {name} in {self.root}"):
            model_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
            try:
                digests = {file_name: _copy_in(source, staging / file_name)
                           for file_name, source in files.items()}
                draft = Manifest(name=name, version="v1", kind=kind, labels=list(labels),
                                 created_at=utc_now(), parent=None, data_hash=data_hash,
                                 metrics=dict(metrics or {}), config=dict(config or {}),
                                 files=digests, notes=notes)
                with self._lock(name):
                    taken = [version_number(p.name) for p in model_dir.iterdir() if is_version(p.name)]
                    complete = self._complete_versions(name)
                    manifest = replace(draft, version=version_name(max(taken, default=0) + 1),
                                       parent=complete[0] if complete else None, created_at=utc_now())
                    _write_atomic(staging / MANIFEST_FILE, manifest.to_json().encode())
                    os.rename(staging, model_dir / manifest.version)
                    _fsync_dir(model_dir)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return manifest

    def write_evaluation(self, name: str, version: str, golden_version: str, data: bytes) -> None:
        path = self._evaluation_path(name, version, golden_version)
        self.manifest(name, version)  # an unknown version is UnknownVersion, never a new folder
        with _os_errors(f"store the score of {name} {version}"):
            path.parent.mkdir(exist_ok=True)
            _write_atomic(path, data)

    def promote(self, name: str, version: str, *, actor: str = "cli") -> None:
        self.manifest(name, version)
        with self._lock(name):
            log = self._read_log(name)
            self._write_log(name, [*log, DeployRecord(version, utc_now(), actor, "promote")])

    def rollback(self, name: str, steps: int = 1, *, actor: str = "cli") -> str:
        self._require_model(name)
        with self._lock(name):
            log = self._read_log(name)
            target = rollback_target(name, log, steps)
            self._write_log(name, [*log, DeployRecord(target, utc_now(), actor, "rollback", steps)])
        return target

    # --- helpers ---------------------------------------------------------------------------

    def _complete_versions(self, name: str) -> list[str]:
        model_dir = self.root / name
        if not is_model_name(name) or not model_dir.is_dir():
            return []
        return newest_first(p.name for p in model_dir.iterdir()
                            if is_version(p.name) and (p / MANIFEST_FILE).is_file())

    def _require_model(self, name: str) -> list[str]:
        with _os_errors(f"list versions of {name}"):
            versions = self._complete_versions(name)
        if not versions:
            raise UnknownModel(name)
        return versions

    def _read_manifest(self, name: str, version: str) -> Manifest:
        with _os_errors(f"read {name} {version}"):
            text = (self.root / name / version / MANIFEST_FILE).read_bytes()
        try:
            manifest = Manifest.from_json(text)
        except InvalidManifest as exc:
            raise CorruptVersion(name, version, f"bad manifest: {exc}") from exc
        if (manifest.name, manifest.version) != (name, version):
            raise CorruptVersion(name, version, f"its manifest describes {manifest.name} {manifest.version}")
        return manifest

    def _evaluation_path(self, name: str, version: str, golden_version: str) -> Path:
        validate_model_name(name)
        for named in (version, golden_version):
            version_number(named)  # a version name never reaches outside its folder
        return self.root / name / version / EVALUATIONS_DIR / f"{golden_version}.json"

    def _read_log(self, name: str) -> list[DeployRecord]:
        with _os_errors(f"read the deploy log of {name}"):
            try:
                return load_deploy_log((self.root / name / DEPLOY_LOG_FILE).read_bytes())
            except FileNotFoundError:
                return []

    def _write_log(self, name: str, log: list[DeployRecord]) -> None:
        with _os_errors(f"write the deploy log of {name}"):
            _write_atomic(self.root / name / DEPLOY_LOG_FILE, dump_deploy_log(log).encode())
            _write_atomic(self.root / name / CURRENT_FILE, f"{log[-1].version}\n".encode())

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        with _os_errors(f"lock {name}"):
            fd = os.open(self.root / name / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def _os_errors(action: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise RegistryError(f"cannot {action}: {exc}") from exc


def _copy_in(source: bytes | Path, dest: Path) -> str:
    if isinstance(source, bytes):
        _write_atomic(dest, source)
    elif isinstance(source, (str, os.PathLike)):
        shutil.copyfile(source, dest)
        _fsync_file(dest)
    else:
        raise InvalidManifest(f"file {dest.name!r} must be bytes or a path, not {type(source).__name__}")
    return sha256_of(dest)


def _write_atomic(path: Path, data: bytes) -> None:
    partial_path = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(partial_path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial_path, path)
    finally:
        partial_path.unlink(missing_ok=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
