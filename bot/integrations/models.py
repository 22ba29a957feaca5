"""The model worker as a provider: what each model serves, and guarded rollbacks and loads.

Every change names the version the caller saw serving (``expect``). The worker refuses with a
conflict when another version is serving by then, so two responders who both press "roll back"
go back one deploy, not two. The worker loads the target before it records anything, so a
refusal leaves the model as it was.

Errors of ``bot.integrations.worker`` are mapped here, at the boundary, to
``bot.core.ports.errors``: the worker down or overloaded is ``ProviderUnavailable``, someone
else's change first is ``ProviderConflict``, and any other refusal (unknown model or version, a
version that cannot load, nothing left to roll back to) is ``ProviderRejected``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bot.core.ports.errors import (
    ProviderConflict,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.core.ports.models import GoldenScore, ModelState, ModelVersionInfo
from bot.core.ports.worker import (
    WorkerClient,
    WorkerConflict,
    WorkerRejected,
    WorkerUnavailable,
)

PROVIDER = "worker"


VERIFY_PROBE_TEXT = "incident-bot verification probe: which model version answers?"


class WorkerModelControl:
    """``ModelControl`` over the worker's HTTP API."""

    def __init__(self, client: WorkerClient) -> None:
        self._client = client

    async def state(self, name: str) -> ModelState:
        with _worker_errors(f"read the state of {name}", changes=False):
            body = await self._client.model(name)
        return parse_model_state(name, body)

    async def rollback(self, name: str, *, steps: int, expect: str, actor: str) -> str:
        with _worker_errors(f"roll back {name}", changes=True):
            return await self._client.rollback(name, steps, expect=expect, actor=actor)

    async def load(self, name: str, *, version: str, expect: str, actor: str) -> str:
        with _worker_errors(f"load {name} {version}", changes=True):
            return await self._client.load_version(name, version, expect=expect, actor=actor)

    async def answering_version(self, name: str) -> str | None:
        with _worker_errors(f"read the served version of {name}", changes=False):
            body = await self._client.model(name)
        if not isinstance(body, Mapping):
            raise _unreadable(name)
        version = body.get("version")
        if not (body.get("ready") and isinstance(version, str)):
            return None
        if body.get("kind") == "text":
            # A text model can simply be asked: the version its answer carries is the one serving
            # requests, which is what a rollback is verified by.
            with _worker_errors(f"ask {name} for a prediction", changes=False):
                return (await self._client.classify_text(VERIFY_PROBE_TEXT, model=name)).model_version
        return version


    async def golden_score(self, name: str, *, version: str, golden_from: str | None = None) -> GoldenScore:
        with _worker_errors(f"evaluate {name} {version} on its golden set", changes=False):
            body = await self._client.evaluate(name, version, golden_from=golden_from)
        try:
            accuracy = _number(body.get("accuracy"))
            if accuracy is None:
                raise TypeError("no accuracy")
            return GoldenScore(version=str(body.get("version") or version),
                               golden_version=str(body.get("golden_version") or golden_from or version),
                               accuracy=accuracy, macro_f1=_number(body.get("macro_f1")),
                               examples=int(body.get("examples") or 0))
        except (AttributeError, TypeError, ValueError) as exc:
            raise _unreadable(name) from exc


def parse_model_state(name: str, body: Any) -> ModelState:
    """A ``ModelState`` from the worker's ``GET /v1/models/{name}`` answer."""
    try:
        serving = body.get("version")
        deployed_at: dict[str, datetime | None] = {}
        for record in body.get("deploys", []):
            deployed_at[str(record["version"])] = _time(record.get("deployed_at"))  # oldest first: last wins
        versions = [_version_info(manifest, serving, deployed_at) for manifest in body.get("versions", [])]
        history = tuple(str(version) for version in body.get("serving_history", []))
    except (AttributeError, KeyError, TypeError) as exc:
        raise _unreadable(name) from exc
    versions.sort(key=lambda info: _version_number(info.version), reverse=True)
    return ModelState(name=name, serving=serving if isinstance(serving, str) else None,
                      ready=bool(body.get("ready")), versions=tuple(versions), serving_history=history)


def _version_info(manifest: Mapping[str, Any], serving: object,
                  deployed_at: Mapping[str, datetime | None]) -> ModelVersionInfo:
    version = manifest["version"]
    if not isinstance(version, str):
        raise TypeError("a version must be a string")
    metrics = manifest.get("metrics") or {}
    notes = manifest.get("notes")
    return ModelVersionInfo(
        version=version, created_at=_time(manifest.get("created_at")), deployed_at=deployed_at.get(version),
        accuracy=_number(metrics.get("accuracy")), macro_f1=_number(metrics.get("macro_f1")),
        serving=version == serving, notes=notes if isinstance(notes, str) else "",
        golden=_stored_score(version, manifest.get("golden_score")),
    )


def _stored_score(version: str, body: object) -> GoldenScore | None:
    """The worker's stored golden-set score of a version; None when it has none or it is unreadable
    (the gate then asks the worker to score the version, which is slower but as good)."""
    if not isinstance(body, Mapping):
        return None
    accuracy, golden_version, examples = body.get("accuracy"), body.get("golden_version"), body.get("examples")
    score = _number(accuracy)
    if score is None or not 0 <= score <= 1 or not isinstance(golden_version, str) or not golden_version \
            or not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
        return None
    return GoldenScore(version=version, golden_version=golden_version, accuracy=score,
                       macro_f1=_number(body.get("macro_f1")), examples=examples)


@contextmanager
def _worker_errors(action: str, *, changes: bool) -> Iterator[None]:
    try:
        yield
    except WorkerConflict as exc:
        raise ProviderConflict(f"cannot {action}: {exc}", provider=PROVIDER, status=exc.status) from exc
    except WorkerRejected as exc:
        raise ProviderRejected(f"cannot {action}: {exc}", provider=PROVIDER, status=exc.status) from exc
    except WorkerUnavailable as exc:
        raise ProviderUnavailable(f"cannot {action}: {exc}{_what_happened(exc) if changes else ''}",
                                  provider=PROVIDER, status=exc.status, retry_after=exc.retry_after) from exc


def _what_happened(exc: WorkerUnavailable) -> str:
    # The worker answers 429 and 503 before it changes anything; any other failure after the
    # request left may have come after the change.
    if not exc.delivered or exc.status in (429, 503):
        return "; nothing was changed"
    return "; it may or may not have happened: check the served version before trying again"


def _unreadable(name: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"the model worker sent an answer about {name} that the bot cannot read",
                               provider=PROVIDER)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=UTC)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _version_number(version: str) -> int:
    digits = version[1:] if version.startswith("v") else ""
    return int(digits) if digits.isdigit() else 0
