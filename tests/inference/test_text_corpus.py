"""The incident-text corpus: it loads, it is big and varied enough, and bad rows are refused."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path

import pytest

from inference.datasets.text import (
    SOURCES,
    CorpusError,
    TextExample,
    corpus_hash,
    load_path,
    load_split,
)
from runbooks.classes import CLASS_DESCRIPTIONS, RUNBOOK_CLASSES

MIN_PER_CLASS = {"train": 100, "heldout": 40}
SPLITS = tuple(MIN_PER_CLASS)
README = Path(str(resources.files("inference.data").joinpath("text", "README.md")))


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[TextExample]]:
    return {split: load_split(split) for split in SPLITS}


def _normalise(text: str) -> str:
    """Lowercase; punctuation, digits and underscores become spaces; whitespace collapsed."""
    return " ".join(re.sub(r"[\W\d_]+", " ", text.lower()).split())


def _tokens(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z]+", text.lower()))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def _by_label(examples: list[TextExample]) -> dict[str, list[TextExample]]:
    grouped: dict[str, list[TextExample]] = defaultdict(list)
    for example in examples:
        grouped[example.label].append(example)
    return grouped


# --- labels -----------------------------------------------------------------------------------


def test_runbook_classes_and_descriptions_agree() -> None:
    assert len(RUNBOOK_CLASSES) == 8
    assert len(set(RUNBOOK_CLASSES)) == 8
    assert tuple(CLASS_DESCRIPTIONS) == RUNBOOK_CLASSES
    for label, description in CLASS_DESCRIPTIONS.items():
        assert description.strip(), label
        assert "\n" not in description, label


# --- the packaged splits ----------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_split_loads_as_examples(corpus, split) -> None:
    examples = corpus[split]
    assert examples
    assert all(isinstance(e, TextExample) for e in examples)
    assert {e.label for e in examples} == set(RUNBOOK_CLASSES)


def test_examples_are_frozen(corpus) -> None:
    example = corpus["train"][0]
    with pytest.raises(AttributeError):
        example.label = "security"  # type: ignore[misc]


@pytest.mark.parametrize("split", SPLITS)
def test_every_class_has_enough_examples(corpus, split) -> None:
    counts = Counter(e.label for e in corpus[split])
    short = {label: counts[label] for label in RUNBOOK_CLASSES
             if counts[label] < MIN_PER_CLASS[split]}
    assert not short, f"{split}: classes under {MIN_PER_CLASS[split]} examples: {short}"


@pytest.mark.parametrize("split", SPLITS)
def test_sources_are_known_and_varied(corpus, split) -> None:
    for label, examples in _by_label(corpus[split]).items():
        sources = {e.source for e in examples}
        assert sources <= set(SOURCES), (split, label, sources - set(SOURCES))
        assert len(sources) >= 5, f"{split}/{label}: only {sorted(sources)}"


@pytest.mark.parametrize("split", SPLITS)
def test_no_duplicates_within_a_split(corpus, split) -> None:
    exact = Counter(e.text for e in corpus[split])
    assert [t for t, n in exact.items() if n > 1] == []
    normalised = Counter(_normalise(e.text) for e in corpus[split])
    assert [t for t, n in normalised.items() if n > 1] == []


def test_no_text_is_shared_across_splits(corpus) -> None:
    train_exact = {e.text for e in corpus["train"]}
    train_norm = {_normalise(e.text) for e in corpus["train"]}
    assert [e.text for e in corpus["heldout"] if e.text in train_exact] == []
    assert [e.text for e in corpus["heldout"] if _normalise(e.text) in train_norm] == []


def test_heldout_texts_are_not_near_copies_of_training_texts(corpus) -> None:
    """Written separately: no held-out text shares most of its words with a training text."""
    train = [_tokens(e.text) for e in corpus["train"]]
    near = []
    for example in corpus["heldout"]:
        tokens = _tokens(example.text)
        best = max(_jaccard(tokens, other) for other in train)
        if best >= 0.6:
            near.append((round(best, 2), example.text))
    assert near == []


@pytest.mark.parametrize("split", SPLITS)
def test_opening_words_vary_within_each_class(corpus, split) -> None:
    """Slot templates share their first words; hand-written texts mostly do not."""
    for label, examples in _by_label(corpus[split]).items():
        prefixes = {" ".join(e.text.lower().split()[:3]) for e in examples}
        ratio = len(prefixes) / len(examples)
        assert ratio >= 0.6, f"{split}/{label}: distinct 3-word openings {ratio:.2f}"


@pytest.mark.parametrize("split", SPLITS)
def test_texts_within_a_class_are_lexically_diverse(corpus, split) -> None:
    """Mean pairwise token Jaccard within a class stays low (on a fixed sample of 60)."""
    rng = random.Random(20251123)
    for label, examples in sorted(_by_label(corpus[split]).items()):
        sample = rng.sample(examples, min(60, len(examples)))
        sims = [_jaccard(_tokens(a.text), _tokens(b.text))
                for a, b in itertools.combinations(sample, 2)]
        mean = sum(sims) / len(sims)
        assert mean < 0.25, f"{split}/{label}: mean pairwise Jaccard {mean:.3f}"


@pytest.mark.parametrize("split", SPLITS)
def test_lengths_range_from_terse_to_verbose(corpus, split) -> None:
    words = [len(e.text.split()) for e in corpus[split]]
    assert min(words) >= 3
    assert min(words) <= 5
    assert max(words) >= 60


def test_readme_counts_match_the_files(corpus) -> None:
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \| (\d+) \|$", README.read_text("utf-8"), re.M)
    documented = {label: (int(train), int(heldout)) for label, train, heldout in rows}
    actual = {
        label: tuple(sum(1 for e in corpus[s] if e.label == label) for s in SPLITS)
        for label in RUNBOOK_CLASSES
    }
    assert documented == actual


# --- corpus_hash ------------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_corpus_hash_is_sha256_of_the_file(split) -> None:
    data = resources.files("inference.data").joinpath("text", f"{split}.jsonl").read_bytes()
    digest = corpus_hash(split)
    assert digest == hashlib.sha256(data).hexdigest()
    assert corpus_hash(split) == digest


def test_splits_hash_differently() -> None:
    assert corpus_hash("train") != corpus_hash("heldout")


def test_unknown_split_is_refused() -> None:
    with pytest.raises(CorpusError, match="unknown split 'dev'"):
        load_split("dev")  # type: ignore[arg-type]
    with pytest.raises(CorpusError, match="unknown split"):
        corpus_hash("test")  # type: ignore[arg-type]


# --- load_path and bad rows -------------------------------------------------------------------

GOOD = {"text": "p95 above SLO on scoring", "label": "high_latency", "source": "slack"}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_path_reads_a_good_file_and_skips_blank_lines(tmp_path) -> None:
    other = {"text": "PSI 0.3 on amount", "label": "model_drift", "source": "email"}
    path = _write(tmp_path, [json.dumps(GOOD), "", "   ", json.dumps(other)])
    assert load_path(path) == [TextExample(**GOOD), TextExample(**other)]


def test_load_path_matches_load_split_on_the_packaged_file(corpus) -> None:
    resource = resources.files("inference.data").joinpath("text", "heldout.jsonl")
    path = Path(str(resource))
    if not path.is_file():
        pytest.skip("package data is not on the file system here")
    assert load_path(path) == corpus["heldout"]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"text": "oops", "label": ', "not valid JSON"),
        ('["p99 high", "high_latency", "slack"]', "expected a JSON object"),
        (json.dumps({**GOOD, "label": "latency"}), "unknown label 'latency'"),
        (json.dumps({**GOOD, "label": None}), "unknown label None"),
        (json.dumps({**GOOD, "text": ""}), "'text' must be a non-empty string"),
        (json.dumps({**GOOD, "text": "  \t "}), "'text' must be a non-empty string"),
        (json.dumps({**GOOD, "text": 42}), "'text' must be a non-empty string"),
        (json.dumps({"text": "x y z", "source": "slack"}), "missing field(s) label"),
        (json.dumps({**GOOD, "source": "twitter"}), "unknown source 'twitter'"),
        (json.dumps({**GOOD, "severity": "p1"}), "unexpected field(s) severity"),
    ],
)
def test_bad_row_names_the_file_and_line(tmp_path, bad_line, message) -> None:
    path = _write(tmp_path, [json.dumps(GOOD), "", bad_line, json.dumps(GOOD)])
    with pytest.raises(CorpusError) as info:
        load_path(path)
    text = str(info.value)
    assert text.startswith(f"{path}:3: "), text
    assert message in text


def test_empty_file_is_refused(tmp_path) -> None:
    path = _write(tmp_path, [""])
    with pytest.raises(CorpusError, match="holds no examples"):
        load_path(path)


def test_missing_file_is_refused(tmp_path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(CorpusError, match="cannot read"):
        load_path(path)


def test_invalid_utf8_is_refused(tmp_path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "caf\xe9", "label": "security", "source": "slack"}\n')
    with pytest.raises(CorpusError, match="not valid UTF-8"):
        load_path(path)
