"""Which actions may run at the same time, and which one wins when they may not.

Every action changes one target, which the planner names: an ECS service
(`ecs:cluster/service`: scale, stop, redeploy, deployment rollback), a model (`model:name`:
model rollback, load a version) or a parameter (`ssm:/path`: set a flag, config rollback).

- Different targets never conflict: a model rollback runs while a flag change verifies.
- On one target, one action runs at a time (the claim on `active_target`); a second change is
  refused as "running now" until the first has ended, so nobody acts on a state about to move.
- Except where `SUPERSEDES` says the newcomer wins: the running action's verification ends as
  `superseded`, and the newcomer takes the target.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.actions.kinds import ActionKind

SUPERSEDES: Mapping[ActionKind, frozenset[ActionKind]] = {
    # An emergency stop cannot wait the minutes ECS takes to settle a scale or a deployment. Not
    # another stop: the running one already does what it would.
    ActionKind.STOP: frozenset({ActionKind.SCALE, ActionKind.REDEPLOY, ActionKind.ROLLBACK_DEPLOY}),
}


def supersedes(newcomer: ActionKind, running: ActionKind) -> bool:
    """Whether ``newcomer`` may take over the target of ``running`` instead of waiting for it."""
    return running in SUPERSEDES.get(newcomer, frozenset())
