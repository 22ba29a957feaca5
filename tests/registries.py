"""Registries with quick models, trained once per test run (seconds, not minutes); a pytest plugin."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inference.models.loading import TEXT_HEAD_FILE
from inference.registry import LocalRegistry
from inference.training.run import (
    CHART_MODEL,
    FUSION_MODEL,
    TEXT_MODEL,
    train_chart,
    train_fusion_model,
    train_text,
)


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two quick versions of incident-text (different seeds); v1 is serving."""
    root = tmp_path_factory.mktemp("registry")
    registry = LocalRegistry(root)
    first, _ = train_text(registry, quick=True, seed=1)
    train_text(registry, quick=True, seed=2)
    registry.promote("incident-text", first.version, actor="test")
    return root


@pytest.fixture(scope="session")
def golden_registry(tmp_path_factory: pytest.TempPathFactory, trained_registry: Path) -> Path:
    """trained_registry (v1 serving, v2) plus v3, trained on a twentieth of the texts (clearly worse),
    and v4, v1's weights published without a golden set or baseline, as versions from before them were."""
    root = tmp_path_factory.mktemp("golden-registry")
    shutil.copytree(trained_registry, root, dirs_exist_ok=True)
    registry = LocalRegistry(root)
    train_text(registry, quick=True, seed=1, train_fraction=1 / 20)
    v1 = registry.manifest(TEXT_MODEL, "v1")
    registry.publish(TEXT_MODEL, files={TEXT_HEAD_FILE: root / TEXT_MODEL / "v1" / TEXT_HEAD_FILE}, kind="text",
                     labels=v1.labels, data_hash=v1.data_hash, notes="published before golden sets")
    return root


@pytest.fixture(scope="session")
def chart_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One quick chart-vit version (v1, serving), trained once per test run."""
    root = tmp_path_factory.mktemp("chart-registry")
    registry = LocalRegistry(root)
    manifest, _ = train_chart(registry, quick=True, seed=1)
    registry.promote(CHART_MODEL, manifest.version, actor="test")
    return root


@pytest.fixture(scope="session")
def full_registry(tmp_path_factory: pytest.TempPathFactory, trained_registry: Path, chart_registry: Path) -> Path:
    """Both models in one registry: incident-text as in trained_registry, and chart-vit v1."""
    root = tmp_path_factory.mktemp("full-registry")
    shutil.copytree(trained_registry, root, dirs_exist_ok=True)
    shutil.copytree(chart_registry, root, dirs_exist_ok=True)
    return root


@pytest.fixture(scope="session")
def fusion_registry(tmp_path_factory: pytest.TempPathFactory, full_registry: Path) -> Path:
    """full_registry plus a quick fusion version (v1, serving) built on its serving text and chart versions."""
    root = tmp_path_factory.mktemp("fusion-registry")
    shutil.copytree(full_registry, root, dirs_exist_ok=True)
    registry = LocalRegistry(root)
    manifest, _ = train_fusion_model(registry, quick=True, seed=1, cache_dir=tmp_path_factory.mktemp("fusion-cache"))
    registry.promote(FUSION_MODEL, manifest.version, actor="test")
    return root
