"""The worker over HTTP: the KServe V1 protocol, the seeds' aliases, bad input, batching,
back-pressure and hot swaps under load, with real (quick) models from a real registry."""

from __future__ import annotations

import base64
import io
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from inference.app import build_worker
from inference.charts.dataset import EVAL_STYLES, generate_examples
from inference.charts.patterns import CHART_PATTERNS
from inference.settings import WorkerSettings
from runbooks.classes import RUNBOOK_CLASSES
from sandbox.runner import ThreadedServer


def start_worker(registry: Path, tmp_path: Path, *, timeout: float = 120, **settings) -> ThreadedServer:
    copy = tmp_path / "registry"
    shutil.copytree(registry, copy)  # tests that promote must not change the shared registry
    worker_settings = WorkerSettings(model_registry=str(copy), model_cache_dir=str(tmp_path / "cache"), **settings)
    return ThreadedServer(build_worker(worker_settings)).start(timeout=timeout)


@pytest.fixture
def worker(trained_registry: Path, tmp_path: Path):
    server = start_worker(trained_registry, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def http():
    with httpx.Client(timeout=30) as client:
        yield client


def predict(http: httpx.Client, url: str, *texts: str) -> httpx.Response:
    return http.post(f"{url}/v1/models/incident-text:predict", json={"instances": [{"text": t} for t in texts]})


def test_protocol_lists_serves_and_predicts(worker, http) -> None:
    assert http.get(f"{worker.url}/readyz").status_code == 200
    listed = http.get(f"{worker.url}/v1/models").json()["models"]
    assert listed == [{"name": "incident-text", "version": "v1", "ready": True, "kind": "text",
                       "labels": list(RUNBOOK_CLASSES)}]
    info = http.get(f"{worker.url}/v1/models/incident-text").json()
    assert [v["version"] for v in info["versions"]] == ["v2", "v1"]
    assert "macro_f1" in info["versions"][0]["metrics"]
    answer = predict(http, worker.url, "P95 latency is 2.4s on the scoring API, requests timing out",
                     "stolen API key used from an unknown IP").json()
    assert answer["model_name"] == "incident-text" and answer["model_version"] == "v1"
    first, second = answer["predictions"]
    assert first["label"] == "high_latency" and second["label"] == "security"
    assert abs(sum(first["scores"].values()) - 1) < 1e-4 and first["confidence"] == max(first["scores"].values())


def test_seed_routes_are_aliases(worker, http) -> None:
    classified = http.post(f"{worker.url}/classify", json={"text": "feature store returning stale rows, null rate 40%"})
    assert classified.status_code == 200 and classified.json()["label"] in RUNBOOK_CLASSES
    assert http.get(f"{worker.url}/model/version").json() == {"models": {"incident-text": "v1"}}
    metrics = http.get(f"{worker.url}/metrics").text
    for name in ("inference_requests_total", "inference_latency_seconds_bucket", "model_confidence_scores_bucket",
                 "prediction_distribution_total", "error_count_total", "drift_score"):
        assert name in metrics, name


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/models/incident-text:predict", {"instances": [{"text": ""}]}, 400, "DOC_001"),
        ("/v1/models/incident-text:predict", {"instances": [{"text": "x" * 20_001}]}, 400, "DOC_001"),
        ("/v1/models/incident-text:predict", {"instances": [{"text": 5}]}, 400, "DOC_001"),
        ("/classify", {"text": "   "}, 400, "DOC_001"),
        ("/v1/models/incident-text:predict", {"instances": "nope"}, 400, "REQ_001"),
        ("/v1/models/incident-text:predict", {"inputs": []}, 400, "REQ_001"),
        ("/v1/models/no-such-model:predict", {"instances": [{"text": "a"}]}, 404, "MODEL_404"),
        ("/v1/models/incident-text/versions/v99:load", None, 404, "MODEL_404"),
        ("/v1/models/incident-text:rollback", {"steps": 0}, 400, "REQ_001"),
    ],
)
def test_bad_input_gets_a_4xx_with_its_code(worker, http, path, body, status, code) -> None:
    answer = http.post(f"{worker.url}{path}", json=body) if body is not None else http.post(f"{worker.url}{path}")
    assert answer.status_code == status and answer.json()["code"] == code


def test_malformed_json_is_req_001(worker, http) -> None:
    answer = http.post(f"{worker.url}/v1/models/incident-text:predict", content=b"{nope",
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["code"] == "REQ_001"


def test_concurrent_requests_batch_without_mixing_answers(worker, http) -> None:
    texts = [f"{kind} #{i}" for i, kind in enumerate(
        ["p99 latency spike on checkout", "500 errors on /predict", "PSI drift 0.3 on embeddings",
         "accuracy dropped after v5 deploy", "canary failed health checks", "everything is down, no healthy targets",
         "leaked AWS credentials in a public repo", "ETL job failed, schema changed"] * 6)]
    expected = {t: predict(http, worker.url, t).json()["predictions"][0]["label"] for t in texts}
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda t: (t, predict(httpx.Client(timeout=30), worker.url, t).json()), texts))
    for text, answer in answers:
        assert answer["predictions"][0]["label"] == expected[text]
    batches = http.get(f"{worker.url}/metrics").text
    assert 'inference_batch_size_bucket{le="1.0",model="incident-text"}' in batches
    count_line = next(line for line in batches.splitlines() if line.startswith("inference_batch_size_count"))
    assert float(count_line.split()[-1]) < 2 * len(texts), "concurrent requests must share batches"


def test_a_full_queue_answers_503_with_retry_after(trained_registry, tmp_path) -> None:
    server = start_worker(trained_registry, tmp_path, queue_max=1, batch_max=1, worker_threads=1)
    try:
        def call(i: int) -> httpx.Response:
            with httpx.Client(timeout=60) as client:
                return predict(client, server.url, *[f"latency spike {i}-{j}" for j in range(16)])

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(call, range(8)))
        refused = [a for a in answers if a.status_code == 503]
        assert refused, [a.status_code for a in answers]
        assert all(a.json()["code"] == "RATE_001" and a.headers["retry-after"] for a in refused)
        assert all(a.status_code in (200, 503) for a in answers)
    finally:
        server.stop()


def test_hot_swap_and_rollback_under_load_drop_nothing(worker, http) -> None:
    stop = threading.Event()
    seen: list[tuple[int, str]] = []

    def hammer() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                answer = predict(client, worker.url, "GPU nodes OOMKilled during rollout")
                seen.append((answer.status_code, answer.json().get("model_version", "")))

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(8):
            pool.submit(hammer)
        time.sleep(0.5)
        loaded = http.post(f"{worker.url}/v1/models/incident-text/versions/v2:load")
        assert loaded.json() == {"name": "incident-text", "version": "v2", "ready": True}
        assert predict(http, worker.url, "disk full on the scorer").json()["model_version"] == "v2"
        time.sleep(0.5)
        rolled = http.post(f"{worker.url}/v1/models/incident-text:rollback", json={"steps": 1})
        assert rolled.json()["version"] == "v1"
        assert predict(http, worker.url, "disk full on the scorer").json()["model_version"] == "v1"
        time.sleep(0.5)
        stop.set()
    assert len(seen) > 20 and all(status == 200 for status, _ in seen), seen[:5]
    assert {version for _, version in seen} == {"v1", "v2"}
    assert http.get(f"{worker.url}/model/version").json()["models"]["incident-text"] == "v1"


# ----------------------------------------------------------------------------- chart-vit over HTTP


@pytest.fixture
def both_worker(full_registry: Path, tmp_path: Path):
    server = start_worker(full_registry, tmp_path)
    yield server
    server.stop()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def _held_out_chart(seed: int = 31) -> Image.Image:
    return next(iter(generate_examples(1, styles=EVAL_STYLES, seed=seed))).image


def predict_chart(http: httpx.Client, url: str, *images_b64: str) -> httpx.Response:
    return http.post(f"{url}/v1/models/chart-vit:predict", json={"instances": [{"image_b64": b} for b in images_b64]})


def test_both_models_are_listed_and_ready(both_worker, http) -> None:
    assert http.get(f"{both_worker.url}/readyz").json() == {"ready": True,
                                                            "models": {"chart-vit": "v1", "incident-text": "v1"}}
    listed = http.get(f"{both_worker.url}/v1/models").json()["models"]
    assert listed == [
        {"name": "chart-vit", "version": "v1", "ready": True, "kind": "image", "labels": list(CHART_PATTERNS)},
        {"name": "incident-text", "version": "v1", "ready": True, "kind": "text", "labels": list(RUNBOOK_CLASSES)},
    ]
    info = http.get(f"{both_worker.url}/v1/models/chart-vit").json()
    assert info["versions"][0]["config"]["eval_style"] == "cloudwatch_light"


def test_chart_vit_predicts_held_out_style_charts(both_worker, http) -> None:
    chart = _held_out_chart()
    answer = predict_chart(http, both_worker.url, _b64(_encoded(chart)),
                           _b64(_encoded(chart.resize((480, 240)), "JPEG")))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_name"] == "chart-vit" and body["model_version"] == "v1"
    assert len(body["predictions"]) == 2
    for prediction in body["predictions"]:
        assert prediction["label"] in CHART_PATTERNS and set(prediction["scores"]) == set(CHART_PATTERNS)
        assert abs(sum(prediction["scores"].values()) - 1) < 1e-4
        assert prediction["confidence"] == max(prediction["scores"].values())
    logged = http.get(f"{both_worker.url}/v1/models/chart-vit/predictions").json()["predictions"]
    assert len(logged) == 2 and all(len(p["embedding"]) == 16 for p in logged)
    # The text model still answers next to it.
    assert predict(http, both_worker.url, "p99 latency at 4s on checkout").status_code == 200


def _bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG")  # 400M pixels, a few KB on the wire
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: _b64(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4), "corrupt"),
        (lambda: _b64(_encoded(_held_out_chart())[:400]), "truncated"),
        (lambda: _b64(_encoded(_held_out_chart(), "TIFF")), "unsupported format"),
        (lambda: _b64(_bomb()), "decompression bomb"),
        (lambda: "not base64 at all!", "undecodable"),
    ],
)
def test_bad_images_get_img_001_over_http(both_worker, http, make, why) -> None:
    answer = predict_chart(http, both_worker.url, make())
    assert answer.status_code == 400, (why, answer.status_code, answer.text)
    assert answer.json()["code"] == "IMG_001", why


def test_chart_vit_wants_images(both_worker, http) -> None:
    answer = http.post(f"{both_worker.url}/v1/models/chart-vit:predict", json={"instances": [{"text": "a chart"}]})
    assert answer.status_code == 400 and answer.json()["code"] == "REQ_001"


def test_a_stopped_worker_lets_its_models_go(trained_registry: Path, tmp_path: Path, http) -> None:
    # FastAPI caches its endpoint functions process-wide: routes closing over the host would keep
    # every worker's models alive after it stopped (tests start dozens).
    import gc
    import weakref

    server = start_worker(trained_registry, tmp_path)
    assert predict(http, server.url, "P95 latency is 2.4s").status_code == 200
    host = weakref.ref(server.app.state.worker.host)
    server.stop()
    del server
    gc.collect()
    assert host() is None, "the stopped worker's model host is still referenced"
