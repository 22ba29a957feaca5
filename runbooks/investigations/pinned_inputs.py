"""The pinned inputs of a Determinism replay: from the config or a JSON Lines file, checked, hashed
and cut into requests the worker accepts.

The hash names the set: a reference recorded for one set is never compared with another, so
editing the inputs starts a new reference instead of reporting every output as changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.config.errors import problems_from_validation_error
from bot.config.models import MAX_PINNED_INPUTS, DeterminismConfig, PinnedInput
from bot.core.text import clean_text, truncate

# The worker takes at most 64 instances and 16 MB a request; a batch stays well inside both.
MAX_BATCH_INSTANCES = 64
MAX_BATCH_BYTES = 4 * 1024 * 1024
# A file of 200 inputs with a chart each, and room for its JSON.
MAX_FILE_BYTES = 16 * 1024 * 1024


class PinnedInputsError(Exception):
    """The pinned inputs cannot be replayed; the message says why, for a person."""


@dataclass(frozen=True)
class PinnedSet:
    instances: tuple[dict[str, str], ...]
    inputs_hash: str
    source: str  # "the config" or the file's path

    def __len__(self) -> int:
        return len(self.instances)

    def describe(self, index: int, limit: int = 80) -> str:
        """A short, one-line name for input ``index``: its text, or that it is a chart."""
        instance = self.instances[index]
        text = clean_text(instance.get("text", ""), limit=limit)
        chart = f"chart of {len(instance['image_b64']) * 3 // 4 // 1024 or 1} KB" if "image_b64" in instance else ""
        return " + ".join(part for part in (truncate(text, limit), chart) if part) or "(empty)"


def inputs_hash(instances: tuple[dict[str, str], ...]) -> str:
    canonical = json.dumps(instances, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def load_pinned(config: DeterminismConfig) -> PinnedSet:
    if config.inputs_file is None:
        instances = tuple(pinned.instance() for pinned in config.inputs)
        return PinnedSet(instances, inputs_hash(instances), "the config")
    content = await asyncio.to_thread(_read, config.inputs_file)
    instances = parse_lines(content, source=config.inputs_file)
    return PinnedSet(instances, inputs_hash(instances), config.inputs_file)


def parse_lines(content: bytes, *, source: str) -> tuple[dict[str, str], ...]:
    """JSON Lines: one string (a text) or {"text", "image_b64"} object a line; blank lines skipped."""
    try:
        lines = content.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise PinnedInputsError(f"{source} is not UTF-8 text") from None
    instances: list[dict[str, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(instances) == MAX_PINNED_INPUTS:
            raise PinnedInputsError(f"{source} holds more than {MAX_PINNED_INPUTS} inputs; pin fewer")
        value: object = None
        try:
            value = json.loads(line)
            instances.append(PinnedInput.model_validate(value).instance())
        except (ValueError, RecursionError) as exc:
            raise PinnedInputsError(f"{source} line {number}: {_reason(exc, value)}") from None
    if not instances:
        raise PinnedInputsError(f"{source} holds no inputs")
    return tuple(instances)


def batches(instances: tuple[dict[str, str], ...]) -> list[list[dict[str, str]]]:
    """The inputs in order, cut into requests of at most MAX_BATCH_INSTANCES and about MAX_BATCH_BYTES."""
    cut: list[list[dict[str, str]]] = []
    size = 0
    for instance in instances:
        weight = sum(len(value) for value in instance.values())
        if not cut or len(cut[-1]) == MAX_BATCH_INSTANCES or (cut[-1] and size + weight > MAX_BATCH_BYTES):
            cut.append([])
            size = 0
        cut[-1].append(instance)
        size += weight
    return cut


def _read(path: str) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            content = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise PinnedInputsError(f"{path} does not exist (determinism.inputs_file)") from None
    except IsADirectoryError:
        raise PinnedInputsError(f"{path} is a folder, not a file (determinism.inputs_file)") from None
    except OSError as exc:
        raise PinnedInputsError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(content) > MAX_FILE_BYTES:
        raise PinnedInputsError(f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return content


def _reason(exc: ValueError | RecursionError, value: object) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(problem) for problem in problems_from_validation_error(exc, value, PinnedInput)[:3])
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return "not valid JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
