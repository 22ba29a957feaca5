"""What the bot asks of the model worker's registry: what each model serves, rollbacks, loads.

The core and the runbooks depend on these types; `bot.integrations.models` implements them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class GoldenScore:
    """How a version did on a golden set (its own, or ``golden_version``'s when it has none)."""

    version: str
    golden_version: str
    accuracy: float
    macro_f1: float | None
    examples: int


@dataclass(frozen=True)
class ModelVersionInfo:
    version: str
    created_at: datetime | None
    deployed_at: datetime | None  # the last time the deploy log put this version in service
    accuracy: float | None  # from training, on its held-out data
    macro_f1: float | None
    serving: bool
    notes: str
    # The worker's stored score on the golden set a gate uses (its own, else the serving version's);
    # None until the version has been scored.
    golden: GoldenScore | None = None

    def listing_line(self) -> str:
        """The seeds' version listing: ``v3 · accuracy 94.1% · deployed 2026-11-20 14:02 UTC (serving)``."""
        accuracy = f"accuracy {self.accuracy:.1%}" if self.accuracy is not None else "accuracy unknown"
        deployed = (f"deployed {self.deployed_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
                    if self.deployed_at is not None else "never deployed")
        line = f"{self.version} · {accuracy} · {deployed}"
        return f"{line} (serving)" if self.serving else line


@dataclass(frozen=True)
class ModelState:
    name: str
    serving: str | None
    ready: bool
    versions: tuple[ModelVersionInfo, ...]  # newest first
    serving_history: tuple[str, ...]  # oldest first, last is serving

    def rollback_target(self, steps: int = 1) -> str | None:
        """The version a rollback of ``steps`` deploys would serve; None if there is none."""
        if steps < 1 or steps >= len(self.serving_history):
            return None
        return self.serving_history[-1 - steps]

    def version(self, version: str) -> ModelVersionInfo | None:
        return next((info for info in self.versions if info.version == version), None)


class ModelControl(Protocol):
    """What runbook actions ask of the model worker."""

    async def state(self, name: str) -> ModelState: ...

    async def rollback(self, name: str, *, steps: int, expect: str, actor: str) -> str:
        """Go back ``steps`` deploys if ``expect`` is still serving; returns the version now served."""

    async def load(self, name: str, *, version: str, expect: str, actor: str) -> str:
        """Serve (and promote) ``version`` if ``expect`` is still serving; returns the version now served."""

    async def answering_version(self, name: str) -> str | None:
        """The version the worker reports serving right now; None while it is not ready."""

    async def golden_score(self, name: str, *, version: str, golden_from: str | None = None) -> GoldenScore:
        """``version`` scored on its own golden set, or on ``golden_from``'s; reading only.

        The worker keeps every score it computes, so this is slow (seconds) only the first time;
        ``state`` then carries it."""
