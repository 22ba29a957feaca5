"""The registry in an S3 bucket, through boto3 (``AWS_ENDPOINT_URL`` points it at moto in tests).

Layout under ``prefix``, as in the local registry: ``<name>/<version>/{manifest.json, <files>}``,
``<name>/deploys.json`` and ``<name>/CURRENT``; a version's stored golden-set scores under
``<name>/<version>/.evaluations/<golden version>.json``, written after its manifest.

S3 has no rename and no locks, so:
- ``publish`` claims its version number by creating ``<name>/<version>/.claim`` only if it does
  not exist (``If-None-Match: *``), uploads the files, and writes ``manifest.json`` last. A
  version without a manifest is invisible to readers; a publish that dies leaves a gap in the
  numbers, never a half version.
- The deploy log is rewritten with compare-and-swap (``If-Match`` on its ETag, retried on
  conflict), so concurrent promotes and rollbacks all land in it in some order. ``current`` is
  read from the log. ``CURRENT`` is a copy for people and tools, written after the log and
  last-writer-wins: two racing promoters can leave it naming the earlier of the two. Each
  object is written whole, so no reader ever sees a torn file.
botocore errors are mapped here: connection failures, timeouts, throttling and 5xx are
``RegistryUnavailable``; a missing key is ``UnknownModel`` or ``UnknownVersion``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from inference.registry.errors import (
    CorruptVersion,
    InvalidManifest,
    RegistryError,
    RegistryUnavailable,
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
    serving_history,
    sha256_of,
    utc_now,
    validate_file_names,
    validate_model_name,
    version_name,
    version_number,
    write_verified,
)

DEPLOY_LOG_KEY: Final = "deploys.json"
CURRENT_KEY: Final = "CURRENT"
CLAIM_KEY: Final = ".claim"
MAX_ATTEMPTS: Final = 8
NOT_FOUND: Final = frozenset({"NoSuchKey", "404", "NotFound"})
CONFLICT: Final = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
THROTTLED: Final = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
                              "RequestTimeTooSkewed", "ServiceUnavailable", "InternalError"})


def default_s3_client() -> Any:
    """An S3 client from the environment (``AWS_ENDPOINT_URL``, credentials, region)."""
    config = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("s3", config=config)


class S3Registry:
    """Model versions in ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        if not bucket:
            raise RegistryError("an S3 registry needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    def __repr__(self) -> str:
        return f"S3Registry('s3://{self.bucket}/{self.prefix}')"

    # --- reading ---------------------------------------------------------------------------

    def models(self) -> list[str]:
        names = self._children(f"{self.prefix}/" if self.prefix else "")
        return sorted(n for n in names if is_model_name(n) and self._scan(n)[1])

    def versions(self, name: str) -> list[Manifest]:
        return [self._read_manifest(name, v) for v in self._require_model(name)]

    def manifest(self, name: str, version: str) -> Manifest:
        if is_model_name(name) and is_version(version):
            text = self._get(self._key(name, version, MANIFEST_FILE))
            if text is not None:
                return self._parse_manifest(name, version, text)
        self._require_model(name)
        raise UnknownVersion(name, version)

    def materialize(self, name: str, version: str, dest_dir: Path) -> Path:
        manifest = self.manifest(name, version)
        dest_dir = Path(dest_dir)
        with self._mapped(f"create {dest_dir}"):
            dest_dir.mkdir(parents=True, exist_ok=True)
        for file_name in manifest.files:
            key = self._key(name, version, file_name)
            with self._mapped(f"download {key}"):
                try:
                    body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
                except ClientError as exc:
                    if _code(exc) in NOT_FOUND:
                        raise CorruptVersion(name, version, f"{file_name} is missing") from exc
                    raise
                with body:
                    write_verified(body.iter_chunks(CHUNK_SIZE), dest_dir / file_name,
                                   manifest=manifest, file_name=file_name)
        with self._mapped(f"write {dest_dir / MANIFEST_FILE}"):
            (dest_dir / MANIFEST_FILE).write_text(manifest.to_json())
        return dest_dir

    def current(self, name: str) -> str | None:
        history = serving_history(self.deploy_log(name))
        return history[-1] if history else None

    def deploy_log(self, name: str) -> list[DeployRecord]:
        self._require_model(name)
        text, _ = self._get_with_etag(self._key(name, DEPLOY_LOG_KEY))
        return load_deploy_log(text) if text is not None else []

    def read_evaluation(self, name: str, version: str, golden_version: str) -> bytes | None:
        return self._get(self._evaluation_key(name, version, golden_version))

    # --- writing ---------------------------------------------------------------------------

    def publish(self, name: str, *, files: Mapping[str, bytes | Path], kind: ModelKind,
                labels: Sequence[str], data_hash: str, metrics: Mapping[str, Any] | None = None,
                config: Mapping[str, Any] | None = None, notes: str = "") -> Manifest:
        validate_model_name(name)
        validate_file_names(files)
        for file_name, source in files.items():
            if not isinstance(source, (bytes, str, os.PathLike)):
                raise InvalidManifest(f"file {file_name!r} must be bytes or a path")
        try:
            digests = {file_name: sha256_of(source if isinstance(source, bytes) else Path(source))
                       for file_name, source in files.items()}
        except OSError as exc:
            raise RegistryError(f"cannot read a file to publish: {exc}") from exc
        draft = Manifest(name=name, version="v1", kind=kind, labels=list(labels), created_at=utc_now(),
                         parent=None, data_hash=data_hash, metrics=dict(metrics or {}),
                         config=dict(config or {}), files=digests, notes=notes)
        version, parent = self._claim_version(name)
        for file_name, source in files.items():
            self._upload(self._key(name, version, file_name), source)
        manifest = replace(draft, version=version, parent=parent, created_at=utc_now())
        self._put(self._key(name, version, MANIFEST_FILE), manifest.to_json().encode())
        return manifest

    def write_evaluation(self, name: str, version: str, golden_version: str, data: bytes) -> None:
        key = self._evaluation_key(name, version, golden_version)
        self.manifest(name, version)  # never a key under a version that is not there (it would claim its number)
        self._put(key, data)

    def promote(self, name: str, version: str, *, actor: str = "cli") -> None:
        self.manifest(name, version)
        self._append_deploy(name, lambda log: DeployRecord(version, utc_now(), actor, "promote"))

    def rollback(self, name: str, steps: int = 1, *, actor: str = "cli") -> str:
        self._require_model(name)
        record = self._append_deploy(name, lambda log: DeployRecord(
            rollback_target(name, log, steps), utc_now(), actor, "rollback", steps))
        return record.version

    # --- helpers ---------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _evaluation_key(self, name: str, version: str, golden_version: str) -> str:
        validate_model_name(name)
        for named in (version, golden_version):
            version_number(named)
        return self._key(name, version, EVALUATIONS_DIR, f"{golden_version}.json")

    def _claim_version(self, name: str) -> tuple[str, str | None]:
        for _ in range(MAX_ATTEMPTS):
            claimed, complete = self._scan(name)
            version = version_name(max(claimed, default=0) + 1)
            if self._put(self._key(name, version, CLAIM_KEY), b"", IfNoneMatch="*"):
                return version, complete[0] if complete else None
        raise RegistryUnavailable(f"could not claim a new version of {name}: other publishers "
                                  f"kept taking the next number ({MAX_ATTEMPTS} attempts)")

    def _append_deploy(self, name: str,
                       make_record: Callable[[list[DeployRecord]], DeployRecord]) -> DeployRecord:
        key = self._key(name, DEPLOY_LOG_KEY)
        for _ in range(MAX_ATTEMPTS):
            text, etag = self._get_with_etag(key)
            log = load_deploy_log(text) if text is not None else []
            record = make_record(log)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            if self._put(key, dump_deploy_log([*log, record]).encode(), **condition):
                self._put(self._key(name, CURRENT_KEY), f"{record.version}\n".encode())
                return record
        raise RegistryUnavailable(f"the deploy log of {name} kept changing under this write "
                                  f"({MAX_ATTEMPTS} attempts); try again")

    def _scan(self, name: str) -> tuple[list[int], list[str]]:
        """Version numbers claimed so far, and the complete versions newest first."""
        claimed: set[str] = set()
        complete: set[str] = set()
        base = self._key(name) + "/"
        with self._mapped(f"list s3://{self.bucket}/{base}"):
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for item in page.get("Contents", []):
                    version, _, rest = item["Key"][len(base):].partition("/")
                    if is_version(version):
                        claimed.add(version)
                        if rest == MANIFEST_FILE:
                            complete.add(version)
        return [version_number(v) for v in claimed], newest_first(complete)

    def _children(self, base: str) -> list[str]:
        with self._mapped(f"list s3://{self.bucket}/{base}"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/")
            return [p["Prefix"][len(base):].rstrip("/") for page in pages for p in page.get("CommonPrefixes", [])]

    def _require_model(self, name: str) -> list[str]:
        versions = self._scan(name)[1] if is_model_name(name) else []
        if not versions:
            raise UnknownModel(name)
        return versions

    def _read_manifest(self, name: str, version: str) -> Manifest:
        text = self._get(self._key(name, version, MANIFEST_FILE))
        if text is None:
            raise UnknownVersion(name, version)
        return self._parse_manifest(name, version, text)

    @staticmethod
    def _parse_manifest(name: str, version: str, text: bytes) -> Manifest:
        try:
            manifest = Manifest.from_json(text)
        except InvalidManifest as exc:
            raise CorruptVersion(name, version, f"bad manifest: {exc}") from exc
        if (manifest.name, manifest.version) != (name, version):
            raise CorruptVersion(name, version, f"its manifest describes {manifest.name} {manifest.version}")
        return manifest

    def _get(self, key: str) -> bytes | None:
        return self._get_with_etag(key)[0]

    def _get_with_etag(self, key: str) -> tuple[bytes | None, str | None]:
        with self._mapped(f"read {key}"):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in NOT_FOUND:
                    return None, None
                raise
            with response["Body"] as body:
                return body.read(), response["ETag"]

    def _put(self, key: str, body: bytes, **conditions: str) -> bool:
        """Write ``body``; False when a condition (If-Match / If-None-Match) did not hold."""
        with self._mapped(f"write {key}"):
            try:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=body, **conditions)
            except ClientError as exc:
                if conditions and (_code(exc) in CONFLICT or _status(exc) in (409, 412)):
                    return False
                raise
        return True

    def _upload(self, key: str, source: bytes | Path) -> None:
        if isinstance(source, bytes):
            self._put(key, source)
            return
        with self._mapped(f"upload {source} to {key}"), open(source, "rb") as handle:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=handle)

    @contextmanager
    def _mapped(self, action: str) -> Iterator[None]:
        where = f"s3://{self.bucket}"
        try:
            yield
        except ClientError as exc:
            code = _code(exc)
            if code in THROTTLED or (_status(exc) or 0) >= 500:
                raise RegistryUnavailable(f"S3 failed to {action} in {where}: {code}") from exc
            if code == "NoSuchBucket":
                raise RegistryError(f"the registry's bucket {where} does not exist") from exc
            raise RegistryError(f"S3 refused to {action} in {where}: {code} {_message(exc)}") from exc
        except BotoCoreError as exc:
            raise RegistryUnavailable(f"cannot reach S3 to {action} in {where}: {exc}") from exc
        except OSError as exc:
            raise RegistryError(f"cannot {action}: {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
