"""Drift math (pure), and the worker's drift endpoint over HTTP with a real quick model."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from inference import drift
from inference.datasets.text import load_split
from inference.server import PROBE_HEADER
from runbooks.classes import RUNBOOK_CLASSES
from tests.inference.test_worker import predict, start_worker

LABELS = ["a", "b", "c", "d"]


def _baseline(predicted: list[str], confidences: list[float], embeddings: list[list[float]]) -> drift.Baseline:
    return drift.baseline_from(labels=LABELS, predicted=predicted, confidences=confidences, embeddings=embeddings)


def test_identical_distributions_do_not_drift() -> None:
    predicted = ["a", "b", "c", "d"] * 25
    confidences = [0.55, 0.72, 0.91, 0.99] * 25
    embeddings = [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]] * 50
    report = drift.compare(_baseline(predicted, confidences, embeddings), predicted=predicted,
                           confidences=confidences, embeddings=embeddings)
    assert report["verdict"] == "ok" and report["drift_score"] == pytest.approx(0, abs=1e-6)
    assert report["label_psi"] == report["confidence_psi"] == report["centroid_distance"] == 0


def test_a_shifted_label_distribution_has_psi_above_the_warning() -> None:
    assert drift.psi([0.25] * 4, [0.25] * 4) == 0
    shifted = drift.shares(["a"] * 70 + ["b", "c", "d"] * 10, LABELS)
    assert drift.psi(list(drift.shares(LABELS * 25, LABELS).values()), list(shifted.values())) > 0.1
    baseline = _baseline(LABELS * 25, [0.9] * 100, [[1.0, 0.0]] * 100)
    report = drift.compare(baseline, predicted=["a"] * 70 + ["b", "c", "d"] * 10, confidences=[0.9] * 100,
                           embeddings=[[1.0, 0.0]] * 100)
    assert report["label_psi"] > 0.1 and report["verdict"] in ("warning", "critical")


def test_empty_bins_stay_finite_and_confidence_and_centroid_shifts_count() -> None:
    baseline = _baseline(LABELS * 25, [0.95] * 100, [[1.0, 0.0]] * 100)
    report = drift.compare(baseline, predicted=LABELS * 25, confidences=[0.45] * 100, embeddings=[[0.0, 1.0]] * 100)
    assert report["confidence_psi"] > 0.25 and report["mean_confidence_delta"] == pytest.approx(-0.5)
    assert report["centroid_distance"] == pytest.approx(1.0) and report["verdict"] == "critical"
    assert drift.confidence_histogram([0.0, 1.0, 0.5]) == [1 / 3] + [0.0] * 4 + [1 / 3] + [0.0] * 3 + [1 / 3]


def test_verdict_thresholds_and_too_few_predictions() -> None:
    assert [drift.verdict(s) for s in (0.0, 0.1, 0.11, 0.25, 0.26)] == ["ok", "ok", "warning", "warning", "critical"]
    baseline = _baseline(LABELS, [0.9] * 4, [[1.0]] * 4)
    report = drift.compare(baseline, predicted=["a"] * 29, confidences=[0.9] * 29, embeddings=[[1.0]] * 29)
    assert report == {"verdict": "insufficient_data", "predictions": 29, "min_predictions": 30, "drift_score": None}


def test_a_baseline_survives_json() -> None:
    baseline = _baseline(LABELS * 3, [0.5, 0.7, 0.9] * 4, [[0.1, 0.2]] * 12)
    assert drift.Baseline.from_json(baseline.to_json()) == baseline


# ------------------------------------------------------------------------------ over HTTP


@pytest.fixture
def worker(golden_registry: Path, tmp_path: Path):
    server = start_worker(golden_registry, tmp_path)
    yield server
    server.stop()


OFF_TOPIC = ["the quarterly marketing offsite moved to friday", "please bring snacks for the team lunch",
             "new hire onboarding docs are in the wiki", "who waters the office plants this week",
             "holiday schedule for december is posted"]


def _send(http: httpx.Client, url: str, texts: list[str]) -> None:
    for start in range(0, len(texts), 32):
        assert predict(http, url, *texts[start:start + 32]).status_code == 200


def test_drift_ok_in_distribution_then_warns_on_a_shifted_batch(worker) -> None:
    held_out = load_split("heldout")
    in_distribution = [e.text for e in random.Random(0).sample(held_out, 200)]
    with httpx.Client(timeout=120) as http:
        _send(http, worker.url, in_distribution[:20])
        few = http.get(f"{worker.url}/v1/models/incident-text/drift").json()
        assert few["verdict"] == "insufficient_data" and few["predictions"] == 20 and few["drift_score"] is None

        _send(http, worker.url, in_distribution[20:])
        calm = http.get(f"{worker.url}/v1/models/incident-text/drift", params={"limit": 200}).json()
        assert calm["name"] == "incident-text" and calm["version"] == "v1" and calm["predictions"] == 200
        assert calm["verdict"] == "ok" and calm["drift_score"] <= 0.1, calm
        assert set(calm["label_shares"]) == set(RUNBOOK_CLASSES)
        assert f'drift_score{{model="incident-text"}} {calm["drift_score"]}' in http.get(f"{worker.url}/metrics").text

        security = [e.text for e in held_out if e.label == "security"][:40]
        _send(http, worker.url, security + [f"{t} ({i})" for i in range(8) for t in OFF_TOPIC])
        shifted = http.get(f"{worker.url}/v1/models/incident-text/drift", params={"limit": 80}).json()
        assert shifted["verdict"] in ("warning", "critical") and shifted["drift_score"] > 0.1, shifted
        assert shifted["label_psi"] > 0.1 and shifted["centroid_distance"] > calm["centroid_distance"]
        gauge = http.get(f"{worker.url}/metrics").text
        assert f'drift_score{{model="incident-text"}} {shifted["drift_score"]}' in gauge


def test_drift_of_a_version_without_baseline_and_of_an_unknown_model(worker) -> None:
    with httpx.Client(timeout=120) as http:
        assert http.post(f"{worker.url}/v1/models/incident-text/versions/v4:load").status_code == 200
        missing = http.get(f"{worker.url}/v1/models/incident-text/drift")
        assert missing.status_code == 404 and missing.json()["code"] == "NO_BASELINE"
        unknown = http.get(f"{worker.url}/v1/models/no-such-model/drift")
        assert unknown.status_code == 404 and unknown.json()["code"] == "MODEL_404"
        assert http.get(f"{worker.url}/v1/models/incident-text/drift", params={"limit": "x"}).status_code == 400


def test_the_bots_own_probes_stay_out_of_the_prediction_log(trained_registry: Path, tmp_path: Path) -> None:
    server = start_worker(trained_registry, tmp_path)
    try:
        url = f"{server.url}/v1/models/incident-text"
        body = {"instances": [{"text": "p95 latency above 1s"}]}
        httpx.post(f"{url}:predict", json=body, headers={PROBE_HEADER: "1"}, timeout=30).raise_for_status()
        assert httpx.get(f"{url}/predictions", timeout=30).json()["predictions"] == []
        httpx.post(f"{url}:predict", json=body, timeout=30).raise_for_status()
        assert len(httpx.get(f"{url}/predictions", timeout=30).json()["predictions"]) == 1
    finally:
        server.stop()
