"""Building a served model from a registry version's files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from inference.errors import ModelNotReady
from inference.models.base import ServedModel
from inference.models.encoder import SentenceEncoder
from inference.models.fusion import FusionClassifier
from inference.models.text import TextClassifier, TextHead
from inference.models.vit import ChartClassifier
from inference.registry import RegistryError

TEXT_HEAD_FILE = "head.safetensors"
ENCODER_FILE = "encoder.safetensors"


class ModelLoader:
    """Loads versions by kind; the MiniLM encoder is loaded once and shared by all versions.

    A fusion version is built on pinned versions of other models (its config's ``components``);
    the loader fetches those from ``registry`` into ``cache_dir``, and keeps each loaded component
    so that fusion versions pinning the same one share it.
    """

    def __init__(self, *, registry: Any = None, cache_dir: Path | None = None) -> None:
        self._encoder: SentenceEncoder | None = None
        self._lock = threading.Lock()
        self._registry = registry
        self._cache_dir = cache_dir
        self._components: dict[tuple[str, str], ServedModel] = {}
        self._components_lock = threading.Lock()

    def encoder(self) -> SentenceEncoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = SentenceEncoder.load()
            return self._encoder

    def load(self, manifest: Any, folder: Path) -> ServedModel:
        if manifest.kind == "text":
            return self._text(manifest, folder)
        if manifest.kind == "image":
            return self._image(manifest, folder)
        if manifest.kind == "fusion":
            return self._fusion(manifest, folder)
        raise ModelNotReady(f"{manifest.name} {manifest.version}: models of kind {manifest.kind!r} are not served yet")

    def _text(self, manifest: Any, folder: Path) -> TextClassifier:
        state = load_file(str(folder / TEXT_HEAD_FILE))
        classes, dims = state["linear.weight"].shape
        if classes != len(manifest.labels):
            raise ModelNotReady(f"{manifest.name} {manifest.version}: head has {classes} classes, "
                                f"manifest lists {len(manifest.labels)}")
        head = TextHead(dims, classes)
        head.load_state_dict(state)
        head.eval()
        return TextClassifier(name=manifest.name, version=manifest.version, labels=tuple(manifest.labels),
                              encoder=self._text_encoder(folder), head=head)

    def _text_encoder(self, folder: Path) -> SentenceEncoder:
        """A fine-tuned version carries its own encoder weights; a head-only one shares MiniLM."""
        weights = folder / ENCODER_FILE
        if not weights.exists():
            return self.encoder()
        encoder = SentenceEncoder.load()
        encoder.model.load_state_dict(load_file(str(weights)))
        encoder.model.eval()
        return encoder

    def _image(self, manifest: Any, folder: Path) -> ChartClassifier:
        try:
            return ChartClassifier.from_folder(name=manifest.name, version=manifest.version, labels=manifest.labels,
                                               config=manifest.config, folder=folder)
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise ModelNotReady(f"{manifest.name} {manifest.version}: cannot build the ViT: {exc}") from exc

    def _fusion(self, manifest: Any, folder: Path) -> FusionClassifier:
        where = f"{manifest.name} {manifest.version}"
        components = manifest.config.get("components")
        if not isinstance(components, dict) or not components:
            raise ModelNotReady(f"{where}: the version names no component models")
        loaded = [self.component(str(name), str(version), needed_by=where) for name, version in components.items()]
        text = next((m for m in loaded if isinstance(m, TextClassifier)), None)
        chart = next((m for m in loaded if isinstance(m, ChartClassifier)), None)
        if text is None or chart is None:
            raise ModelNotReady(f"{where}: needs a text and a chart component, has {sorted(components)}")
        try:
            return FusionClassifier.from_folder(name=manifest.name, version=manifest.version, labels=manifest.labels,
                                                config=manifest.config, folder=folder, text=text, chart=chart)
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise ModelNotReady(f"{where}: cannot build the fusion head: {exc}") from exc

    def component(self, name: str, version: str, *, needed_by: str = "a fusion version") -> ServedModel:
        """A pinned model version another one is built on, loaded once."""
        if self._registry is None or self._cache_dir is None:
            raise ModelNotReady(f"{needed_by} needs {name} {version}, and this loader has no registry to fetch it from")
        with self._components_lock:
            key = (name, version)
            if key not in self._components:
                component_folder = self._cache_dir / name / version
                try:
                    manifest = self._registry.manifest(name, version)
                    self._registry.materialize(name, version, component_folder)
                except RegistryError as exc:
                    raise ModelNotReady(f"{needed_by} needs {name} {version}: {exc}") from exc
                self._components[key] = self.load(manifest, component_folder)
            return self._components[key]
