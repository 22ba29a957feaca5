"""Golden sets published with each version, and evaluating versions on them over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from bot.core.ports.worker import WorkerRejected
from bot.integrations.worker import HttpWorkerClient
from inference.datasets.text import load_split
from inference.golden import BASELINE_FILE, GOLDEN_FILE, parse_golden, score
from inference.models.base import Prediction
from inference.registry import LocalRegistry
from runbooks.classes import RUNBOOK_CLASSES
from sandbox.runner import ThreadedServer
from tests.inference.test_worker import start_worker


def test_training_publishes_the_golden_set_and_the_baseline(golden_registry: Path) -> None:
    registry = LocalRegistry(golden_registry)
    manifest = registry.manifest("incident-text", "v1")
    assert {GOLDEN_FILE, BASELINE_FILE} <= set(manifest.files)
    folder = golden_registry / "incident-text" / "v1"
    rows = parse_golden((folder / GOLDEN_FILE).read_bytes())
    held_out = load_split("heldout")
    assert [(i.text, label) for i, label in rows] == [(e.text, e.label) for e in held_out]
    baseline = json.loads((folder / BASELINE_FILE).read_text())
    assert set(baseline["labels"]) == set(RUNBOOK_CLASSES) and sum(baseline["labels"].values()) == pytest.approx(1)
    assert len(baseline["confidence_histogram"]) == baseline["confidence_bins"] == 10
    assert len(baseline["centroid"]) == 16 and baseline["examples"] == len(held_out)
    assert GOLDEN_FILE not in registry.manifest("incident-text", "v4").files


def test_score_counts_per_class_f1() -> None:
    def p(label: str) -> Prediction:
        return Prediction(label=label, confidence=0.8, scores={})

    result = score([p("a"), p("a"), p("b"), p("b")], ["a", "b", "b", "b"], ["a", "b", "c"])
    assert result["accuracy"] == 0.75 and result["examples"] == 4 and result["mean_confidence"] == 0.8
    assert result["per_class_f1"] == {"a": pytest.approx(0.6667, abs=1e-4), "b": 0.8}  # c: never seen, never said
    assert result["macro_f1"] == pytest.approx((0.6667 + 0.8) / 2, abs=1e-3)


def test_score_gives_precision_recall_support_and_the_confusion_matrix() -> None:
    # Seed 002 judges precision and recall per class (a drop over 15% is a finding).
    def p(label: str) -> Prediction:
        return Prediction(label=label, confidence=0.9, scores={})

    truth = ["a", "a", "a", "b", "b", "c"]
    result = score([p("a"), p("a"), p("b"), p("b"), p("a"), p("c")], truth, ["a", "b", "c", "d"])
    assert result["per_class_precision"] == {"a": pytest.approx(0.6667, abs=1e-4), "b": 0.5, "c": 1.0}
    assert result["per_class_recall"] == {"a": pytest.approx(0.6667, abs=1e-4), "b": 0.5, "c": 1.0}
    assert result["support"] == {"a": 3, "b": 2, "c": 1}
    assert result["confusion_labels"] == ["a", "b", "c"]  # d: never seen, never said
    assert result["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]  # rows: golden, columns: predicted
    assert sum(map(sum, result["confusion_matrix"])) == result["examples"] == 6
    # The old fields keep their meaning.
    assert result["accuracy"] == pytest.approx(0.6667, abs=1e-4) and set(result["per_class_f1"]) == {"a", "b", "c"}


def test_a_golden_label_the_model_does_not_know_is_a_row_it_never_predicts() -> None:
    result = score([Prediction(label="a", confidence=0.5, scores={})] * 2, ["a", "z"], ["a"])
    assert result["confusion_labels"] == ["a", "z"] and result["confusion_matrix"] == [[1, 0], [1, 0]]
    assert result["per_class_recall"] == {"a": 1.0, "z": 0.0} and result["per_class_precision"]["z"] == 0.0


@pytest.fixture(scope="module")
def worker(golden_registry: Path, tmp_path_factory: pytest.TempPathFactory):
    server: ThreadedServer = start_worker(golden_registry, tmp_path_factory.mktemp("golden-worker"))
    yield server
    server.stop()


def test_a_worse_version_scores_clearly_lower_on_the_same_golden_set(worker) -> None:
    with httpx.Client(timeout=300) as http:
        good = http.post(f"{worker.url}/v1/models/incident-text/versions/v1:evaluate")
        assert good.status_code == 200, good.text
        good = good.json()
        worse = http.post(f"{worker.url}/v1/models/incident-text/versions/v3:evaluate",
                          json={"golden_from": "v1"}).json()
        assert good["name"] == "incident-text" and good["version"] == "v1" and good["golden_version"] == "v1"
        assert worse["version"] == "v3" and worse["golden_version"] == "v1"
        assert good["examples"] == worse["examples"] == len(load_split("heldout"))
        assert set(good["per_class_f1"]) == set(RUNBOOK_CLASSES)
        assert set(good["per_class_precision"]) == set(good["per_class_recall"]) == set(RUNBOOK_CLASSES)
        assert set(good["confusion_labels"]) == set(RUNBOOK_CLASSES)
        assert sum(map(sum, good["confusion_matrix"])) == good["examples"]
        trace = sum(good["confusion_matrix"][i][i] for i in range(len(good["confusion_labels"])))
        assert trace / good["examples"] == pytest.approx(good["accuracy"], abs=1e-3)
        assert good["accuracy"] > 0.75 and 0 < good["mean_confidence"] <= 1
        assert worse["accuracy"] < good["accuracy"] - 0.1 and worse["macro_f1"] < good["macro_f1"] - 0.1
        # Evaluating never swaps what serves.
        assert http.get(f"{worker.url}/model/version").json()["models"]["incident-text"] == "v1"


def test_a_version_without_a_golden_set_is_no_golden_set(worker) -> None:
    with httpx.Client(timeout=300) as http:
        answer = http.post(f"{worker.url}/v1/models/incident-text/versions/v4:evaluate")
        assert answer.status_code == 404 and answer.json()["code"] == "NO_GOLDEN_SET"
        assert "golden set" in answer.json()["error"]
        # ...but it can be scored on another version's.
        borrowed = http.post(f"{worker.url}/v1/models/incident-text/versions/v4:evaluate", json={"golden_from": "v1"})
        assert borrowed.status_code == 200 and borrowed.json()["golden_version"] == "v1"
        for body, status, code in [({"golden_from": "latest"}, 400, "REQ_001"),
                                   ({"golden_from": "v99"}, 404, "MODEL_404")]:
            refused = http.post(f"{worker.url}/v1/models/incident-text/versions/v1:evaluate", json=body)
            assert (refused.status_code, refused.json()["code"]) == (status, code)
        assert http.post(f"{worker.url}/v1/models/incident-text/versions/v99:evaluate").status_code == 404
        assert http.post(f"{worker.url}/v1/models/nope/versions/v1:evaluate").json()["code"] == "MODEL_404"


def test_the_client_evaluates_and_reads_drift(worker) -> None:
    async def go() -> tuple[dict, dict, WorkerRejected]:
        async with HttpWorkerClient(worker.url, timeout=300) as client:
            evaluated = await client.evaluate("incident-text", "v2", golden_from="v1")
            drifted = await client.drift("incident-text", limit=100)
            with pytest.raises(WorkerRejected) as refused:
                await client.evaluate("incident-text", "v4")
            return evaluated, drifted, refused.value

    evaluated, drifted, refused = asyncio.run(go())
    assert evaluated["version"] == "v2" and evaluated["golden_version"] == "v1" and evaluated["accuracy"] > 0.75
    assert drifted["name"] == "incident-text" and "verdict" in drifted
    assert refused.status == 404 and refused.code == "NO_GOLDEN_SET"
