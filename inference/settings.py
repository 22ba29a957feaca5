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

    model_registry: str = Field(default=DEFAULT_REGISTRY, validation_alias=_env("MODEL_REGISTRY"))
    model_cache_dir: str = Field(default="./var/model-cache", validation_alias=_env("MODEL_CACHE_DIR"))
    # Threads that run batches; torch's own kernels use TORCH_THREADS each.
    worker_threads: int = Field(default=2, ge=1, le=64, validation_alias=_env("WORKER_THREADS"))
    torch_threads: int = Field(default=2, ge=1, le=64, validation_alias=_env("TORCH_THREADS"))
    batch_max: int = Field(default=16, ge=1, le=256, validation_alias=_env("BATCH_MAX"))
    batch_wait_ms: float = Field(default=4.0, ge=0, le=1000, validation_alias=_env("BATCH_WAIT_MS"))
    queue_max: int = Field(default=256, ge=1, le=100_000, validation_alias=_env("QUEUE_MAX"))
