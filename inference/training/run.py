"""`incident-bot models train`: train, evaluate, publish to the registry, and promote if good.

Each version's score on its golden set is stored with it as it is published, from the
predictions its drift baseline is built from (``inference.training.golden_scores``).

A version trained from the same data with the same settings is not trained again: training
runs once, and `make demo` and the tests reuse its output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict

from inference.charts.patterns import CHART_PATTERNS
from inference.datasets.text import corpus_hash, load_split
from inference.golden import (
    BASELINE_FILE,
    GOLDEN_FILE,
    baseline,
    dump_golden,
    dump_text_golden,
    parse_golden,
    predict_all,
    score,
)
from inference.model_names import (
    CHART_MODEL,
    FUSION_MODEL,
    PROMOTE_MIN_ACCURACY,
    TEXT_MODEL,
    passes,
)
from inference.models.base import ServedModel
from inference.models.encoder import SentenceEncoder
from inference.models.fusion import FusionClassifier
from inference.models.loading import ModelLoader
from inference.models.text import TextClassifier
from inference.models.vit import ChartClassifier
from inference.registry import Manifest, Registry, RegistryError
from inference.training.fusion import EVAL_SEED as FUSION_EVAL_SEED
from inference.training.fusion import FusionTrainingConfig, train_fusion
from inference.training.golden_scores import ensure_scored, store_published
from inference.training.golden_sets import chart_golden_set, fusion_golden_set
from inference.training.text import (
    FineTuneConfig,
    TextTrainingConfig,
    TrainedText,
    finetune_text,
    train_text_head,
)
from inference.training.vit import ChartTrainingConfig, renderer_hash, train_chart_vit
from runbooks.classes import RUNBOOK_CLASSES


class _TextSplits(TypedDict):
    """The text data both ways of training take, as keyword arguments."""

    train_texts: list[str]
    train_labels: list[int]
    eval_texts: list[str]
    eval_labels: list[int]
    labels: Sequence[str]


def _fingerprint(data_hash: str, config: dict[str, Any]) -> str:
    return hashlib.sha256((data_hash + json.dumps(config, sort_keys=True)).encode()).hexdigest()[:16]


def existing_version(registry: Registry, name: str, fingerprint: str) -> Manifest | None:
    try:
        versions = registry.versions(name)
    except Exception:  # an unknown model simply has no versions yet
        return None
    return next((m for m in versions if m.config.get("fingerprint") == fingerprint), None)


def train_text(registry: Registry, *, quick: bool, seed: int, retrain: bool = False,
               train_fraction: float = 1.0) -> tuple[Manifest, bool]:
    """Returns the version and whether it was newly trained.

    The version carries its golden set (the held-out split, labelled) and its drift baseline (the
    model's predictions on that split). ``train_fraction`` below 1 trains on every n-th training
    text only: a deliberately weaker model, for comparisons.
    """
    if not 0 < train_fraction <= 1:
        raise ValueError("train_fraction must be in (0, 1]")
    config = TextTrainingConfig.for_run(quick=quick, seed=seed)
    data_hash = corpus_hash("train") + corpus_hash("heldout")
    settings = asdict(config) if quick else {**asdict(config), "finetune": asdict(FineTuneConfig(seed=seed))}
    if train_fraction < 1:
        settings["train_fraction"] = train_fraction
    fingerprint = _fingerprint(data_hash, settings)
    if not retrain and (found := existing_version(registry, TEXT_MODEL, fingerprint)) is not None:
        ensure_scored(registry, found)
        return found, False
    train, heldout = load_split("train"), load_split("heldout")
    if train_fraction < 1:
        train = train[::round(1 / train_fraction)]
    index = {label: i for i, label in enumerate(RUNBOOK_CLASSES)}
    data = _TextSplits(
        train_texts=[e.text for e in train], train_labels=[index[e.label] for e in train],
        eval_texts=[e.text for e in heldout], eval_labels=[index[e.label] for e in heldout],
        labels=RUNBOOK_CLASSES,
    )
    head_only = train_text_head(encoder=SentenceEncoder.load(), config=config, **data)
    chosen, method, comparison = head_only, "linear head on frozen MiniLM", {"head_only": _summary(head_only)}
    if not quick:
        # Measured, not assumed: fine-tuning is kept only if it beats the frozen encoder.
        tuned = finetune_text(config=FineTuneConfig(seed=seed), **data)
        comparison["fine_tuned"] = _summary(tuned)
        if tuned.metrics["macro_f1"] > head_only.metrics["macro_f1"]:
            chosen, method = tuned, "MiniLM fine-tuned with a linear head"
    files = {**chosen.files, GOLDEN_FILE: dump_text_golden((e.text, e.label) for e in heldout)}
    if chosen.baseline is not None:
        files[BASELINE_FILE] = chosen.baseline.to_json().encode()
    manifest = registry.publish(
        TEXT_MODEL, files=files, kind="text", labels=list(RUNBOOK_CLASSES), data_hash=data_hash,
        metrics={**chosen.metrics, "comparison": comparison},
        config={**asdict(config), "fingerprint": fingerprint, "encoder": "all-MiniLM-L6-v2", "method": method,
                **({"train_fraction": train_fraction} if train_fraction < 1 else {}),
                "evaluation": "held-out split written separately from the training texts"},
        notes="quick model for tests" if quick else method,
    )
    store_published(registry, manifest, score(chosen.heldout_predictions, [e.label for e in heldout], RUNBOOK_CLASSES))
    return manifest, True


def _summary(trained: TrainedText) -> dict[str, float]:
    return {"accuracy": trained.metrics["accuracy"], "macro_f1": trained.metrics["macro_f1"]}


def train_chart(registry: Registry, *, quick: bool, seed: int, retrain: bool = False) -> tuple[Manifest, bool]:
    """chart-vit: trained on rendered charts, evaluated on the held-out rendering style.

    Returns the version and whether it was newly trained. The data is generated, so its hash is
    the renderer's source: the same renderer, seed and settings give the same version back. The
    version carries a golden set of held-out-style charts and the drift baseline on it
    (``inference.training.golden_sets``).
    """
    config = ChartTrainingConfig.for_run(quick=quick, seed=seed)
    data_hash = renderer_hash()
    fingerprint = _fingerprint(data_hash, config.settings())
    if not retrain and (found := existing_version(registry, CHART_MODEL, fingerprint)) is not None:
        ensure_scored(registry, found)
        return found, False
    trained = train_chart_vit(config, CHART_PATTERNS)
    model = ChartClassifier(name=CHART_MODEL, version="", labels=tuple(CHART_PATTERNS), model=trained.model,
                            image_size=config.input_size)
    golden_files, golden_score = _golden_files(model, dump_golden(chart_golden_set(config.input_size)))
    files = {**trained.files, **golden_files}
    manifest = registry.publish(
        CHART_MODEL, files=files, kind="image", labels=list(CHART_PATTERNS), data_hash=data_hash,
        metrics=trained.metrics,
        config={**trained.config, "fingerprint": fingerprint,
                "evaluation": f"held-out rendering style {trained.config['eval_style']}, never trained on"},
        notes="quick model for tests" if quick else
        f"column-patch ViT from scratch; evaluated on the unseen style {trained.config['eval_style']}",
    )
    store_published(registry, manifest, golden_score)
    return manifest, True


def train_fusion_model(registry: Registry, *, quick: bool, seed: int, cache_dir: Path,
                       components: dict[str, str] | None = None, retrain: bool = False) -> tuple[Manifest, bool]:
    """fusion: a head over pinned versions of incident-text and chart-vit, trained on paired examples.

    ``components`` maps each component model to the version to build on; by default the serving
    ones. The fingerprint includes them, so a new component version means a new fusion version.
    The version carries a golden set of held-out pairs and the drift baseline on it.
    """
    if components is None:
        components = {}
        for name in (TEXT_MODEL, CHART_MODEL):
            version = registry.current(name) if name in registry.models() else None
            if version is None:
                raise RegistryError(f"fusion is built on {name}, which has no serving version yet: train it first")
            components[name] = version
    config = FusionTrainingConfig.for_run(quick=quick, seed=seed)
    manifests = {name: registry.manifest(name, version) for name, version in components.items()}
    data_hash = corpus_hash("train") + corpus_hash("heldout") + renderer_hash()
    fingerprint = _fingerprint(data_hash, {**config.settings(), "components": {
        name: [m.version, m.config.get("fingerprint")] for name, m in sorted(manifests.items())}})
    loader = ModelLoader(registry=registry, cache_dir=cache_dir)
    if not retrain and (found := existing_version(registry, FUSION_MODEL, fingerprint)) is not None:
        ensure_scored(registry, found, loader=loader)
        return found, False
    text_model = loader.component(TEXT_MODEL, components[TEXT_MODEL], needed_by="fusion training")
    chart_model = loader.component(CHART_MODEL, components[CHART_MODEL], needed_by="fusion training")
    if not isinstance(text_model, TextClassifier) or not isinstance(chart_model, ChartClassifier):
        raise RegistryError("fusion needs a text model and a chart model as its components")
    trained = train_fusion(config, text_model, chart_model, components=dict(components))
    comparison = trained.metrics["comparison"]
    model = FusionClassifier(name=FUSION_MODEL, version="", labels=tuple(RUNBOOK_CLASSES), text=text_model,
                             chart=chart_model, head=trained.head.eval())
    golden = dump_golden(fusion_golden_set(chart_model.image_size, seed=FUSION_EVAL_SEED))
    golden_files, golden_score = _golden_files(model, golden)
    files = {**trained.files, **golden_files}
    manifest = registry.publish(
        FUSION_MODEL, files=files, kind="fusion", labels=list(RUNBOOK_CLASSES), data_hash=data_hash,
        metrics=trained.metrics,
        config={**trained.config, "fingerprint": fingerprint,
                "evaluation": "held-out texts paired with charts in the held-out rendering style"},
        notes=("quick model for tests" if quick else
               f"joint {comparison['fusion']['joint_accuracy']} vs text alone "
               f"{comparison['text_only']['joint_accuracy']}, "
               f"chart alone {comparison['chart_only']['joint_accuracy']}"),
    )
    store_published(registry, manifest, golden_score)
    return manifest, True


def _golden_files(model: ServedModel, golden: bytes) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The golden set and the baseline from ``model``'s predictions on it as the worker will read it;
    and, from the same predictions, the score the version is published with."""
    rows = parse_golden(golden)
    predictions = predict_all(model, [instance for instance, _ in rows])
    files = {GOLDEN_FILE: golden, BASELINE_FILE: baseline(model, predictions).to_json().encode()}
    return files, score(predictions, [label for _, label in rows], model.labels)


def promote_if_fit(registry: Registry, manifest: Manifest) -> bool:
    """A new version goes live if it is good enough, or if nothing is live yet."""
    if registry.current(manifest.name) is None or passes(manifest, PROMOTE_MIN_ACCURACY):
        registry.promote(manifest.name, manifest.version, actor="train")
        return True
    return False
