"""fusion: the mechanism table, the paired data, what fusing adds over each input, and serving it."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from inference.app import build_worker
from inference.charts.dataset import EVAL_STYLES, TRAIN_STYLES, generate_examples
from inference.charts.patterns import CHART_PATTERNS
from inference.datasets.paired import PATTERN_WEIGHTS, paired_examples
from inference.datasets.text import load_split
from inference.errors import ModelNotReady
from inference.mechanisms import MECHANISM_INFO, MECHANISMS, mechanism_for
from inference.models.loading import ModelLoader
from inference.registry import LocalRegistry
from inference.settings import WorkerSettings
from inference.training.run import (
    CHART_MODEL,
    FUSION_MODEL,
    TEXT_MODEL,
    train_fusion_model,
)
from runbooks.classes import RUNBOOK_CLASSES
from sandbox.runner import ThreadedServer

# ----------------------------------------------------------------------------- the mechanism table


def test_the_briefs_examples_read_as_on_call_would() -> None:
    # A latency alert with a step-up is a deploy regression; with a trend-up it is load.
    assert mechanism_for("high_latency", "step_up") == "bad_change"
    assert MECHANISM_INFO["bad_change"].first_action.startswith("roll back")
    assert mechanism_for("high_latency", "trend_up") == "capacity"
    assert MECHANISM_INFO["capacity"].first_action == "scale out"
    # The same chart means different things for different runbook classes.
    assert mechanism_for("model_drift", "trend_up") == "gradual_shift"
    assert mechanism_for("security", "spike") == "attack" and mechanism_for("high_error_rate", "spike") == "transient"
    assert mechanism_for("service_outage", "flatline") == "stopped"


@given(st.sampled_from(RUNBOOK_CLASSES), st.sampled_from(CHART_PATTERNS))
def test_every_combination_has_a_known_mechanism(runbook_class: str, pattern: str) -> None:
    assert mechanism_for(runbook_class, pattern) in MECHANISMS


@given(st.text(max_size=30))
def test_unknown_classes_and_patterns_are_refused(word: str) -> None:
    if word not in RUNBOOK_CLASSES:
        with pytest.raises(ValueError, match="runbook class"):
            mechanism_for(word, "spike")
    if word not in CHART_PATTERNS:
        with pytest.raises(ValueError, match="chart pattern"):
            mechanism_for("high_latency", word)


def test_every_mechanism_is_reachable() -> None:
    reached = {mechanism_for(c, p) for c in RUNBOOK_CLASSES for p in CHART_PATTERNS}
    assert reached == set(MECHANISMS)


# ----------------------------------------------------------------------------- paired data


def test_pairs_are_deterministic_and_labelled_by_the_table() -> None:
    first = [p for _, p in zip(range(12), paired_examples("train", charts_per_text=2, styles=TRAIN_STYLES, seed=3),
                               strict=False)]
    again = [p for _, p in zip(range(12), paired_examples("train", charts_per_text=2, styles=TRAIN_STYLES, seed=3),
                               strict=False)]
    assert [(p.text, p.pattern, p.style, p.image.tobytes()) for p in first] == \
        [(p.text, p.pattern, p.style, p.image.tobytes()) for p in again]
    texts = load_split("train")
    assert [p.text for p in first] == [t.text for t in texts[:6] for _ in range(2)]
    for pair in first:
        assert pair.mechanism == mechanism_for(pair.runbook_class, pair.pattern)
        assert pair.style in TRAIN_STYLES


def test_evaluation_pairs_use_held_out_texts_and_the_held_out_style() -> None:
    pairs = list(paired_examples("heldout", charts_per_text=1, styles=EVAL_STYLES, seed=5))
    assert [p.text for p in pairs] == [t.text for t in load_split("heldout")]
    assert {p.style for p in pairs} == set(EVAL_STYLES)
    # Every class shows a spread of patterns, not one per class: the chart carries information.
    for runbook_class in RUNBOOK_CLASSES:
        patterns = {p.pattern for p in pairs if p.runbook_class == runbook_class}
        assert len(patterns) >= 5, (runbook_class, patterns)
        assert len(PATTERN_WEIGHTS[runbook_class]) == len(CHART_PATTERNS)


def test_bad_pairing_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="charts_per_text"):
        next(paired_examples("train", charts_per_text=0, styles=TRAIN_STYLES, seed=1))
    with pytest.raises(ValueError, match="styles"):
        next(paired_examples("train", charts_per_text=1, styles=(), seed=1))


# ----------------------------------------------------------------------------- trained fusion


def test_fusion_beats_either_input_alone_on_the_paired_evaluation(fusion_registry: Path) -> None:
    registry = LocalRegistry(fusion_registry)
    manifest = registry.manifest(FUSION_MODEL, registry.current(FUSION_MODEL))
    assert manifest.kind == "fusion" and list(manifest.labels) == list(RUNBOOK_CLASSES)
    comparison = manifest.metrics["comparison"]
    fused, text_only, chart_only = comparison["fusion"], comparison["text_only"], comparison["chart_only"]
    # The text names the runbook class; only the chart tells a step from a trend.
    assert fused["joint_accuracy"] > text_only["joint_accuracy"] + 0.1, comparison
    assert fused["joint_accuracy"] > chart_only["joint_accuracy"] + 0.1, comparison
    assert fused["mechanism_accuracy"] > text_only["mechanism_accuracy"], comparison
    assert fused["runbook_accuracy"] > chart_only["runbook_accuracy"], comparison
    assert manifest.metrics["examples"] == len(load_split("heldout"))
    # It pins the component versions it was trained on.
    assert manifest.config["components"] == {TEXT_MODEL: registry.current(TEXT_MODEL),
                                             CHART_MODEL: registry.current(CHART_MODEL)}


def test_the_same_components_and_settings_are_not_trained_again(fusion_registry: Path, tmp_path: Path) -> None:
    registry = LocalRegistry(fusion_registry)
    again, fresh = train_fusion_model(registry, quick=True, seed=1, cache_dir=tmp_path)
    assert not fresh and again.version == registry.current(FUSION_MODEL)


def test_fusion_needs_serving_components(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "empty")
    with pytest.raises(Exception, match="no serving version yet"):
        train_fusion_model(registry, quick=True, seed=1, cache_dir=tmp_path / "cache")


def test_a_loader_without_a_registry_cannot_build_fusion(fusion_registry: Path, tmp_path: Path) -> None:
    registry = LocalRegistry(fusion_registry)
    manifest = registry.manifest(FUSION_MODEL, registry.current(FUSION_MODEL))
    folder = registry.materialize(FUSION_MODEL, manifest.version, tmp_path / "fusion")
    with pytest.raises(ModelNotReady, match="no registry"):
        ModelLoader().load(manifest, folder)


# ----------------------------------------------------------------------------- served


@pytest.fixture
def fusion_worker(fusion_registry: Path, tmp_path: Path):
    copy = tmp_path / "registry"
    shutil.copytree(fusion_registry, copy)
    settings = WorkerSettings(model_registry=str(copy), model_cache_dir=str(tmp_path / "cache"))
    server = ThreadedServer(build_worker(settings)).start(timeout=120)
    yield server, copy
    server.stop()


def _png_b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _chart(pattern: str, seed: int = 12) -> Image.Image:
    return next(e.image for e in generate_examples(1, styles=EVAL_STYLES, seed=seed, patterns=(pattern,)))


def test_fusion_over_http_names_class_mechanism_and_first_action(fusion_worker) -> None:
    server, _ = fusion_worker
    with httpx.Client(timeout=60) as http:
        assert http.get(f"{server.url}/readyz").json()["models"] == {
            CHART_MODEL: "v1", FUSION_MODEL: "v1", TEXT_MODEL: "v1"}
        text = "p99 latency on the scoring API breached 800ms"
        answer = http.post(f"{server.url}/v1/models/fusion:predict", json={"instances": [
            {"text": text, "image_b64": _png_b64(_chart("step_up"))},
            {"text": text, "image_b64": _png_b64(_chart("trend_up"))},
        ]})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model_name"] == "fusion" and body["model_version"] == "v1"
        for prediction in body["predictions"]:
            assert prediction["label"] in RUNBOOK_CLASSES
            assert abs(sum(prediction["scores"].values()) - 1) < 1e-4
            mechanism = prediction["mechanism"]
            assert mechanism["label"] in MECHANISMS and set(mechanism["scores"]) == set(MECHANISMS)
            assert mechanism["first_action"] == MECHANISM_INFO[mechanism["label"]].first_action
            assert prediction["inputs"]["text"]["model_version"] == "v1"
            assert prediction["inputs"]["chart"]["label"] in CHART_PATTERNS
        # The fusion's own log is kept for drift checks like the others'.
        logged = http.get(f"{server.url}/v1/models/fusion/predictions").json()["predictions"]
        assert len(logged) == 2


@pytest.mark.parametrize(
    ("instance", "code"),
    [
        ({"text": "p99 up"}, "REQ_001"),  # no image
        ({"image_b64": "aGVsbG8="}, "REQ_001"),  # no text
        ({"text": "", "image_b64": "aGVsbG8="}, "DOC_001"),
        ({"text": "p99 up", "image_b64": base64.b64encode(b"not an image").decode()}, "IMG_001"),
    ],
)
def test_fusion_refuses_incomplete_or_bad_pairs_with_a_code(fusion_worker, instance: dict, code: str) -> None:
    server, _ = fusion_worker
    with httpx.Client(timeout=30) as http:
        answer = http.post(f"{server.url}/v1/models/fusion:predict", json={"instances": [instance]})
    assert 400 <= answer.status_code < 500 and answer.json()["code"] == code, answer.text


def test_fusion_keeps_its_pinned_components_when_another_text_version_serves(fusion_worker) -> None:
    server, registry_root = fusion_worker
    with httpx.Client(timeout=120) as http:
        swapped = http.post(f"{server.url}/v1/models/{TEXT_MODEL}/versions/v2:load")
        assert swapped.status_code == 200, swapped.text
        answer = http.post(f"{server.url}/v1/models/fusion:predict", json={"instances": [
            {"text": "error rate 12% on checkout", "image_b64": _png_b64(_chart("spike"))}]})
    assert answer.status_code == 200
    assert answer.json()["predictions"][0]["inputs"]["text"]["model_version"] == "v1"
    assert LocalRegistry(registry_root).current(TEXT_MODEL) == "v2"
