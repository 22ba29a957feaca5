"""The running demo stack the `test_demo*` files drive, without the model worker.

Registered in tests/conftest.py, so a test asks for `demo` and gets `(stack, running)`; a module
that needs another demo (the browser tests, with the worker) defines its own `demo`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.stack import DemoOptions, DemoStack, RunningDemo
from tests.inference.moto_server import reset_moto


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[DemoStack, RunningDemo]]:
    stack = DemoStack(DemoOptions(state_dir=tmp_path / "demo", port=0, with_worker=False), out=io.StringIO())
    with stack as running:
        yield stack, running
        # moto keeps its state per process: leave none of this stack's behind for the next test.
        reset_moto(running.aws_url)
