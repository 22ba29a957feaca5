"""Tasks a component starts after answering someone, kept until they end.

asyncio holds only weak references to tasks; these are held here so none is collected
mid-run, can be looked up by name (one run per incident or action), and are cancelled on
shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def running(self, name: str) -> bool:
        return any(task.get_name() == name for task in self._tasks)

    def cancel(self, name: str) -> None:
        for task in list(self._tasks):
            if task.get_name() == name:
                task.cancel()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
