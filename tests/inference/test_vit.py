"""chart-vit: deterministic training, the held-out style, the served classifier and its registry round trip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image

from inference.charts.dataset import EVAL_STYLES, TRAIN_STYLES, generate_examples
from inference.charts.patterns import CHART_PATTERNS
from inference.charts.render import HELDOUT_STYLE
from inference.errors import ModelNotReady
from inference.inputs import Instance
from inference.models.loading import ModelLoader
from inference.models.vit import (
    EMBEDDING_SUMMARY_DIMS,
    WEIGHTS_FILE,
    ChartClassifier,
    forward,
    image_batch,
    input_size,
)
from inference.registry import LocalRegistry
from inference.training.run import CHART_MODEL, train_chart
from inference.training.vit import ChartTrainingConfig, render_charts, train_chart_vit

# A run small enough to train twice in a few seconds: the point is reproducibility, not accuracy.
TINY = replace(
    ChartTrainingConfig.for_run(quick=True, seed=3),
    train_per_class=6, eval_per_class=2, seen_eval_per_class=1, epochs=2, batch_size=16,
    hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, render_workers=1,
)


def _without_timing(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if key != "seconds"}


@pytest.fixture(scope="module")
def tiny_run():
    return train_chart_vit(TINY)


def held_out_charts(n_per_class: int = 1, seed: int = 4242) -> list[Image.Image]:
    return [example.image for example in generate_examples(n_per_class, styles=EVAL_STYLES, seed=seed)]


def test_training_is_deterministic_for_a_seed(tiny_run) -> None:
    again = train_chart_vit(TINY)
    assert again.files[WEIGHTS_FILE] == tiny_run.files[WEIGHTS_FILE]
    assert _without_timing(again.metrics) == _without_timing(tiny_run.metrics)
    other = train_chart_vit(replace(TINY, seed=4))
    assert other.files[WEIGHTS_FILE] != tiny_run.files[WEIGHTS_FILE]


def test_the_held_out_style_is_only_evaluated(tiny_run) -> None:
    config = tiny_run.config
    assert config["eval_style"] == HELDOUT_STYLE and config["eval_styles"] == [HELDOUT_STYLE]
    assert HELDOUT_STYLE not in config["train_styles"] and set(config["train_styles"]) == set(TRAIN_STYLES)
    assert tiny_run.metrics["examples"] == TINY.eval_per_class * len(CHART_PATTERNS)
    assert set(tiny_run.metrics["per_class_f1"]) == set(CHART_PATTERNS)
    with pytest.raises(ValueError, match="never be trained on"):
        train_chart_vit(replace(TINY, train_styles=(*TRAIN_STYLES, HELDOUT_STYLE)))


def test_rendering_does_not_depend_on_the_process_count() -> None:
    one = render_charts(TRAIN_STYLES, 2, seed=5, size=32, workers=1)
    two = render_charts(TRAIN_STYLES, 2, seed=5, size=32, workers=2)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
    assert one[0].dtype == torch.uint8 and one[0].shape == (16, 3, 32, 32)
    assert sorted(one[1].tolist()) == sorted(list(range(len(CHART_PATTERNS))) * 2)


def test_registry_round_trip_through_the_loader(tiny_run, tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    manifest = registry.publish(CHART_MODEL, files=tiny_run.files, kind="image", labels=list(CHART_PATTERNS),
                                data_hash="tiny", metrics=tiny_run.metrics, config=tiny_run.config)
    folder = registry.materialize(CHART_MODEL, manifest.version, tmp_path / "cache")
    served = ModelLoader().load(registry.manifest(CHART_MODEL, manifest.version), folder)
    assert isinstance(served, ChartClassifier) and served.kind == "image" and served.version == "v1"
    images = held_out_charts()
    loaded, _ = served.probabilities(images)
    tiny_run.model.eval()
    with torch.inference_mode():
        original = torch.softmax(forward(tiny_run.model, image_batch(images, TINY.input_size))[0], dim=-1)
    assert torch.allclose(loaded, original, atol=1e-6)


def test_a_version_with_another_input_pipeline_is_refused(tiny_run, tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    manifest = registry.publish(CHART_MODEL, files=tiny_run.files, kind="image", labels=list(CHART_PATTERNS),
                                data_hash="tiny", config={**tiny_run.config, "input_pipeline": "something-else"})
    folder = registry.materialize(CHART_MODEL, manifest.version, tmp_path / "cache")
    with pytest.raises(ModelNotReady, match="input pipeline"):
        ModelLoader().load(manifest, folder)


@pytest.fixture(scope="module")
def quick_model(chart_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> ChartClassifier:
    registry = LocalRegistry(chart_registry)
    manifest = registry.manifest(CHART_MODEL, registry.current(CHART_MODEL))
    folder = registry.materialize(CHART_MODEL, manifest.version, tmp_path_factory.mktemp("chart-cache"))
    model = ModelLoader().load(manifest, folder)
    assert isinstance(model, ChartClassifier)
    return model


def test_the_quick_model_is_clearly_better_than_chance(chart_registry: Path) -> None:
    manifest = LocalRegistry(chart_registry).versions(CHART_MODEL)[0]
    assert manifest.kind == "image" and list(manifest.labels) == list(CHART_PATTERNS)
    assert manifest.metrics["accuracy"] > 0.5, manifest.metrics  # chance is 0.125
    assert manifest.config["eval_style"] == HELDOUT_STYLE and manifest.config["quick"] is True
    width, height = manifest.config["image_width"], manifest.config["image_height"]
    assert input_size(manifest.config["vit"]) == (width, height)
    assert manifest.config["vit"]["patch_size"] == [height, manifest.config["column_width"]]  # full-height columns
    # The same seed and settings are not trained again.
    again, fresh = train_chart(LocalRegistry(chart_registry), quick=True, seed=1)
    assert not fresh and again.version == manifest.version


def test_the_served_classifier_reads_charts_of_any_size(quick_model: ChartClassifier) -> None:
    images = [example.image for size in ((320, 180), (1200, 600), (500, 500))
              for example in generate_examples(1, styles=EVAL_STYLES, seed=77, size=size)]
    images += [images[0].convert("L"), images[1].convert("RGBA"), images[2].resize((40, 30))]
    predictions = quick_model.predict([Instance(image=image) for image in images])
    assert len(predictions) == len(images)
    for prediction in predictions:
        assert prediction.label in CHART_PATTERNS and set(prediction.scores) == set(CHART_PATTERNS)
        assert abs(sum(prediction.scores.values()) - 1) < 1e-4
        assert prediction.confidence == max(prediction.scores.values())
        assert len(prediction.embedding) == EMBEDDING_SUMMARY_DIMS
    # Batching does not change an answer.
    alone = quick_model.predict([Instance(image=images[3])])[0]
    assert alone.label == predictions[3].label and abs(alone.confidence - predictions[3].confidence) < 1e-4
