"""The model registry, on a local folder and on S3 (a real moto server over HTTP)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save

from inference.registry import (
    DEFAULT_REGISTRY,
    CorruptVersion,
    InvalidManifest,
    InvalidModelName,
    LocalRegistry,
    Manifest,
    Registry,
    RegistryError,
    RegistryUnavailable,
    UnknownModel,
    UnknownVersion,
    open_registry,
    validate_model_name,
)
from inference.registry.s3 import S3Registry
from tests.inference.moto_server import moto_client

NAME = "incident-text"
LABELS = ["high_latency", "high_error_rate"]
BUCKET = "models"
PREFIX = "registry/prod"


def weights(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"encoder.weight": torch.randn(4, 3, generator=generator), "head.bias": torch.zeros(2)}


@dataclass
class Backend:
    registry: Registry
    write_stored: Callable[[str, bytes], None]  # overwrite a stored object, by its path in the layout
    delete_stored: Callable[[str], None]


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        root = tmp_path / "models"

        def delete(path: str) -> None:
            (root / path).unlink()

        def write(path: str, data: bytes) -> None:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)

        yield Backend(LocalRegistry(root), write, delete)
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    client = moto_client(endpoint, "s3")
    client.create_bucket(Bucket=BUCKET)
    yield Backend(
        S3Registry(BUCKET, PREFIX, client),
        lambda path, data: client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{path}", Body=data),
        lambda path: client.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{path}"),
    )


def publish(registry: Registry, tmp_path: Path, seed: int, name: str = NAME) -> Manifest:
    extra = tmp_path / f"head-{seed}.safetensors"
    extra.write_bytes(save({"classifier": torch.full((2, 3), float(seed))}))
    return registry.publish(
        name,
        files={"model.safetensors": save(weights(seed)), "head.safetensors": extra},
        kind="text",
        labels=LABELS,
        data_hash=f"sha256:{seed:064x}",
        metrics={"accuracy": 0.9 + seed / 100, "macro_f1": 0.91,
                 "per_class_f1": {"high_latency": 0.93, "high_error_rate": 0.89}},
        config={"hidden_size": 384, "max_length": 64},
        notes=f"seed {seed}",
    )


# --- publishing and reading ----------------------------------------------------------------


def test_publish_numbers_versions_in_order_and_lists_them_newest_first(backend: Backend, tmp_path: Path) -> None:
    registry = backend.registry
    assert registry.models() == []
    first = publish(registry, tmp_path, seed=1)
    second = publish(registry, tmp_path, seed=2)

    assert (first.version, first.parent) == ("v1", None)
    assert (second.version, second.parent) == ("v2", "v1")
    assert [m.version for m in registry.versions(NAME)] == ["v2", "v1"]
    assert registry.models() == [NAME]
    assert registry.manifest(NAME, "v1") == first
    assert registry.manifest(NAME, "v2") == second
    assert first.files["model.safetensors"] == hashlib.sha256(save(weights(1))).hexdigest()
    assert first.metrics["per_class_f1"]["high_latency"] == 0.93
    assert first.created_at.tzinfo is not None and first.created_at <= second.created_at


def test_materialize_copies_the_files_and_the_manifest(backend: Backend, tmp_path: Path) -> None:
    publish(backend.registry, tmp_path, seed=1)
    manifest = publish(backend.registry, tmp_path, seed=2)

    dest = backend.registry.materialize(NAME, "v2", tmp_path / "loaded")

    assert dest == tmp_path / "loaded"
    assert sorted(p.name for p in dest.iterdir()) == ["head.safetensors", "manifest.json", "model.safetensors"]
    loaded = load_file(dest / "model.safetensors")
    assert all(torch.equal(loaded[k], v) for k, v in weights(2).items())
    assert torch.equal(load_file(dest / "head.safetensors")["classifier"], torch.full((2, 3), 2.0))
    assert Manifest.from_json((dest / "manifest.json").read_text()) == manifest


def test_a_tampered_or_missing_file_is_a_corrupt_version(backend: Backend, tmp_path: Path) -> None:
    publish(backend.registry, tmp_path, seed=1)
    backend.write_stored(f"{NAME}/v1/model.safetensors", save(weights(99)))

    with pytest.raises(CorruptVersion, match=r"model\.safetensors does not match"):
        backend.registry.materialize(NAME, "v1", tmp_path / "out")
    assert not (tmp_path / "out" / "model.safetensors").exists()

    backend.delete_stored(f"{NAME}/v1/head.safetensors")
    backend.write_stored(f"{NAME}/v1/model.safetensors", save(weights(1)))
    with pytest.raises(CorruptVersion, match=r"head\.safetensors is missing"):
        backend.registry.materialize(NAME, "v1", tmp_path / "out")


def test_a_manifest_that_does_not_parse_is_a_corrupt_version(backend: Backend, tmp_path: Path) -> None:
    publish(backend.registry, tmp_path, seed=1)
    backend.write_stored(f"{NAME}/v1/manifest.json", b"{not json")
    with pytest.raises(CorruptVersion, match="bad manifest"):
        backend.registry.manifest(NAME, "v1")


def test_an_unfinished_version_is_invisible_and_its_number_is_not_reused(backend: Backend, tmp_path: Path) -> None:
    publish(backend.registry, tmp_path, seed=1)
    # What a publish that died half way leaves: files (or a claim) and no manifest.
    backend.write_stored(f"{NAME}/v2/model.safetensors", b"half a file")

    assert [m.version for m in backend.registry.versions(NAME)] == ["v1"]
    with pytest.raises(UnknownVersion):
        backend.registry.manifest(NAME, "v2")
    third = publish(backend.registry, tmp_path, seed=3)
    assert (third.version, third.parent) == ("v3", "v1")


def test_a_refused_publish_writes_nothing(backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(InvalidManifest, match="kind"):
        backend.registry.publish(NAME, files={"model.safetensors": b"x"}, kind="audio",  # type: ignore[arg-type]
                                 labels=LABELS, data_hash="h")
    with pytest.raises(InvalidManifest, match="file name"):
        backend.registry.publish(NAME, files={"../escape.bin": b"x"}, kind="text", labels=LABELS, data_hash="h")
    with pytest.raises(InvalidManifest, match="file name"):
        backend.registry.publish(NAME, files={"manifest.json": b"x"}, kind="text", labels=LABELS, data_hash="h")
    with pytest.raises(InvalidManifest, match="at least one file"):
        backend.registry.publish(NAME, files={}, kind="text", labels=LABELS, data_hash="h")
    with pytest.raises(InvalidManifest, match="finite number"):
        backend.registry.publish(NAME, files={"m.safetensors": b"x"}, kind="text", labels=LABELS,
                                 data_hash="h", metrics={"accuracy": float("nan")})
    assert backend.registry.models() == []


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "Incident", "1model", "-model", "with_underscore", "a" * 64,
                                 "../etc", "a/b", "émoji", " spaced"])
def test_invalid_model_names_are_refused_on_publish(backend: Backend, bad: str) -> None:
    with pytest.raises(InvalidModelName, match="invalid model name"):
        backend.registry.publish(bad, files={"m.safetensors": b"x"}, kind="text", labels=LABELS, data_hash="h")
    with pytest.raises(UnknownModel):
        backend.registry.versions(bad)
    assert backend.registry.models() == []


@pytest.mark.parametrize("good", ["a", "chart-vit", "incident-text", "fusion", "m" + "0" * 62])
def test_valid_model_names(good: str) -> None:
    assert validate_model_name(good) == good


def test_unknown_models_and_versions(backend: Backend, tmp_path: Path) -> None:
    registry = backend.registry
    publish(registry, tmp_path, seed=1)

    for call in (lambda: registry.versions("nope"), lambda: registry.manifest("nope", "v1"),
                 lambda: registry.current("nope"), lambda: registry.deploy_log("nope"),
                 lambda: registry.promote("nope", "v1"), lambda: registry.rollback("nope"),
                 lambda: registry.materialize("nope", "v1", tmp_path / "x")):
        with pytest.raises(UnknownModel, match="unknown model 'nope'"):
            call()
    for version in ("v2", "v0", "latest", "1", "../v1"):
        with pytest.raises(UnknownVersion, match=f"has no version '{version}'"):
            registry.manifest(NAME, version)
    with pytest.raises(UnknownVersion):
        registry.promote(NAME, "v7")
    with pytest.raises(UnknownVersion):
        registry.materialize(NAME, "v7", tmp_path / "x")
    assert issubclass(UnknownModel, RegistryError) and issubclass(UnknownVersion, RegistryError)


# --- promote and rollback --------------------------------------------------------------------


def test_rollback_walks_back_through_the_deploy_log(backend: Backend, tmp_path: Path) -> None:
    registry = backend.registry
    for seed in (1, 2, 3):
        publish(registry, tmp_path, seed=seed)
    assert registry.current(NAME) is None
    assert registry.deploy_log(NAME) == []

    for version in ("v1", "v2", "v3"):
        registry.promote(NAME, version, actor="U123")
    assert registry.current(NAME) == "v3"
    assert registry.rollback(NAME, actor="U456") == "v2"
    assert registry.current(NAME) == "v2"
    assert registry.rollback(NAME, 1, actor="U456") == "v1"
    assert registry.current(NAME) == "v1"
    with pytest.raises(RegistryError, match="cannot roll back model 'incident-text' by 1 deploy"):
        registry.rollback(NAME)
    assert registry.current(NAME) == "v1"

    log = registry.deploy_log(NAME)
    assert [(r.action, r.version, r.actor) for r in log] == [
        ("promote", "v1", "U123"), ("promote", "v2", "U123"), ("promote", "v3", "U123"),
        ("rollback", "v2", "U456"), ("rollback", "v1", "U456"),
    ]
    assert all(r.deployed_at.tzinfo is not None for r in log)
    assert [r.deployed_at for r in log] == sorted(r.deployed_at for r in log)


def test_rollback_counts_deploys_not_version_numbers(backend: Backend, tmp_path: Path) -> None:
    registry = backend.registry
    for seed in (1, 2, 3):
        publish(registry, tmp_path, seed=seed)
    registry.promote(NAME, "v1")
    registry.promote(NAME, "v3")
    registry.promote(NAME, "v2")
    assert registry.rollback(NAME, steps=2) == "v1"

    registry.promote(NAME, "v3")  # serving: v1 then v3
    assert registry.rollback(NAME) == "v1"
    with pytest.raises(RegistryError, match="only 0 earlier deploy"):
        registry.rollback(NAME)
    with pytest.raises(RegistryError, match="positive whole number"):
        registry.rollback(NAME, steps=0)


def test_rollback_before_any_promote_is_refused(backend: Backend, tmp_path: Path) -> None:
    publish(backend.registry, tmp_path, seed=1)
    with pytest.raises(RegistryError, match="never been promoted"):
        backend.registry.rollback(NAME)


def test_models_are_kept_apart(backend: Backend, tmp_path: Path) -> None:
    publish(backend.registry, tmp_path, seed=1)
    publish(backend.registry, tmp_path, seed=2, name="chart-vit")
    backend.registry.promote("chart-vit", "v1")

    assert backend.registry.models() == ["chart-vit", NAME]
    assert backend.registry.current(NAME) is None
    assert backend.registry.current("chart-vit") == "v1"
    assert [m.version for m in backend.registry.versions("chart-vit")] == ["v1"]


# --- the manifest ------------------------------------------------------------------------------


def a_manifest(**changes: object) -> Manifest:
    base = Manifest(name="fusion", version="v3", kind="fusion", labels=["scale", "rollback"],
                    created_at=datetime(2025, 5, 1, 12, 30, tzinfo=UTC), parent="v2",
                    data_hash="abc", metrics={"accuracy": 0.95, "per_class_f1": {"scale": 1, "rollback": 0.9}},
                    config={"layers": [4, 4], "dropout": 0.1}, files={"w.safetensors": "0" * 64}, notes="n")
    return replace(base, **changes)


def test_a_manifest_round_trips_through_json() -> None:
    manifest = a_manifest()
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert json.loads(manifest.to_json())["created_at"] == "2025-05-01T12:30:00+00:00"


@pytest.mark.parametrize("changes, message", [
    ({"kind": "audio"}, "kind"),
    ({"version": "3"}, "invalid version"),
    ({"parent": "latest"}, "invalid version"),
    ({"labels": []}, "labels"),
    ({"labels": ["a", "a"]}, "labels"),
    ({"created_at": datetime(2025, 5, 1)}, "timezone-aware"),
    ({"metrics": {"accuracy": "high"}}, "metrics.accuracy"),
    ({"metrics": {"f1": {"a": float("inf")}}}, "metrics.f1.a"),
    ({"config": {"fn": object()}}, "JSON values"),
    ({"files": {"w.safetensors": "not-a-digest"}}, "sha256"),
    ({"name": "Fusion"}, "invalid model name"),
])
def test_a_manifest_refuses_bad_fields(changes: dict, message: str) -> None:
    with pytest.raises(InvalidManifest if message != "invalid model name" else InvalidModelName, match=message):
        a_manifest(**changes)


def test_manifest_json_is_validated() -> None:
    data = json.loads(a_manifest().to_json())
    with pytest.raises(InvalidManifest, match="not valid JSON"):
        Manifest.from_json("{")
    with pytest.raises(InvalidManifest, match="missing \\['notes'\\]"):
        Manifest.from_json(json.dumps({k: v for k, v in data.items() if k != "notes"}))
    with pytest.raises(InvalidManifest, match="unknown \\['extra'\\]"):
        Manifest.from_json(json.dumps({**data, "extra": 1}))
    with pytest.raises(InvalidManifest, match="UTC offset"):
        Manifest.from_json(json.dumps({**data, "created_at": "2025-05-01T12:30:00"}))


# --- open_registry -----------------------------------------------------------------------------


def test_open_registry_picks_the_storage_from_the_uri(aws_env: str) -> None:
    registry = open_registry("s3://my-bucket/some/prefix/")
    assert isinstance(registry, S3Registry)
    assert (registry.bucket, registry.prefix) == ("my-bucket", "some/prefix")
    assert open_registry("s3://my-bucket").prefix == ""  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="names no bucket"):
        open_registry("s3:///prefix")

    local = open_registry("./var/models")
    assert isinstance(local, LocalRegistry) and local.root == Path("var/models")
    assert open_registry(Path("/tmp/reg")).root == Path("/tmp/reg")  # type: ignore[attr-defined]
    assert open_registry().root == Path(DEFAULT_REGISTRY)  # type: ignore[attr-defined]


def test_open_registry_reaches_s3_through_aws_endpoint_url(aws_env: str, tmp_path: Path) -> None:
    moto_client(aws_env, "s3").create_bucket(Bucket="fleet")
    registry = open_registry("s3://fleet/models")
    publish(registry, tmp_path, seed=1)
    registry.promote(NAME, "v1")

    again = open_registry("s3://fleet/models")
    assert again.current(NAME) == "v1"
    keys = {o["Key"] for o in moto_client(aws_env, "s3").list_objects_v2(Bucket="fleet")["Contents"]}
    assert {"models/incident-text/v1/manifest.json", "models/incident-text/v1/model.safetensors",
            "models/incident-text/deploys.json", "models/incident-text/CURRENT"} <= keys
    assert open_registry("s3://fleet/elsewhere").models() == []


# --- S3 errors ---------------------------------------------------------------------------------


def test_s3_that_cannot_be_reached_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = moto_client(dead, "s3", retries={"max_attempts": 1}, connect_timeout=1)
    registry = S3Registry(BUCKET, PREFIX, client)
    with pytest.raises(RegistryUnavailable, match="cannot reach S3"):
        registry.models()
    with pytest.raises(RegistryUnavailable):
        registry.manifest(NAME, "v1")


def test_a_missing_bucket_is_a_clear_registry_error(moto_endpoint: str) -> None:
    registry = S3Registry("no-such-bucket", "", moto_client(moto_endpoint, "s3"))
    with pytest.raises(RegistryError, match="bucket s3://no-such-bucket does not exist") as caught:
        registry.models()
    assert not isinstance(caught.value, RegistryUnavailable)


# --- concurrency -------------------------------------------------------------------------------


def test_concurrent_promotes_leave_a_valid_pointer(tmp_path: Path) -> None:
    root = tmp_path / "models"
    for seed in range(1, 5):
        publish(LocalRegistry(root), tmp_path, seed=seed)
    versions = ["v1", "v2", "v3", "v4"]
    rounds = 10
    start = threading.Barrier(len(versions))
    errors: list[BaseException] = []

    def promote_many(version: str) -> None:
        registry = LocalRegistry(root)  # as separate processes would: nothing shared in memory
        start.wait()
        try:
            for _ in range(rounds):
                registry.promote(NAME, version, actor=version)
                assert registry.current(NAME) in versions
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=promote_many, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    registry = LocalRegistry(root)
    log = registry.deploy_log(NAME)
    assert len(log) == len(versions) * rounds  # no promote was lost
    assert registry.current(NAME) == log[-1].version
    assert (root / NAME / "CURRENT").read_text() == f"{log[-1].version}\n"
    assert sorted(p.name for p in (root / NAME).iterdir() if p.name.startswith(".") and p.name != ".lock") == []


def test_concurrent_publishes_get_distinct_versions(tmp_path: Path) -> None:
    root = tmp_path / "models"
    published: list[Manifest] = []

    def publish_one(seed: int) -> None:
        published.append(publish(LocalRegistry(root), tmp_path, seed=seed))

    threads = [threading.Thread(target=publish_one, args=(seed,)) for seed in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(m.version for m in published) == sorted(f"v{n}" for n in range(1, 7))
    stored = LocalRegistry(root).versions(NAME)
    assert [m.version for m in stored] == [f"v{n}" for n in range(6, 0, -1)]
    assert [m.parent for m in stored][-1] is None


# --- stored golden-set scores ----------------------------------------------------------------


def test_a_stored_score_lives_beside_its_version_and_changes_nothing_else(backend: Backend, tmp_path: Path) -> None:
    registry = backend.registry
    first = publish(registry, tmp_path, seed=1)
    assert registry.read_evaluation(NAME, "v1", "v1") is None
    registry.write_evaluation(NAME, "v1", "v1", b"first")
    registry.write_evaluation(NAME, "v1", "v1", b"second")  # replaced whole
    registry.write_evaluation(NAME, "v1", "v7", b"on v7's golden set")
    assert registry.read_evaluation(NAME, "v1", "v1") == b"second"
    assert registry.read_evaluation(NAME, "v1", "v7") == b"on v7's golden set"

    # The version is as published, and the score claimed no version number.
    assert registry.manifest(NAME, "v1") == first and [m.version for m in registry.versions(NAME)] == ["v1"]
    assert publish(registry, tmp_path, seed=2).version == "v2"
    assert registry.read_evaluation(NAME, "v2", "v2") is None
    dest = registry.materialize(NAME, "v1", tmp_path / "loaded")
    assert sorted(p.name for p in dest.iterdir()) == ["head.safetensors", "manifest.json", "model.safetensors"]


def test_a_score_is_stored_only_for_a_version_that_is_there(backend: Backend, tmp_path: Path) -> None:
    registry = backend.registry
    publish(registry, tmp_path, seed=1)
    with pytest.raises(UnknownVersion):
        registry.write_evaluation(NAME, "v9", "v9", b"x")
    with pytest.raises(UnknownModel):
        registry.write_evaluation("nope", "v1", "v1", b"x")
    assert registry.read_evaluation(NAME, "v9", "v9") is None and registry.read_evaluation("nope", "v1", "v1") is None
    for version, golden_version in (("../v1", "v1"), ("v1", "../../CURRENT"), ("v1", "latest"), ("v0", "v1")):
        with pytest.raises(InvalidManifest, match="invalid version"):
            registry.read_evaluation(NAME, version, golden_version)
        with pytest.raises(InvalidManifest, match="invalid version"):
            registry.write_evaluation(NAME, version, golden_version, b"x")
    with pytest.raises(InvalidModelName):
        registry.read_evaluation("../etc", "v1", "v1")
    assert publish(registry, tmp_path, seed=2).version == "v2"  # no number was claimed by a refused write
