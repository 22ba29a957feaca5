"""What the bot asks of the model worker, and how the worker can fail.

The core and the runbooks depend on these types; `bot.integrations.worker` implements them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class WorkerError(Exception):
    """Base class for worker client errors."""


class WorkerUnavailable(WorkerError):
    """The worker could not be reached, timed out, or is overloaded or still loading.

    ``status`` is the worker's HTTP status when it answered at all; ``delivered`` is False when
    the request certainly never reached it (no connection), so it cannot have acted on it.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None,
                 delivered: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.delivered = delivered


class WorkerRejected(WorkerError):
    """The worker refused the request; ``code`` is its error code (DOC_001, IMG_001, ...)."""

    def __init__(self, message: str, *, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class WorkerConflict(WorkerRejected):
    """409: the model was not serving the version the caller expected; nothing was done."""


@dataclass(frozen=True)
class WorkerPrediction:
    label: str
    confidence: float
    scores: dict[str, float]
    model_version: str
    # What a model adds beyond the label: fusion's mechanism and what each input said alone.
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    version: str | None
    ready: bool


class WorkerClient(Protocol):
    """The model worker over HTTP, as every part of the bot reaches it.

    Every failure is one of the errors above: ``WorkerUnavailable`` (down, overloaded, timing
    out) or ``WorkerRejected`` (it refused, saying why), so callers never see the transport.
    """

    async def models(self) -> list[ModelStatus]: ...

    async def model(self, name: str) -> dict[str, Any]: ...

    async def ready(self) -> bool: ...

    async def predict(self, name: str, instances: list[dict[str, Any]], *,
                      probe: bool = True) -> list[WorkerPrediction]: ...

    async def classify_text(self, text: str, *, model: str = "incident-text") -> WorkerPrediction: ...

    async def classify_chart(self, png: bytes, *, model: str = "chart-vit") -> WorkerPrediction: ...

    async def classify_fusion(self, text: str, png: bytes, *, model: str = "fusion") -> WorkerPrediction: ...

    async def embed(self, texts: list[str], *, model: str = "incident-text") -> tuple[str, list[list[float]]]: ...

    async def load_version(self, name: str, version: str, *, expect: str | None = None,
                           actor: str | None = None) -> str: ...

    async def rollback(self, name: str, steps: int = 1, *, expect: str | None = None,
                       actor: str | None = None) -> str: ...

    async def recent_predictions(self, name: str, limit: int = 500) -> list[dict[str, Any]]: ...

    async def evaluate(self, name: str, version: str, *, golden_from: str | None = None) -> dict[str, Any]: ...

    async def drift(self, name: str, limit: int = 500) -> dict[str, Any]: ...
