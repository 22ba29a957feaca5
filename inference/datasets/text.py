"""The labelled incident-text corpus: alert and incident texts with their runbook class.

The JSONL files live in the ``inference.data`` package (``text/train.jsonl`` and
``text/heldout.jsonl``) and are read through :mod:`importlib.resources`, so the loader works
from a source checkout and from an installed wheel alike. Each line is one JSON object::

    {"text": "...", "label": "high_latency", "source": "cloudwatch"}

Every row is validated on load; a bad row raises :class:`CorpusError` naming the file and the
1-based line number.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Final, Literal

from runbooks.classes import RUNBOOK_CLASSES

Split = Literal["train", "heldout"]

SPLITS: Final[tuple[str, ...]] = ("train", "heldout")

SOURCES: Final[tuple[str, ...]] = (
    "cloudwatch",
    "pagerduty",
    "alertmanager",
    "slack",
    "email",
    "statuspage",
    "ticket",
)

_DATA_PACKAGE: Final = "inference.data"
_FIELDS: Final = frozenset({"text", "label", "source"})


class CorpusError(ValueError):
    """A corpus file is missing, unreadable, or holds a row that is not a valid example."""


@dataclass(frozen=True, slots=True)
class TextExample:
    """One labelled text: what an alert, a page or a person said, and its runbook class."""

    text: str
    label: str
    source: str


def split_resource(split: Split) -> Traversable:
    """The packaged JSONL file of a split (a :class:`Traversable`, not always a real path)."""
    if split not in SPLITS:
        raise CorpusError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return resources.files(_DATA_PACKAGE).joinpath("text", f"{split}.jsonl")


def load_split(name: Split) -> list[TextExample]:
    """Load and validate one split of the packaged corpus, in file order."""
    resource = split_resource(name)
    display = f"{_DATA_PACKAGE.replace('.', '/')}/text/{name}.jsonl"
    try:
        raw = resource.read_bytes()
    except (FileNotFoundError, OSError) as exc:
        raise CorpusError(f"{display}: cannot read the corpus file ({exc})") from exc
    return parse_jsonl(raw, display)


def load_path(path: str | Path) -> list[TextExample]:
    """Load and validate a corpus file at an explicit path (same format as the splits)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read the corpus file ({exc})") from exc
    return parse_jsonl(raw, str(path))


def corpus_hash(split: Split) -> str:
    """SHA-256 hex digest of a split's file bytes, recorded in registry manifests."""
    return hashlib.sha256(split_resource(split).read_bytes()).hexdigest()


def parse_jsonl(raw: bytes, filename: str) -> list[TextExample]:
    """Parse corpus bytes; ``filename`` only names the file in error messages.

    Blank lines are skipped. Anything else that is not a JSON object with a non-empty
    ``text``, a known ``label`` and a known ``source`` (and no other keys) is an error.
    """
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{filename}: not valid UTF-8 ({exc})") from exc
    examples: list[TextExample] = []
    for lineno, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        examples.append(_parse_row(line, filename, lineno))
    if not examples:
        raise CorpusError(f"{filename}: the file holds no examples")
    return examples


def _parse_row(line: str, filename: str, lineno: int) -> TextExample:
    where = f"{filename}:{lineno}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = _FIELDS - row.keys()
    if missing:
        raise CorpusError(f"{where}: missing field(s) {', '.join(sorted(missing))}")
    extra = row.keys() - _FIELDS
    if extra:
        raise CorpusError(f"{where}: unexpected field(s) {', '.join(sorted(extra))}")
    text, label, source = row["text"], row["label"], row["source"]
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: 'text' must be a non-empty string")
    if label not in RUNBOOK_CLASSES:
        raise CorpusError(
            f"{where}: unknown label {label!r}; expected one of {', '.join(RUNBOOK_CLASSES)}"
        )
    if source not in SOURCES:
        raise CorpusError(
            f"{where}: unknown source {source!r}; expected one of {', '.join(SOURCES)}"
        )
    return TextExample(text=text, label=label, source=source)
