from __future__ import annotations

from pathlib import Path

import pytest

from tests.inference.test_worker import start_worker


@pytest.fixture(scope="module")
def text_worker(trained_registry: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real worker serving the quick incident-text model, for its embeddings."""
    server = start_worker(trained_registry, tmp_path_factory.mktemp("postmortem-worker"))
    yield server
    server.stop()
