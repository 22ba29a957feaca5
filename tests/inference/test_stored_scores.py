"""Golden-set scores stored with their versions: by training, or by the worker on the first
``:evaluate``; later requests and the worker's description of a model read them, and a record that
cannot be trusted is scored again. Real registries on tmp_path and a real worker over HTTP."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from inference.datasets.text import load_split
from inference.registry import LocalRegistry
from inference.registry.manifest import EVALUATIONS_DIR
from inference.scores import ScoreKey, StoredScore, golden_key, parse_stored, read_stored
from tests.inference.test_worker import start_worker

TEXT = "incident-text"


def scorings(url: str) -> float:
    """How many times the worker has run a version over a golden set, from its /metrics."""
    metrics = httpx.get(f"{url}/metrics", timeout=30).text
    line = next((line for line in metrics.splitlines()
                 if line.startswith(f'golden_scorings_total{{model="{TEXT}"}}')), None)
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


def stored_path(root: Path, version: str, golden_version: str) -> Path:
    return root / TEXT / version / EVALUATIONS_DIR / f"{golden_version}.json"


def unscored_copy(source: Path, dest: Path) -> Path:
    """``source`` without any stored score, as a registry from before scores were stored."""
    shutil.copytree(source, dest)
    for folder in dest.glob(f"*/*/{EVALUATIONS_DIR}"):
        shutil.rmtree(folder)
    return dest


def evaluate(url: str, version: str, golden_from: str | None = None, *, timeout: float = 300) -> dict:
    body = {"golden_from": golden_from} if golden_from else None
    answer = httpx.post(f"{url}/v1/models/{TEXT}/versions/{version}:evaluate", json=body, timeout=timeout)
    assert answer.status_code == 200, answer.text
    return answer.json()


def described(url: str) -> dict[str, dict | None]:
    info = httpx.get(f"{url}/v1/models/{TEXT}", timeout=30).json()
    return {v["version"]: v["golden_score"] for v in info["versions"]}


def test_training_stores_each_versions_score_on_its_golden_set(trained_registry: Path) -> None:
    registry = LocalRegistry(trained_registry)
    for version in ("v1", "v2"):
        manifest = registry.manifest(TEXT, version)
        key = golden_key(manifest)
        assert key is not None and key.golden_version == version
        stored = read_stored(registry, key)
        assert stored is not None and stored.result["examples"] == len(load_split("heldout"))
        # The same model on the same held-out texts as training's own evaluation.
        assert stored.result["accuracy"] == pytest.approx(manifest.metrics["accuracy"], abs=0.01)
        assert ".evaluations" not in manifest.files  # the manifest (and its digests) is untouched


def test_the_first_evaluate_scores_once_and_stores_it_for_everyone_after(golden_registry: Path,
                                                                        tmp_path: Path) -> None:
    worker = start_worker(unscored_copy(golden_registry, tmp_path / "source"), tmp_path)
    root = tmp_path / "registry"  # what the worker serves
    try:
        assert set(described(worker.url).values()) == {None}  # nothing scored yet, and nothing scored by asking
        assert scorings(worker.url) == 0

        # Two people asking at once share one scoring.
        async def both() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=300) as http:
                url = f"{worker.url}/v1/models/{TEXT}/versions/v2:evaluate"
                return list(await asyncio.gather(http.post(url), http.post(url)))

        answers = asyncio.run(both())
        assert [a.status_code for a in answers] == [200, 200] and answers[0].json() == answers[1].json()
        first = answers[0].json()
        assert scorings(worker.url) == 1 and stored_path(root, "v2", "v2").is_file()
        again = evaluate(worker.url, "v2")
        assert again == first and scorings(worker.url) == 1  # read back, not scored again
        assert described(worker.url)["v2"] == {"golden_version": "v2", "accuracy": first["accuracy"],
                                               "macro_f1": first["macro_f1"], "examples": first["examples"],
                                               "scored_at": first["scored_at"]}

        # v4 has no golden set: scored on the serving v1's, kept per (version, golden set).
        borrowed = evaluate(worker.url, "v4", golden_from="v1")
        assert borrowed["golden_version"] == "v1" and stored_path(root, "v4", "v1").is_file()
        assert evaluate(worker.url, "v4", golden_from="v1") == borrowed and scorings(worker.url) == 2
        assert described(worker.url)["v4"]["golden_version"] == "v1"  # type: ignore[index]

        # A caller that stops waiting leaves the scoring running; the score is stored for the next one.
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{worker.url}/v1/models/{TEXT}/versions/v1:evaluate", timeout=0.05)
        deadline = time.monotonic() + 120
        while described(worker.url)["v1"] is None:
            assert time.monotonic() < deadline, "the abandoned scoring was never stored"
            time.sleep(0.2)
        assert stored_path(root, "v1", "v1").is_file() and scorings(worker.url) == 3
        evaluate(worker.url, "v1")
        assert scorings(worker.url) == 3
    finally:
        worker.stop()


def test_a_corrupt_or_stale_stored_score_is_scored_again_never_a_crash(trained_registry: Path,
                                                                       tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(trained_registry, source)
    trained = json.loads(stored_path(source, "v1", "v1").read_bytes())
    stored_path(source, "v1", "v1").write_bytes(b'{"format": 1, "result": ')  # torn
    stale = json.loads(stored_path(source, "v2", "v2").read_bytes())
    stored_path(source, "v2", "v2").write_text(json.dumps({**stale, "golden_sha256": "0" * 64}))  # other data
    worker = start_worker(source, tmp_path)
    root = tmp_path / "registry"
    try:
        assert described(worker.url) == {"v2": None, "v1": None}  # unreadable counts as absent
        rescored = evaluate(worker.url, "v1")
        assert rescored["accuracy"] == pytest.approx(trained["result"]["accuracy"], abs=0.003)  # one text in 360
        assert scorings(worker.url) == 1
        assert json.loads(stored_path(root, "v1", "v1").read_bytes())["result"] == {
            k: v for k, v in rescored.items() if k not in ("name", "version", "golden_version", "scored_at")}

        # v2's record is stale, and its storage now refuses a new one: the score is answered all the same.
        shutil.rmtree(root / TEXT / "v2" / EVALUATIONS_DIR)
        (root / TEXT / "v2" / EVALUATIONS_DIR).write_bytes(b"not a folder")
        assert evaluate(worker.url, "v2")["accuracy"] == pytest.approx(stale["result"]["accuracy"], abs=0.003)
        assert scorings(worker.url) == 2 and described(worker.url)["v2"] is not None  # kept in memory
    finally:
        worker.stop()


KEY = ScoreKey(TEXT, "v3", "v1", "a" * 64)
RESULT = {"accuracy": 0.84, "macro_f1": 0.83, "examples": 360, "per_class_f1": {"high_latency": 0.9}}


def record(**changes: object) -> bytes:
    data = json.loads(StoredScore(KEY, "2026-12-01T10:00:00+00:00", RESULT).to_bytes())
    return json.dumps({**data, **changes}).encode()


def test_a_stored_score_round_trips() -> None:
    stored = parse_stored(record(), KEY)
    assert stored is not None and stored.result == RESULT and stored.scored_at.startswith("2026-12-01")
    assert stored.summary() == {"golden_version": "v1", "accuracy": 0.84, "macro_f1": 0.83, "examples": 360,
                                "scored_at": "2026-12-01T10:00:00+00:00"}
    assert stored.answer()["version"] == "v3" and stored.answer()["per_class_f1"] == {"high_latency": 0.9}


@pytest.mark.parametrize("raw", [
    b"", b"\xff\xfe", b"[" * 100_000, b"[]", b"null", record(format=2), record(version="v4"),
    record(golden_version="v3"), record(golden_sha256="b" * 64), record(name="chart-vit"), record(result=[]),
    record(scored_at=5), record(result={**RESULT, "accuracy": 1.5}), record(result={**RESULT, "accuracy": "0.9"}),
    record(result={**RESULT, "examples": 0}), record(result={**RESULT, "examples": True}),
    record(result={k: v for k, v in RESULT.items() if k != "macro_f1"}),
    b'{"format": 1, "result": {"accuracy": NaN}}',
])
def test_a_record_that_cannot_be_trusted_is_absent(raw: bytes) -> None:
    assert parse_stored(raw, KEY) is None
