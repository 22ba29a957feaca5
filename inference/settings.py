"""The worker's settings, read once from the environment."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from inference.registry import DEFAULT_REGISTRY


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True,
                                      protected_namespaces=())

    model_registry: str = Field(
        default=DEFAULT_REGISTRY, validation_alias=_env("MODEL_REGISTRY"),
        description=(
            "Where the model versions are: a folder (a volume shared with `incident-bot models train`) or "
            "s3://bucket/prefix. Models only ever come from here, never from a model hub."
        ),
    )
    model_cache_dir: str = Field(
        default="./var/model-cache", validation_alias=_env("MODEL_CACHE_DIR"),
        description=(
            "A writable local folder the worker copies each model version into from the registry before loading "
            "it (checked against the version's manifest)."
        ),
    )
    # Threads that run batches; torch's own kernels use TORCH_THREADS each.
    worker_threads: int = Field(
        default=2, ge=1, le=64, validation_alias=_env("WORKER_THREADS"),
        description="Threads that run prediction batches, each with TORCH_THREADS threads of its own.",
    )
    torch_threads: int = Field(
        default=2, ge=1, le=64, validation_alias=_env("TORCH_THREADS"),
        description="Threads torch uses inside one batch.",
    )
    batch_max: int = Field(
        default=16, ge=1, le=256, validation_alias=_env("BATCH_MAX"),
        description="The most requests one model answers in one batch.",
    )
    batch_wait_ms: float = Field(
        default=4.0, ge=0, le=1000, validation_alias=_env("BATCH_WAIT_MS"),
        description="Milliseconds a batch waits for more requests before it runs.",
    )
    queue_max: int = Field(
        default=256, ge=1, le=100_000, validation_alias=_env("QUEUE_MAX"),
        description="Requests one model holds waiting; more are answered 503 with Retry-After.",
    )
