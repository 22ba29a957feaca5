"""Building the worker from its settings."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from fastapi import FastAPI

from inference.batching import BatchPolicy
from inference.host import ModelHost
from inference.metrics import WorkerMetrics
from inference.models.loading import ModelLoader
from inference.registry import open_registry
from inference.server import create_worker_app
from inference.settings import WorkerSettings


def build_worker(settings: WorkerSettings) -> FastAPI:
    torch.set_num_threads(settings.torch_threads)
    metrics = WorkerMetrics()
    registry = open_registry(settings.model_registry)
    cache_dir = Path(settings.model_cache_dir)
    host = ModelHost(
        registry=registry,
        loader=ModelLoader(registry=registry, cache_dir=cache_dir).load,
        executor=ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="inference"),
        policy=BatchPolicy(max_batch=settings.batch_max, max_wait_ms=settings.batch_wait_ms,
                           max_queue=settings.queue_max),
        metrics=metrics,
        cache_dir=cache_dir,
    )
    return create_worker_app(host, metrics)
