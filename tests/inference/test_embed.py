"""Sentence embeddings over HTTP and through the bot's client, from a real worker serving quick models."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoConfig

from bot.core.ports.worker import WorkerRejected
from bot.integrations.worker import HttpWorkerClient
from inference.models.encoder import encoder_path
from inference.server import MAX_EMBED_TEXTS
from tests.inference.test_worker import start_worker

SIMILAR = ("GPU latency spike after deploy", "latency spike on GPU nodes after the deploy")
UNRELATED = "password reset email not delivered"


@pytest.fixture(scope="module")
def worker(full_registry: Path, tmp_path_factory: pytest.TempPathFactory):
    """incident-text and chart-vit; module-scoped so that the property test can share it."""
    server = start_worker(full_registry, tmp_path_factory.mktemp("embed-worker"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def encoder_width() -> int:
    return int(AutoConfig.from_pretrained(encoder_path(), local_files_only=True).hidden_size)


def embed(http: httpx.Client, url: str, body: object, *, model: str = "incident-text") -> httpx.Response:
    return http.post(f"{url}/v1/models/{model}:embed", json=body)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_a_batch_gets_one_unit_vector_per_text(worker, http, encoder_width) -> None:
    texts = [*SIMILAR, UNRELATED]
    answer = embed(http, worker.url, {"texts": texts})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"model_name", "model_version", "embeddings"}
    assert body["model_name"] == "incident-text" and body["model_version"] == "v1"
    assert len(body["embeddings"]) == len(texts)
    for vector in body["embeddings"]:
        assert len(vector) == encoder_width
        assert all(isinstance(x, float) for x in vector)
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-4)


def test_similar_texts_are_closer_than_unrelated_ones(worker, http) -> None:
    first, second, other = embed(http, worker.url, {"texts": [*SIMILAR, UNRELATED]}).json()["embeddings"]
    assert cosine(first, second) > cosine(first, other) + 0.1
    assert cosine(first, second) > cosine(second, other) + 0.1


def test_a_text_embeds_the_same_alone_or_in_a_batch(worker, http) -> None:
    batch = ["x", "a much longer alert text that pads the rest of the batch: p99 latency at 4s on checkout", SIMILAR[0]]
    together = embed(http, worker.url, {"texts": batch}).json()["embeddings"]
    for text, in_batch in zip(batch, together, strict=True):
        alone = embed(http, worker.url, {"texts": [text]}).json()["embeddings"][0]
        assert max(abs(a - b) for a, b in zip(alone, in_batch, strict=True)) < 1e-4, text


def test_embeddings_stay_out_of_the_prediction_log(worker, http) -> None:
    before = http.get(f"{worker.url}/v1/models/incident-text/predictions").json()["predictions"]
    assert embed(http, worker.url, {"texts": ["disk full on the feature store"]}).status_code == 200
    assert http.get(f"{worker.url}/v1/models/incident-text/predictions").json()["predictions"] == before


def test_an_image_model_cannot_embed(worker, http) -> None:
    answer = embed(http, worker.url, {"texts": ["a chart"]}, model="chart-vit")
    assert answer.status_code == 400 and answer.json()["code"] == "REQ_001"
    assert "text models" in answer.json()["error"]


def test_an_unknown_model_is_404(worker, http) -> None:
    answer = embed(http, worker.url, {"texts": ["anything"]}, model="no-such-model")
    assert answer.status_code == 404 and answer.json()["code"] == "MODEL_404"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"texts": []}, "REQ_001"),
        ({"texts": ["alert"] * (MAX_EMBED_TEXTS + 1)}, "REQ_001"),
        ({"texts": "not a list"}, "REQ_001"),
        ({"instances": ["alert"]}, "REQ_001"),
        (["alert"], "REQ_001"),
        ({"texts": ["fine", 5]}, "DOC_001"),
        ({"texts": [None]}, "DOC_001"),
        ({"texts": [{"text": "nested"}]}, "DOC_001"),
        ({"texts": ["   "]}, "DOC_001"),
        ({"texts": ["x" * 20_001]}, "DOC_001"),
    ],
)
def test_bad_bodies_get_a_400_with_their_code(worker, http, body, code) -> None:
    answer = embed(http, worker.url, body)
    assert answer.status_code == 400 and answer.json()["code"] == code, answer.text
    assert answer.json()["error"]


def test_the_most_texts_a_request_may_hold_are_embedded(worker, http) -> None:
    answer = embed(http, worker.url, {"texts": [f"alert {i}" for i in range(MAX_EMBED_TEXTS)]})
    assert answer.status_code == 200 and len(answer.json()["embeddings"]) == MAX_EMBED_TEXTS


@pytest.mark.parametrize("content", [b"{nope", b"", b"\xff\xfe", b"[" * 100_000])
def test_a_body_that_is_not_json_is_req_001(worker, http, content) -> None:
    answer = http.post(f"{worker.url}/v1/models/incident-text:embed", content=content,
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["code"] == "REQ_001"


def test_the_embed_route_leaves_the_others_alone(worker, http) -> None:
    predicted = http.post(f"{worker.url}/v1/models/incident-text:predict", json={"instances": [{"text": "disk full"}]})
    assert predicted.status_code == 200 and "predictions" in predicted.json()
    # A GET on the embed path is not an embedding: it is the model-info route for a model named so.
    assert http.get(f"{worker.url}/v1/models/incident-text:embed").status_code == 404


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=30, deadline=None)
@given(body=_json | st.fixed_dictionaries({"texts": st.lists(_json, max_size=4)}))
def test_no_json_body_makes_the_worker_answer_5xx(worker, http, body) -> None:
    answer = embed(http, worker.url, body)
    assert answer.status_code in (200, 400), (body, answer.status_code, answer.text)


async def test_the_client_embeds_and_maps_refusals(worker, encoder_width) -> None:
    async with HttpWorkerClient(worker.url, timeout=60) as client:
        version, vectors = await client.embed([*SIMILAR, UNRELATED])
        assert version == "v1" and len(vectors) == 3 and all(len(v) == encoder_width for v in vectors)
        assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
        with pytest.raises(WorkerRejected) as empty:
            await client.embed([])
        assert empty.value.status == 400 and empty.value.code == "REQ_001"
        with pytest.raises(WorkerRejected) as blank:
            await client.embed(["   "])
        assert blank.value.code == "DOC_001"
        with pytest.raises(WorkerRejected) as chart:
            await client.embed(["a chart"], model="chart-vit")
        assert chart.value.status == 400
        with pytest.raises(WorkerRejected) as missing:
            await client.embed(["anything"], model="nope")
        assert missing.value.status == 404
