"""Golden sets and drift baselines of chart-vit (images) and fusion (text + image), over HTTP."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from inference.charts.patterns import CHART_PATTERNS
from inference.golden import (
    BASELINE_FILE,
    GOLDEN_FILE,
    GoldenSetError,
    dump_golden,
    evaluate,
    parse_golden,
)
from inference.inputs import Instance
from inference.models.base import Prediction
from inference.registry import LocalRegistry
from inference.scores import golden_key, read_stored
from inference.training.golden_scores import ensure_scored
from inference.training.golden_sets import (
    GOLDEN_CHARTS_PER_PATTERN,
    GOLDEN_PAIRS_PER_CLASS,
)
from inference.training.run import CHART_MODEL, FUSION_MODEL
from runbooks.classes import RUNBOOK_CLASSES
from sandbox.runner import ThreadedServer
from tests.inference.test_stored_scores import unscored_copy
from tests.inference.test_worker import start_worker

CHART_EXAMPLES = GOLDEN_CHARTS_PER_PATTERN * len(CHART_PATTERNS)
FUSION_EXAMPLES = GOLDEN_PAIRS_PER_CLASS * len(RUNBOOK_CLASSES)


@pytest.mark.parametrize(("name", "examples", "labels", "inputs"), [
    (CHART_MODEL, CHART_EXAMPLES, CHART_PATTERNS, {"image_b64"}),
    (FUSION_MODEL, FUSION_EXAMPLES, RUNBOOK_CLASSES, {"text", "image_b64"}),
])
def test_training_publishes_a_small_golden_set_and_its_baseline(fusion_registry: Path, name: str, examples: int,
                                                                labels: tuple[str, ...], inputs: set[str]) -> None:
    assert {GOLDEN_FILE, BASELINE_FILE} <= set(LocalRegistry(fusion_registry).manifest(name, "v1").files)
    folder = fusion_registry / name / "v1"
    raw = (folder / GOLDEN_FILE).read_bytes()
    assert len(raw) < 500_000
    assert set(json.loads(raw.splitlines()[0])) == inputs | {"label"}
    rows = parse_golden(raw)
    assert len(rows) == examples and sorted({label for _, label in rows}) == sorted(labels)
    assert all(instance.image is not None and instance.image.size == (128, 64) for instance, _ in rows)
    baseline = json.loads((folder / BASELINE_FILE).read_text())
    assert set(baseline["labels"]) == set(labels) and sum(baseline["labels"].values()) == pytest.approx(1)
    assert len(baseline["confidence_histogram"]) == baseline["confidence_bins"] == 10
    assert len(baseline["centroid"]) == 16 and baseline["examples"] == examples


@pytest.mark.parametrize(("name", "examples"), [(CHART_MODEL, CHART_EXAMPLES), (FUSION_MODEL, FUSION_EXAMPLES)])
def test_training_stores_the_score_the_worker_would_compute(fusion_registry: Path, tmp_path: Path, name: str,
                                                            examples: int) -> None:
    key = golden_key(LocalRegistry(fusion_registry).manifest(name, "v1"))
    assert key is not None
    trained = read_stored(LocalRegistry(fusion_registry), key)
    assert trained is not None and trained.result["examples"] == examples
    # The same version without its record, scored as the worker scores it: loaded from the registry.
    registry = LocalRegistry(unscored_copy(fusion_registry, tmp_path / "copy"))
    fresh = ensure_scored(registry, registry.manifest(name, "v1"))
    assert fresh is not None and read_stored(registry, key) == fresh  # and now kept
    assert fresh.result["accuracy"] == pytest.approx(trained.result["accuracy"], abs=1.5 / examples)
    assert fresh.result["confusion_labels"] == trained.result["confusion_labels"]


def _png_b64(color: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_image_rows_round_trip_and_bad_rows_are_refused() -> None:
    image = Image.new("RGB", (32, 16), "red")
    rows = parse_golden(dump_golden([(Instance(image=image), "spike"), (Instance(image=image), "normal")]))
    assert [label for _, label in rows] == ["spike", "normal"] and rows[0][0].image.tobytes() == image.tobytes()
    both = parse_golden(dump_golden([(Instance(text="p99 up", image=image), "high_latency")]))
    assert both[0][0].text == "p99 up" and both[0][0].image is not None
    mixed = (json.dumps({"image_b64": _png_b64("red"), "label": "a"}) + "\n"
             + json.dumps({"text": "t", "label": "a"}) + "\n").encode()
    with pytest.raises(GoldenSetError, match="other inputs"):
        parse_golden(mixed)
    with pytest.raises(GoldenSetError, match="line 1"):
        parse_golden(json.dumps({"image_b64": "bm90IGFuIGltYWdl", "label": "a"}).encode())
    with pytest.raises(GoldenSetError, match="expected"):
        parse_golden(json.dumps({"label": "a"}).encode())

    class ChartModel:
        kind, labels = "image", ["a"]

        def predict(self, instances):  # pragma: no cover - never reached
            return [Prediction(label="a", confidence=1.0, scores={}) for _ in instances]

    with pytest.raises(GoldenSetError, match="reads image_b64"):
        evaluate(ChartModel(), json.dumps({"text": "t", "label": "a"}).encode())


@pytest.fixture(scope="module")
def worker(fusion_registry: Path, tmp_path_factory: pytest.TempPathFactory):
    server: ThreadedServer = start_worker(fusion_registry, tmp_path_factory.mktemp("golden-images-worker"))
    yield server
    server.stop()


@pytest.mark.parametrize(("name", "examples", "labels", "min_accuracy"), [
    (CHART_MODEL, CHART_EXAMPLES, CHART_PATTERNS, 0.6),
    (FUSION_MODEL, FUSION_EXAMPLES, RUNBOOK_CLASSES, 0.6),
])
def test_chart_vit_and_fusion_are_evaluated_on_their_golden_sets(worker, name: str, examples: int,
                                                                 labels: tuple[str, ...], min_accuracy: float) -> None:
    with httpx.Client(timeout=300) as http:
        answer = http.post(f"{worker.url}/v1/models/{name}/versions/v1:evaluate")
        assert answer.status_code == 200, answer.text
        result = answer.json()
    assert result["name"] == name and result["version"] == result["golden_version"] == "v1"
    assert result["examples"] == examples and set(result["per_class_f1"]) == set(labels)
    assert result["accuracy"] >= min_accuracy and 0 < result["macro_f1"] <= 1 and 0 < result["mean_confidence"] <= 1


@pytest.mark.parametrize("name", [CHART_MODEL, FUSION_MODEL])
def test_drift_of_chart_vit_and_fusion(worker, fusion_registry: Path, name: str) -> None:
    """No traffic: too little data. The golden set itself sent as traffic: exactly the baseline, no drift."""
    instances = [json.loads(line) for line in (fusion_registry / name / "v1" / GOLDEN_FILE).read_bytes().splitlines()]
    with httpx.Client(timeout=300) as http:
        quiet = http.get(f"{worker.url}/v1/models/{name}/drift")
        assert quiet.status_code == 200, quiet.text
        assert quiet.json()["verdict"] == "insufficient_data" and quiet.json()["drift_score"] is None
        for start in range(0, len(instances), 32):
            batch = [{k: v for k, v in row.items() if k != "label"} for row in instances[start:start + 32]]
            sent = http.post(f"{worker.url}/v1/models/{name}:predict", json={"instances": batch})
            assert sent.status_code == 200, sent.text
        report = http.get(f"{worker.url}/v1/models/{name}/drift").json()
    assert report["version"] == "v1" and report["predictions"] == len(instances)
    assert report["verdict"] == "ok" and report["drift_score"] == pytest.approx(0, abs=0.01), report
