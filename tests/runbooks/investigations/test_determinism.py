"""Determinism: replays compared with each other and with the recorded reference, against an honest
in-test worker (same text, same scores, unless told to drift) and a real database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import IncidentBotConfig
from bot.config.errors import ConfigError
from bot.core.ports.errors import ProviderUnavailable
from bot.core.ports.http_probe import ProbeAnswer
from bot.core.ports.worker import WorkerPrediction, WorkerRejected, WorkerUnavailable
from runbooks.classes import RUNBOOK_CLASSES
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import InvestigationKind, Scope, configured_kinds, investigate
from runbooks.investigations.determinism import DeterminismInvestigation
from runbooks.investigations.pinned_inputs import MAX_BATCH_INSTANCES, batches, inputs_hash
from runbooks.investigations.replays import Output, compare
from runbooks.investigations.serving import serving_version
from storage.models import ReplayReference

NOW = datetime.now(UTC).replace(microsecond=0)
TEXTS = ["P95 latency 2.4s on the scoring API, requests timing out",
         "DOC_001 corrupt document uploads rejected at a high rate",
         "drift score 0.31 on the document classifier",
         "same input producing different scores on the scoring engine",
         "stolen API key used from an unknown IP"]

# (replay number, input index, scores) -> the scores the worker answers instead
Transform = Callable[[int, int, dict[str, float]], dict[str, float]]


def base_scores(text: str) -> dict[str, float]:
    """A fixed distribution per text: the answer of a deterministic model."""
    digest = hashlib.sha256(text.encode()).digest()
    weights = [digest[i] + 1 for i in range(len(RUNBOOK_CLASSES))]
    total = sum(weights)
    return {label: round(w / total, 6) for label, w in zip(RUNBOOK_CLASSES, weights, strict=True)}


class ReplayWorker:
    """The two calls of the WorkerClient Protocol a replay makes, answered like the worker does."""

    def __init__(self, *, version: str = "v3", transform: Transform | None = None, files_sha: str = "a" * 64,
                 versions: list[str] | None = None, error: Exception | None = None) -> None:
        self.version = version
        self.transform = transform or (lambda _replay, _index, scores: scores)
        self.files_sha = files_sha
        self.versions = list(versions or [])  # what model() answers in turn, then self.version
        self.error = error
        self.requests: list[int] = []

    async def model(self, name: str) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        version = self.versions.pop(0) if self.versions else self.version
        return {"name": name, "version": version, "ready": True, "kind": "text", "labels": list(RUNBOOK_CLASSES),
                "versions": [{"name": name, "version": version, "created_at": (NOW - timedelta(days=2)).isoformat(),
                              "files": {"text_head.safetensors": self.files_sha}, "notes": "quick"}],
                "deploys": [{"version": "v2", "deployed_at": (NOW - timedelta(days=9)).isoformat(),
                             "actor": "ci", "action": "promote", "steps": 0},
                            {"version": version, "deployed_at": (NOW - timedelta(hours=5)).isoformat(),
                             "actor": "alice", "action": "promote", "steps": 0}],
                "serving_history": ["v2", version]}

    async def predict(self, name: str, instances: list[dict[str, Any]], *,
                      probe: bool = True) -> list[WorkerPrediction]:
        replay = len(self.requests)  # up to 64 inputs, each replay is one request
        self.requests.append(len(instances))
        answers = []
        for index, instance in enumerate(instances):
            scores = self.transform(replay, index, base_scores(instance["text"]))
            label = max(scores, key=scores.__getitem__)
            answers.append(WorkerPrediction(label, scores[label], scores, self.version))
        return answers


def service(**determinism: Any):
    config = IncidentBotConfig.from_mapping({"services": {"scoring-api": {
        "determinism": {"model": "incident-text", "inputs": TEXTS, **determinism}}}})
    return config.services["scoring-api"]


def scope(svc=None, number: int = 7) -> Scope:
    return Scope(incident_number=number, service_name="scoring-api", service=svc or service(),
                 start=NOW - timedelta(hours=1), end=NOW)


async def run(worker: ReplayWorker, sessions, svc=None, number: int = 7):
    return await investigate(DeterminismInvestigation(worker, sessions, clock=lambda: NOW), scope(svc, number))


async def references(sessions) -> list[ReplayReference]:
    async with sessions() as session:
        return list((await session.scalars(select(ReplayReference).order_by(ReplayReference.id))).all())


def nudge(amount: float, *, on_replay: int | None = None, index: int = 1) -> Transform:
    """Move one input's top score by ``amount`` (on one replay, or on every one)."""
    def transform(replay: int, at: int, scores: dict[str, float]) -> dict[str, float]:
        if at != index or (on_replay is not None and replay != on_replay):
            return scores
        top = max(scores, key=scores.__getitem__)
        return {**scores, top: round(scores[top] + amount, 6)}
    return transform


def flip(index: int = 2) -> Transform:
    """Another label for one input, on every replay: a changed model, not a noisy one."""
    def transform(_replay: int, at: int, scores: dict[str, float]) -> dict[str, float]:
        return {**scores, "security": 0.99} if at == index else scores
    return transform


async def test_the_first_run_records_the_reference_and_the_next_compares_with_it(sessions) -> None:
    first = await run(ReplayWorker(), sessions)
    assert first.kind == InvestigationKind.DETERMINISM and first.verdict == Verdict.OK
    assert first.headline == ("determinism: 5/5 identical across two replays; reference recorded now "
                              "(incident-text v3, weights 2d old)")
    assert first.data["reference"]["status"] == "recorded_now" and first.attachment is None
    assert "serving since 5h ago by alice" in first.lines[0]
    [row] = await references(sessions)
    assert (row.model, row.version, row.input_count, row.incident_number) == ("incident-text", "v3", 5, 7)
    assert row.inputs_hash == inputs_hash(tuple({"text": t} for t in TEXTS))
    assert row.outputs[0] == {"label": max(base_scores(TEXTS[0]), key=base_scores(TEXTS[0]).get),
                              "scores": base_scores(TEXTS[0])}

    again = await run(ReplayWorker(), sessions, number=8)
    assert again.verdict == Verdict.OK
    assert again.headline == ("determinism: 5/5 identical across two replays and the reference "
                              "(incident-text v3, weights 2d old)")
    reference = again.data["reference"]
    assert (reference["status"], reference["incident_number"], reference["differ"]) == ("compared", 7, 0)
    assert "Against the reference recorded 0s ago for incident #7: identical" in "\n".join(again.lines)
    assert len(await references(sessions)) == 1, "the reference is recorded once"


async def test_replays_that_disagree_are_critical_and_record_no_reference(sessions) -> None:
    worker = ReplayWorker(transform=nudge(0.01, on_replay=1))
    finding = await run(worker, sessions)
    assert finding.verdict == Verdict.CRITICAL
    assert finding.headline == ("determinism: 1/5 differ between two replays of incident-text v3 (max diff 0.01): "
                                "serving is nondeterministic")
    assert finding.data["replays"] == {"differ": 1, "label_changes": 0, "max_diff": pytest.approx(0.01)}
    assert finding.data["first_differences"][0]["index"] == 1
    assert "No reference recorded: the two replays disagree" in "\n".join(finding.lines)
    assert finding.attachment is not None and b"DOC_001 corrupt document" in finding.attachment.content
    assert await references(sessions) == []


async def test_the_tolerance_allows_one_rounding_step_and_no_more(sessions) -> None:
    assert (await run(ReplayWorker(transform=nudge(1e-6, on_replay=1)), sessions)).verdict == Verdict.OK
    noisy = await run(ReplayWorker(transform=nudge(2e-6, on_replay=1)), sessions)
    assert noisy.verdict == Verdict.CRITICAL and noisy.data["replays"]["differ"] == 1
    loose = await run(ReplayWorker(transform=nudge(2e-6, on_replay=1)), sessions, svc=service(tolerance=1e-5))
    assert loose.verdict == Verdict.OK


async def test_a_version_that_answers_otherwise_than_its_reference_warns_or_is_critical(sessions) -> None:
    await run(ReplayWorker(), sessions)
    scores_moved = await run(ReplayWorker(transform=nudge(0.002)), sessions)
    assert scores_moved.verdict == Verdict.WARNING
    assert scores_moved.headline == ("determinism: 1/5 differ from the reference of incident-text v3 recorded 0s ago "
                                     "(0 labels changed, max diff 0.002)")
    labels_changed = await run(ReplayWorker(transform=flip()), sessions)
    assert labels_changed.verdict == Verdict.CRITICAL and "(1 labels changed" in labels_changed.headline
    assert labels_changed.data["first_differences"][0]["labels"][1] == "security"
    shown = "\n".join(labels_changed.lines)
    assert "reference #3 “drift score 0.31 on the document classifier”:" in shown and "→ security" in shown
    assert b"reference #3" in labels_changed.attachment.content
    # Another version has its own reference: a retrained model may answer differently.
    new_version = await run(ReplayWorker(version="v4", transform=flip()), sessions)
    assert new_version.verdict == Verdict.OK and "reference recorded now (incident-text v4" in new_version.headline


async def test_other_weights_under_the_same_version_name_are_critical(sessions) -> None:
    await run(ReplayWorker(files_sha="a" * 64), sessions)
    finding = await run(ReplayWorker(files_sha="b" * 64), sessions)
    assert finding.verdict == Verdict.CRITICAL
    assert finding.headline == ("determinism: the weights of incident-text v3 changed since its reference was "
                                "recorded 0s ago")
    assert finding.data["weights"]["changed"] is True


async def test_changed_inputs_get_a_reference_of_their_own(sessions) -> None:
    await run(ReplayWorker(), sessions)
    edited = service(inputs=[*TEXTS, "feature store materialization stale for 6 hours"])
    finding = await run(ReplayWorker(transform=flip()), sessions, svc=edited)
    assert finding.verdict == Verdict.OK and "6/6 identical" in finding.headline and "recorded now" in finding.headline
    assert [row.input_count for row in await references(sessions)] == [5, 6]


async def test_a_deploy_during_the_replay_is_inconclusive(sessions) -> None:
    finding = await run(ReplayWorker(versions=["v3", "v4"], version="v4"), sessions)
    assert finding.verdict == Verdict.UNAVAILABLE
    assert finding.headline == "determinism: inconclusive, incident-text served v3 → v4 during the replay"
    assert await references(sessions) == []


async def test_worker_errors_are_findings_not_exceptions(sessions) -> None:
    down = await run(ReplayWorker(error=WorkerUnavailable("the model worker is unreachable: ConnectError")), sessions)
    assert down.verdict == Verdict.UNAVAILABLE and down.headline == "determinism: the model worker could not be asked"
    assert "unreachable" in down.lines[0]
    refused = await run(ReplayWorker(error=WorkerRejected("model not found (MODEL_404)", status=404, code="MODEL_404")),
                        sessions)
    assert refused.headline == "determinism: the worker refused (404)" and "MODEL_404" in refused.lines[0]
    loading = await run(ReplayWorker(versions=[""]), sessions)
    assert loading.verdict == Verdict.UNAVAILABLE and loading.headline == "determinism: incident-text is not serving"


async def test_inputs_from_a_file_are_the_same_set_as_inline(sessions, tmp_path: Path) -> None:
    pinned = tmp_path / "pinned.jsonl"
    pinned.write_text("\n".join(json.dumps(t) for t in TEXTS[:3]) + "\n\n"
                      + "\n".join(json.dumps({"text": t}) for t in TEXTS[3:]) + "\n")
    from_file = await run(ReplayWorker(), sessions, svc=service(inputs=None, inputs_file=str(pinned)))
    assert from_file.verdict == Verdict.OK and f"from {pinned}" in from_file.lines[1]
    inline = await run(ReplayWorker(), sessions)
    assert "identical across two replays and the reference" in inline.headline, "one set, one reference"


@pytest.mark.parametrize(("content", "said"), [
    (b'"fine"\n{"text": "  "}\n', "line 2: text: must not be blank"),
    (b'"fine"\n{not json\n', "line 2: not valid JSON"),
    (b'{"txt": "a"}\n', "line 1: txt: unknown key"),
    (b"[1, 2]\n", "line 1:"),
    (b"\n\n", "holds no inputs"),
    (b"\xff\xfe", "is not UTF-8 text"),
    (b'"a"\n' * 201, "more than 200 inputs"),
])
async def test_a_bad_inputs_file_says_what_is_wrong(sessions, tmp_path: Path, content: bytes, said: str) -> None:
    pinned = tmp_path / "pinned.jsonl"
    pinned.write_bytes(content)
    finding = await run(ReplayWorker(), sessions, svc=service(inputs=None, inputs_file=str(pinned)))
    assert finding.verdict == Verdict.UNAVAILABLE
    assert finding.headline == "determinism: the pinned inputs cannot be replayed"
    assert said in finding.lines[0]


async def test_a_missing_inputs_file_says_so(sessions, tmp_path: Path) -> None:
    finding = await run(ReplayWorker(), sessions, svc=service(inputs=None, inputs_file=str(tmp_path / "nope.jsonl")))
    assert finding.verdict == Verdict.UNAVAILABLE and "does not exist" in finding.lines[0]
    folder = await run(ReplayWorker(), sessions, svc=service(inputs=None, inputs_file=str(tmp_path)))
    assert "is a folder" in folder.lines[0]


async def test_many_inputs_go_in_batches_the_worker_accepts(sessions) -> None:
    texts = [f"incident number {i}: latency above SLO" for i in range(150)]
    worker = ReplayWorker()
    finding = await run(worker, sessions, svc=service(inputs=texts))
    assert finding.verdict == Verdict.OK and "150/150 identical" in finding.headline
    assert worker.requests == [64, 64, 22, 64, 64, 22] and finding.data["requests"] == 6
    charts = tuple({"text": "t", "image_b64": "A" * 300_000} for _ in range(40))
    assert [len(b) for b in batches(charts)] == [13, 13, 13, 1]
    assert MAX_BATCH_INSTANCES == 64


class StatsPage:
    """The HttpProbe Protocol over a fixed /stats page, or a service that does not answer."""

    def __init__(self, page: dict[str, Any] | None) -> None:
        self.page = page
        self.asked: list[str] = []

    async def get(self, url: str) -> ProbeAnswer:
        self.asked.append(url)
        if self.page is None:
            raise ProviderUnavailable("connection refused", provider="http")
        return ProbeAnswer(url=url, status=200, body=json.dumps(self.page).encode(), truncated=False, seconds=0.01)


async def test_the_normalization_context_is_shown_beside_the_replay_when_the_service_names_its_stats(
        sessions) -> None:
    config = IncidentBotConfig.from_mapping({"services": {"scoring-api": {
        "determinism": {"model": "incident-text", "inputs": TEXTS},
        "data_quality": {"stats_url": "http://scoring.internal/stats"}}}})
    svc = config.services["scoring-api"]
    page = StatsPage({"normalization_context": {"version": "ctx-2024-01-15", "age_seconds": 3 * 3600}})
    investigation = DeterminismInvestigation(ReplayWorker(), sessions, http=page, clock=lambda: NOW)
    finding = await investigate(investigation, scope(svc))
    assert page.asked == ["http://scoring.internal/stats"]
    assert finding.verdict == Verdict.OK and finding.headline.endswith("weights 2d old, context ctx-2024-01-15 3h old)")
    assert "Normalization context (http://scoring.internal/stats): version ctx-2024-01-15, 3h old." in finding.lines
    assert finding.data["normalization_context"]["age_s"] == 10800.0

    down = DeterminismInvestigation(ReplayWorker(), sessions, http=StatsPage(None), clock=lambda: NOW)
    unread = await investigate(down, scope(svc))
    assert unread.verdict == Verdict.OK, "the context is shown, not judged: Data quality judges its age"
    assert "could not be read: connection refused" in "\n".join(unread.lines)
    without = await investigate(DeterminismInvestigation(ReplayWorker(), sessions, http=page), scope())
    assert "normalization_context" not in without.data and len(page.asked) == 1


def test_the_comparison_rules() -> None:
    same = Output("high_latency", {"high_latency": 0.7, "security": 0.3})
    assert compare([same], [same], tolerance=0).identical
    moved = Output("high_latency", {"high_latency": 0.69, "security": 0.31})
    result = compare([same], [moved], tolerance=1e-6)
    assert result.differences[0].max_diff == pytest.approx(0.01) and result.label_changes == 0
    assert compare([same], [moved], tolerance=0.02).identical
    relabelled = Output("security", {"high_latency": 0.7, "security": 0.3})
    assert compare([same], [relabelled], tolerance=1).label_changes == 1, "a label change differs at any tolerance"
    fewer_classes = Output("high_latency", {"high_latency": 0.7})
    gap = compare([same], [fewer_classes], tolerance=1e-6).differences[0]
    assert (gap.max_diff, gap.worst_class) == (pytest.approx(0.3), "security")
    with pytest.raises(ValueError, match="cannot compare 1 outputs with 0"):
        compare([same], [], tolerance=0)


def test_the_serving_version_is_read_from_the_model_description() -> None:
    described = serving_version("incident-text", {
        "version": "v2", "versions": [{"version": "v2", "created_at": "2026-01-02T03:04:05+00:00",
                                       "files": {"h": "c" * 64}}, {"version": "v1", "created_at": "x"}],
        "deploys": [{"version": "v2", "deployed_at": "2026-01-03T00:00:00+00:00", "actor": "ci"},
                    {"version": "v1", "deployed_at": "2026-01-04T00:00:00+00:00", "actor": "bob"},
                    {"version": "v2", "deployed_at": "2026-01-05T00:00:00+00:00", "actor": "alice"}]})
    assert described.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert described.serving_since == datetime(2026, 1, 5, tzinfo=UTC) and described.deployed_by == "alice"
    assert len(described.weights_digest) == 64
    assert serving_version("m", {"version": None, "ready": False}).version is None
    odd = serving_version("m", {"version": "v1", "versions": "nonsense", "deploys": [1, None]})
    assert (odd.created_at, odd.serving_since, odd.weights_digest) == (None, None, "")


def test_the_config_bounds_and_explains_the_pinned_inputs() -> None:
    assert configured_kinds(service()) == (InvestigationKind.DETERMINISM,)
    charts = service(model="fusion", inputs=[{"text": "latency", "image_b64": "iVBORw0KGgo="}])
    assert charts.determinism.inputs[0].instance() == {"text": "latency", "image_b64": "iVBORw0KGgo="}
    for given, said in (
        ({"inputs": None}, "give exactly one of inputs (a non-empty list) or inputs_file"),
        ({"inputs_file": "pinned.jsonl"}, "give exactly one of inputs"),
        ({"model": "Incident Text"}, "a model name is 1-63 lowercase letters"),
        ({"inputs": ["ok", "   "]}, "inputs[1].text: must not be blank"),
        ({"inputs": [{"image_b64": "%%%"}]}, "inputs[0].image_b64: is not valid base64"),
        ({"inputs": [{}]}, "give text, image_b64 or both"),
        ({"inputs": ["x"] * 201}, "at most 200 items"),
        ({"inputs": ["x" * 20_001]}, "at most 20000 characters"),
        ({"tolerance": True}, "expected a number, not true or false"),
        ({"tolerance": 2}, "less than or equal to 1"),
    ):
        with pytest.raises(ConfigError, match=r"services\.scoring-api\.determinism") as raised:
            service(**given)
        assert said in str(raised.value), (given, str(raised.value))
    assert service(tolerance="1e-4").determinism.tolerance == 1e-4, "YAML reads 1e-4 as a string"
