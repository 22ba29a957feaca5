"""Carrying out a confirmed plan, then checking that the change really took.

Each kind reads the target first: if it already shows the requested state there is nothing to
do, and if it no longer shows the state the plan was made from, someone else changed it and the
action stops rather than act on a picture that is out of date. Then it changes the target and
polls until the change shows (the ECS service settles at the new count, the worker answers with
the new version, the parameter reads back) or the verification time runs out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.config import IncidentBotConfig
from bot.core.actions.failover_run import RunTiming, failover_runner
from bot.core.actions.kinds import ActionKind, ActionState
from bot.core.actions.planned import Progress, StaleTarget
from bot.core.actions.providers import ActionProviders
from bot.core.actions.publish_notice import publish
from bot.core.actions.security_actions import deactivate_key, rotate_secret
from bot.core.ports.errors import ProviderError

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    state: ActionState
    message: str
    observed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredPlan:
    """What the executor needs from the action row: the plan as it was confirmed."""

    kind: ActionKind
    service: str
    before: dict[str, Any]
    after: dict[str, Any]
    actor: str


class Executor:
    def __init__(self, *, config: IncidentBotConfig, providers: ActionProviders,
                 sleep: Sleep = asyncio.sleep) -> None:
        self._config = config
        self._providers = providers
        self._sleep = sleep

    @property
    def _timeout(self) -> timedelta:
        return self._config.scaled(self._config.actions.verify_timeout)

    @property
    def _interval(self) -> float:
        return self._config.scaled(self._config.actions.verify_every).total_seconds()

    async def run(self, plan: StoredPlan, progress: Progress) -> Outcome:
        runners = {
            ActionKind.SCALE: self._scale,
            ActionKind.STOP: self._scale,
            ActionKind.REDEPLOY: self._redeploy,
            ActionKind.ROLLBACK_DEPLOY: self._rollback_deploy,
            ActionKind.ROLLBACK_MODEL: self._model,
            ActionKind.LOAD_MODEL: self._model,
            ActionKind.ROLLBACK_CONFIG: self._parameter,
            ActionKind.SET_FLAG: self._parameter,
            ActionKind.FAILOVER: self._providers_routing,
            ActionKind.RESTORE_PROVIDER: self._providers_routing,
            ActionKind.ROTATE_SECRET: self._security,
            ActionKind.DEACTIVATE_KEY: self._security,
            ActionKind.PUBLISH_NOTICE: self._publish_notice,
        }
        try:
            return await runners[plan.kind](plan, progress)
        except StaleTarget as stale:
            return Outcome(ActionState.STALE, "The state changed since this was requested "
                           f"({_describe(stale.observed)} instead of {_describe(plan.before)}), so nothing was "
                           "done. Look at the current state and ask again if it is still needed.", stale.observed)
        except ProviderError as exc:
            return Outcome(ActionState.FAILED, exc.message)

    async def _poll(self, read: Callable[[], Awaitable[tuple[bool, dict[str, Any], str]]],
                    progress: Progress) -> tuple[bool, dict[str, Any]]:
        """Read until ``read`` says done or the verification time is up; report each new reading."""
        deadline = time.monotonic() + self._timeout.total_seconds()
        last_note = ""
        while True:
            done, observed, note = await read()
            if done:
                return True, observed
            if note != last_note:
                await progress(f"Verifying: {note}")
                last_note = note
            if time.monotonic() >= deadline:
                return False, observed
            await self._sleep(self._interval)

    # --- ECS ---------------------------------------------------------------------------------

    def _ecs_names(self, plan: StoredPlan) -> dict[str, str]:
        ecs = self._config.services[plan.service].ecs
        assert ecs is not None
        return {"cluster": ecs.cluster, "service": ecs.service}

    async def _scale(self, plan: StoredPlan, progress: Progress) -> Outcome:
        assert self._providers.ecs is not None
        ecs, names = self._providers.ecs, self._ecs_names(plan)
        wanted = int(plan.after["desired"])
        state = await ecs.describe(**names)
        if state.desired != wanted:
            # An emergency stop wants no tasks whatever the count is now; it may have just
            # superseded the scale that moved the count since it was asked for.
            if state.desired != plan.before["desired"] and plan.kind != ActionKind.STOP:
                raise StaleTarget({"desired": state.desired})
            await progress(f"Setting the desired count of {names['service']} to {wanted}…")
            await ecs.set_desired_count(**names, count=wanted)
        already = state.desired == wanted

        async def read() -> tuple[bool, dict[str, Any], str]:
            now = await ecs.describe(**names)
            if plan.kind == ActionKind.STOP and now.desired != wanted:
                # A change this stop superseded may have had its ECS call in flight, landing
                # after ours: an emergency stop holds the count at zero until it is verified.
                await progress(f"Desired count moved to {now.desired} after the stop; setting {wanted} again…")
                await ecs.set_desired_count(**names, count=wanted)
                now = await ecs.describe(**names)
            observed = {"desired": now.desired, "running": now.running}
            return (now.desired == wanted and now.settled, observed,
                    f"desired {now.desired}, running {now.running}, pending {now.pending}")

        verified, observed = await self._poll(read, progress)
        if already and verified:
            return Outcome(ActionState.NO_CHANGE, f"{names['service']} was already at desired {wanted}.", observed)
        if verified:
            return Outcome(ActionState.SUCCEEDED,
                           f"Verified: desired {observed['desired']}, running {observed['running']}.", observed)
        return Outcome(ActionState.UNVERIFIED, f"Set desired {wanted}, but after {_span(self._timeout)} ECS shows "
                       f"desired {observed['desired']}, running {observed['running']}. Check the service.", observed)

    async def _redeploy(self, plan: StoredPlan, progress: Progress) -> Outcome:
        assert self._providers.ecs is not None
        ecs, names = self._providers.ecs, self._ecs_names(plan)
        state = await ecs.describe(**names)
        if state.task_definition != plan.before["task_definition"]:
            raise StaleTarget({"revision": state.revision_label})
        await progress(f"Starting a new deployment of {state.revision_label}…")
        await ecs.force_new_deployment(**names)
        return await self._wait_for_revision(ecs, names, plan.after["task_definition"], progress,
                                             replacing=plan.before.get("deployment"))

    async def _rollback_deploy(self, plan: StoredPlan, progress: Progress) -> Outcome:
        assert self._providers.ecs is not None
        ecs, names = self._providers.ecs, self._ecs_names(plan)
        target = plan.after["task_definition"]
        state = await ecs.describe(**names)
        if state.task_definition == target:
            return Outcome(ActionState.NO_CHANGE, f"{names['service']} already runs {plan.after['revision']}.",
                           {"revision": state.revision_label})
        if state.task_definition != plan.before["task_definition"]:
            raise StaleTarget({"revision": state.revision_label})
        await progress(f"Rolling {names['service']} back to {plan.after['revision']}…")
        await ecs.set_task_definition(**names, task_definition=target)
        return await self._wait_for_revision(ecs, names, target, progress)

    async def _wait_for_revision(self, ecs: Any, names: dict[str, str], target: str, progress: Progress,
                                 replacing: str | None = None) -> Outcome:
        """Until the service runs ``target`` and is at rest; with ``replacing``, also on a new deployment."""
        async def read() -> tuple[bool, dict[str, Any], str]:
            now = await ecs.describe(**names)
            observed = {"revision": now.revision_label, "desired": now.desired, "running": now.running}
            fresh = replacing is None or (now.primary is not None and now.primary.id != replacing)
            return (now.task_definition == target and now.settled and fresh, observed,
                    f"{now.revision_label}, running {now.running} of {now.desired}")

        verified, observed = await self._poll(read, progress)
        if verified:
            return Outcome(ActionState.SUCCEEDED, f"Verified: {observed['revision']} is deployed and stable, "
                           f"running {observed['running']} of {observed['desired']}.", observed)
        return Outcome(ActionState.UNVERIFIED, f"The deployment did not settle within {_span(self._timeout)}: "
                       f"{_describe(observed)}. Check the service's events.", observed)

    # --- models ------------------------------------------------------------------------------

    async def _model(self, plan: StoredPlan, progress: Progress) -> Outcome:
        models = self._providers.models
        assert models is not None
        name = str(plan.after.get("model") or "")
        target, before = str(plan.after["version"]), str(plan.before["version"])
        serving = await models.answering_version(name)
        if serving == target:
            return Outcome(ActionState.NO_CHANGE, f"The worker already serves {name} {target}.", {"version": target})
        if serving != before:
            raise StaleTarget({"version": serving})
        await progress(f"Asking the worker to serve {name} {target} instead of {before}…")
        if plan.kind == ActionKind.ROLLBACK_MODEL:
            await models.rollback(name, steps=int(plan.after.get("steps", 1)), expect=before, actor=plan.actor)
        else:
            await models.load(name, version=target, expect=before, actor=plan.actor)

        async def read() -> tuple[bool, dict[str, Any], str]:
            now = await models.answering_version(name)
            return now == target, {"version": now}, f"the worker answers with {now}"

        verified, observed = await self._poll(read, progress)
        if verified:
            return Outcome(ActionState.SUCCEEDED, f"Verified: the worker answers with {name} {target}.", observed)
        return Outcome(ActionState.UNVERIFIED, f"The worker still answers with {observed.get('version')} after "
                       f"{_span(self._timeout)}.", observed)

    # --- Parameter Store ---------------------------------------------------------------------

    async def _parameter(self, plan: StoredPlan, progress: Progress) -> Outcome:
        store = self._providers.parameters
        assert store is not None
        path = str(plan.after.get("path") or "")
        wanted = str(plan.after["value"])
        current = await store.get(path)
        if current.value == wanted:
            return Outcome(ActionState.NO_CHANGE, f"{path} already reads `{wanted}`.", {"value": wanted})
        if current.version != plan.before["version"]:
            raise StaleTarget({"value": current.value, "version": current.version})
        await progress(f"Writing {path}…")
        version = await store.put(path, wanted)

        async def read() -> tuple[bool, dict[str, Any], str]:
            now = await store.get(path)
            observed = {"value": now.value, "version": now.version}
            return now.value == wanted and now.version >= version, observed, f"reads `{now.value}`"

        verified, observed = await self._poll(read, progress)
        if verified:
            return Outcome(ActionState.SUCCEEDED, f"Verified: {path} reads `{wanted}` (version {observed['version']}).",
                           observed)
        return Outcome(ActionState.UNVERIFIED, f"{path} still reads `{observed.get('value')}`.", observed)

    # --- AI providers (seed 003) -------------------------------------------------------------

    async def _providers_routing(self, plan: StoredPlan, progress: Progress) -> Outcome:
        runner = failover_runner(self._providers, sleep=self._sleep)
        timing = RunTiming(timeout=self._timeout, interval=self._interval, hold=self._config.scaled)
        run = runner.restore if plan.kind == ActionKind.RESTORE_PROVIDER else runner.failover
        result = await run(plan.service, self._config.services[plan.service], before=plan.before, after=plan.after,
                           timing=timing, progress=progress)
        return Outcome(result.state, result.message, result.observed)

    # --- security incidents (seeds 002, 003) --------------------------------------------------

    async def _security(self, plan: StoredPlan, progress: Progress) -> Outcome:
        run = rotate_secret if plan.kind == ActionKind.ROTATE_SECRET else deactivate_key

        async def poll(read: Callable[[], Awaitable[tuple[bool, dict[str, Any], str]]]) -> tuple[bool, dict[str, Any]]:
            return await self._poll(read, progress)

        try:
            state, message, observed = await run(before=plan.before, after=plan.after, providers=self._providers,
                                                 progress=progress, poll=poll)
        except StaleTarget as stale:
            raise StaleTarget(stale.observed) from stale
        return Outcome(state, message, observed)

    # --- notices for approval audiences (seeds 002, 003) --------------------------------------

    async def _publish_notice(self, plan: StoredPlan, progress: Progress) -> Outcome:
        state, message, observed = await publish(after=plan.after, providers=self._providers, progress=progress)
        return Outcome(state, message, observed)


def _describe(state: dict[str, Any]) -> str:
    hidden = {"task_definition", "deployment", "path", "model"}
    return ", ".join(f"{key} {value}" for key, value in state.items() if key not in hidden)


def _span(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
