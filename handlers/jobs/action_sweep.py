"""The action sweep: expire approvals nobody gave in time, and free targets of runs cut off by a restart.

It runs at start-up, so runs a previous process left behind are settled at once, then every
``interval`` seconds. The sweep itself is the pipeline's (``ActionPipeline.sweep``).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.core.actions.pipeline import ActionPipeline

log = logging.getLogger(__name__)


async def sweep_actions(*, actions: ActionPipeline, interval: float) -> None:
    """Runs until cancelled; a database that is away skips a round, it does not end the loop."""
    while True:
        try:
            await actions.sweep()
        except SQLAlchemyError as exc:
            log.warning("could not sweep actions: %s", exc)
        await asyncio.sleep(interval)
