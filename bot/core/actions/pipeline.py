"""The one path every action takes, from request to verified and audited result.

    propose  -> RBAC, plan within bounds (before and after), saved as PROPOSED
    confirm  -> by the requester only; dry run ends here; destructive ones wait for approval
    approve  -> by someone else with the approver role, before the approval expires
    run      -> claim the target, change it, verify, record the outcome; an action already running
                on the target refuses the claim, unless `conflicts` lets the newcomer supersede it

Handlers ack Slack at once and call these; `confirm` and `approve` return as soon as the
action is running, and the run goes on in a background task that edits the action's message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.core import checklists, incidents
from bot.core.actions import store
from bot.core.actions.apply import Executor, StoredPlan
from bot.core.actions.conflicts import supersedes
from bot.core.actions.errors import ActionConflict, ActionDenied
from bot.core.actions.gate_override import REASON_MAX, clean_reason, gate_to_override
from bot.core.actions.kinds import ActionKind, ActionState, Permission
from bot.core.actions.plans import Planner
from bot.core.actions.rbac import Authorizer
from bot.core.actions.requests import ActionRequest
from bot.core.audit import Outcome, record_entry
from bot.core.background import BackgroundTasks
from bot.core.checklists import StepRef
from bot.core.errors import CoreError
from bot.core.lifecycle import Status
from bot.core.ports.runbooks import RunbookSteps
from bot.core.unit_of_work import Core
from observability import correlation
from storage.models import ResponseAction

log = logging.getLogger(__name__)

# A run that has not finished this long after its verification time is up was cut off (the bot
# stopped or lost its database); the sweep marks it so its target is free again.
RUN_GRACE = timedelta(minutes=2)
# Kinds that still make sense once the incident has ended: the resolution's customer notice is
# news only after the resolve.
_AFTER_THE_INCIDENT = frozenset({ActionKind.PUBLISH_NOTICE})

_FINAL_AUDIT = {
    ActionState.SUCCEEDED: Outcome.OK,
    ActionState.NO_CHANGE: Outcome.OK,
    ActionState.STALE: Outcome.CONFLICT,
    ActionState.UNVERIFIED: Outcome.FAILED,
    ActionState.FAILED: Outcome.FAILED,
}


class ActionPipeline:
    def __init__(self, *, core: Core, config: IncidentBotConfig, planner: Planner, executor: Executor,
                 authorizer: Authorizer, runbooks: RunbookSteps | None = None) -> None:
        self._core = core
        self._runbooks = runbooks
        self._config = config
        self._planner = planner
        self._executor = executor
        self._authorizer = authorizer
        self._runs = BackgroundTasks()

    @property
    def authorizer(self) -> Authorizer:
        return self._authorizer

    # --- the steps ---------------------------------------------------------------------------

    async def check(self, *, actor: str, incident_id: int, permission: Permission) -> None:
        """Refuse early (before a modal opens) when the person may not do this at all; audited."""
        incident = await self._core.read(lambda s: incidents.get_incident(s, incident_id=incident_id))
        decision = await self._authorizer.may(actor, permission, commander=incident.commander)
        if not decision.allowed:
            await self._refused(actor=actor, incident_id=incident_id, action=permission.value,
                                what=permission.value, outcome=Outcome.DENIED, reason=decision.reason,
                                detail={"permission": permission.value, "via": "modal"})
            raise ActionDenied(f"🔒 {decision.reason}")

    async def propose(self, *, actor: str, incident_id: int, request: ActionRequest,
                      runbook_step: StepRef | None = None) -> ResponseAction:
        """Check who is asking and what, read the state now, and save the plan for confirmation.

        ``runbook_step``: the checklist step whose button this came from; it ticks when the
        action succeeds.
        """
        incident = await self._core.read(lambda s: incidents.get_incident(s, incident_id=incident_id))
        permission = request.kind.permission
        if not Status(incident.status).is_open and request.kind not in _AFTER_THE_INCIDENT:
            reason = f"Incident #{incident.number} is {incident.status}; actions are for open incidents."
            await self._refused_request(actor=actor, incident_id=incident_id, request=request,
                                        outcome=Outcome.INVALID, reason=reason)
            raise ActionDenied(reason)
        decision = await self._authorizer.may(actor, permission, commander=incident.commander)
        if not decision.allowed:
            await self._refused_request(actor=actor, incident_id=incident_id, request=request,
                                        outcome=Outcome.DENIED, reason=decision.reason)
            raise ActionDenied(f"🔒 {decision.reason}")
        try:
            plan = await self._planner.plan(request, incident_service=incident.service)
        except CoreError as exc:
            await self._refused_request(actor=actor, incident_id=incident_id, request=request,
                                        outcome=Outcome.INVALID, reason=str(exc))
            raise
        now = self._core.clock()
        async with self._core.sessions() as session, session.begin():
            action = ResponseAction(
                incident_id=incident_id, kind=plan.kind.value, service=plan.service, target=plan.target,
                summary=plan.summary, before=plan.before, after=plan.after, state=ActionState.PROPOSED.value,
                requested_by=actor, requested_at=now,
                needs_approval=self._authorizer.needs_approval(permission) or plan.needs_override,
                dry_run=self._config.actions.dry_run, progress="",
                result={"notes": list(plan.notes), **({"gate": plan.gate.as_dict()} if plan.gate else {})},
                channel_id=incident.channel_id, version=1,
            )
            session.add(action)
            await session.flush()
            store.audit(session, action=action, actor=actor, outcome=Outcome.REQUESTED, now=now)
            await store.record(session, action=action, actor=actor, now=now,
                               text=f"requested {plan.summary}")
            if runbook_step is not None:
                await checklists.link_action(session, incident_id=incident_id, step=runbook_step, action_id=action.id,
                                             actor=actor, now=now)
        return action

    async def confirm(self, *, actor: str, action_id: int) -> ResponseAction:
        """The requester's go-ahead. Idempotent: a second confirm returns the action as it is."""
        action = await self._load(action_id)
        if actor != action.requested_by:
            await self._audit_only(action, actor=actor, outcome=Outcome.DENIED,
                                   note="only the requester can confirm a request")
            raise ActionDenied(f"Only <@{action.requested_by}> can confirm their request; ask for your own.")
        if action.state != ActionState.PROPOSED.value:
            return action
        incident = await self._core.read(lambda s: incidents.get_incident(s, incident_id=action.incident_id))
        decision = await self._authorizer.may(actor, ActionKind(action.kind).permission, commander=incident.commander)
        if not decision.allowed:
            await self._step(action, actor=actor, to=ActionState.CANCELLED, expect=(ActionState.PROPOSED,),
                             outcome=Outcome.DENIED, text=f"was refused {action.summary}", note=decision.reason)
            raise ActionDenied(f"🔒 {decision.reason}")
        if action.dry_run:
            return await self._step(action, actor=actor, to=ActionState.DRY_RUN, expect=(ActionState.PROPOSED,),
                                    outcome=Outcome.DRY_RUN, text=f"dry run: would {action.summary}",
                                    values={"finished_at": self._core.clock()}, announce=True)
        if action.needs_approval:
            expires = self._core.clock() + self._config.scaled(self._config.rbac.approval_ttl)
            return await self._step(action, actor=actor, to=ActionState.AWAITING_APPROVAL,
                                    expect=(ActionState.PROPOSED,), outcome=Outcome.REQUESTED,
                                    text=f"asked for approval of {action.summary}", values={"expires_at": expires},
                                    note="waiting for a second person's approval")
        return await self._start(action, actor=actor, expect=ActionState.PROPOSED)

    async def cancel(self, *, actor: str, action_id: int) -> ResponseAction:
        action = await self._load(action_id)
        if actor != action.requested_by:
            await self._audit_only(action, actor=actor, outcome=Outcome.DENIED,
                                   note="only the requester can cancel a request")
            raise ActionDenied(f"Only <@{action.requested_by}> can cancel their request.")
        return await self._step(action, actor=actor, to=ActionState.CANCELLED,
                                expect=(ActionState.PROPOSED, ActionState.AWAITING_APPROVAL),
                                outcome=Outcome.CANCELLED, text=f"withdrew {action.summary}",
                                values={"finished_at": self._core.clock()})

    async def approve(self, *, actor: str, action_id: int, reason: str = "") -> ResponseAction:
        """A second person's go-ahead. For a model version under the accuracy gate it is an
        override: ``reason`` is required, and the audit row records who overrode, the accuracy and
        the bar, and the reason."""
        action = await self._load(action_id)
        if action.state != ActionState.AWAITING_APPROVAL.value:
            return action
        if await self._expire_if_due(action):
            raise ActionConflict("This approval request expired; nothing was done. Ask again if it is still needed.")
        if actor == action.requested_by:
            await self._audit_only(action, actor=actor, outcome=Outcome.DENIED,
                                   note="the requester tried to approve their own request")
            raise ActionDenied("You can't approve your own request: a second person with the approver role must.")
        decision = await self._authorizer.may_approve(actor)
        if not decision.allowed:
            await self._audit_only(action, actor=actor, outcome=Outcome.DENIED, note=decision.reason)
            raise ActionDenied(f"🔒 {decision.reason}")
        if gate_to_override(action) is not None:
            # Overriding the gate is a decision the audit must explain: no reason, no override.
            reason = clean_reason(reason)
        override = _gate_override(action, actor=actor, reason=reason)
        return await self._start(action, actor=actor, expect=ActionState.AWAITING_APPROVAL, approved=True,
                                 override=override)

    async def deny(self, *, actor: str, action_id: int) -> ResponseAction:
        """An approver's no; the requester withdrawing their own request is a cancel."""
        action = await self._load(action_id)
        if actor == action.requested_by:
            return await self.cancel(actor=actor, action_id=action_id)
        if action.state != ActionState.AWAITING_APPROVAL.value:
            return action
        decision = await self._authorizer.may_approve(actor)
        if not decision.allowed:
            await self._audit_only(action, actor=actor, outcome=Outcome.DENIED, note=decision.reason)
            raise ActionDenied(f"🔒 {decision.reason}")
        return await self._step(action, actor=actor, to=ActionState.DENIED, expect=(ActionState.AWAITING_APPROVAL,),
                                outcome=Outcome.DENIED, text=f"denied {action.summary}",
                                values={"decided_by": actor, "decided_at": self._core.clock(),
                                        "finished_at": self._core.clock()}, announce=True)

    # --- housekeeping ------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Expire approvals nobody gave in time, and free targets of runs that were cut off."""
        now = self._core.clock()
        async with self._core.sessions() as session:
            due = await store.due_for_expiry(session, now=now)
            running = await store.left_running(session)
        count = 0
        for action in due:
            count += await self._expire_if_due(action)
        cutoff = self._config.scaled(self._config.actions.verify_timeout) + RUN_GRACE
        for action in running:
            if (action.started_at is not None and now - action.started_at > cutoff
                    and not self._runs.running(_run_name(action.id))):
                await self._finish(action, to=ActionState.INTERRUPTED, message=(
                    "The run was cut off before it finished (the bot stopped). Check the target's state "
                    "before trying again."), observed={})
                count += 1
        return count

    async def aclose(self) -> None:
        await self._runs.aclose()

    # --- running -----------------------------------------------------------------------------

    async def _start(self, action: ResponseAction, *, actor: str, expect: ActionState,
                     approved: bool = False, override: dict[str, Any] | None = None) -> ResponseAction:
        now = self._core.clock()
        values: dict[str, Any] = {"started_at": now, "progress": "Starting…"}
        if approved:
            values.update(decided_by=actor, decided_at=now)
        if override is not None:
            values["result"] = {**(action.result or {}), "override": override}
        superseded: ResponseAction | None = None
        async with self._core.sessions() as session, session.begin():
            fresh = await store.get_action(session, action_id=action.id)
            moved, holder = await self._claim(session, fresh, expect=expect, values=values, now=now)
            if holder is not None and supersedes(ActionKind(fresh.kind), ActionKind(holder.kind)):
                if await self._supersede(session, holder, by=fresh, actor=actor, now=now):
                    superseded = holder
                moved, holder = await self._claim(session, fresh, expect=expect, values=values, now=now)
            if holder is not None:
                await self._conflict(session, fresh, actor=actor, holder=holder, now=now)
            if moved:
                note = "approved; running" if approved else "confirmed; running"
                if override is not None:
                    note = f"{override['note']}; running"
                if superseded is not None:
                    note += f"; superseded #{superseded.id}"
                store.audit(session, action=fresh, actor=actor, outcome=Outcome.APPROVED if approved else Outcome.OK,
                            now=now, note=note)
                await store.record(session, action=fresh, actor=actor, now=now,
                                   text=f"{'approved' if approved else 'started'} {fresh.summary}")
                await store.refresh_message(session, action=fresh, now=now)
        self._core.outbox_ready()
        if superseded is not None:
            # Its row is final already; this only ends the polling here. Elsewhere (another
            # replica) the run ends at its next report, which finds the row no longer running.
            self._runs.cancel(_run_name(superseded.id))
        if holder is not None:
            raise ActionConflict(
                f"{holder.summary} is running now (#{holder.id}, asked by <@{holder.requested_by}>). "
                "Its result will be posted in the channel; nothing else was started."
            )
        if moved:
            self._runs.spawn(self._run(fresh.id), name=_run_name(fresh.id))
        return await self._load(action.id)

    async def _claim(self, session: AsyncSession, action: ResponseAction, *, expect: ActionState,
                     values: dict[str, Any], now: datetime) -> tuple[bool, ResponseAction | None]:
        """Start ``action`` and take its target: (moved, None), or (False, the action holding it)."""
        try:
            moved = await store.move(session, action=action, to=ActionState.RUNNING, expect=(expect,), now=now,
                                     values=values, claim=True)
        except IntegrityError:
            return False, await store.running_on(session, target=action.target)
        return moved, None

    async def _supersede(self, session: AsyncSession, running: ResponseAction, *, by: ResponseAction, actor: str,
                         now: datetime) -> bool:
        """End ``running`` as superseded by ``by`` and free its target; False if it ended first."""
        taken_by = f"{ActionKind(by.kind).label} #{by.id}"
        message = f"{taken_by} took over before this was verified; its result follows in its own message."
        result = {**running.result, "message": message, "superseded_by": by.id}
        moved = await store.move(session, action=running, to=ActionState.SUPERSEDED, expect=(ActionState.RUNNING,),
                                 release=True, now=now, values={"finished_at": now, "result": result, "progress": ""})
        if moved:
            store.audit(session, action=running, actor=actor, outcome=Outcome.SUPERSEDED, now=now,
                        note=f"superseded by {taken_by.lower()}")
            await store.record(session, action=running, actor=actor, now=now, announce=True,
                               text=f"{running.summary}: superseded by {taken_by.lower()} before it was "
                                    "verified; no result will follow for it")
            await store.refresh_message(session, action=running, now=now)
        return moved

    async def _conflict(self, session: AsyncSession, action: ResponseAction, *, actor: str,
                        holder: ResponseAction | None, now: datetime) -> None:
        record_entry(
            session, actor=actor, action=f"action.{action.kind}", outcome=Outcome.CONFLICT, now=now,
            incident_id=action.incident_id,
            detail={"action_id": action.id, "summary": action.summary, "running": holder.id if holder else None},
        )

    async def _run(self, action_id: int) -> None:
        # A run is work of its own (it outlives the click that started it): its reads, changes
        # and posts log under the action's id.
        correlation.bind(f"action:{action_id}")
        action = await self._load(action_id)
        plan = StoredPlan(kind=ActionKind(action.kind), service=action.service, before=action.before,
                          after=action.after, actor=action.decided_by or action.requested_by)
        try:
            outcome = await self._executor.run(plan, self._progress(action_id))
            await self._finish(action, to=outcome.state, message=outcome.message, observed=outcome.observed)
        except asyncio.CancelledError:
            raise
        except _NoLongerRunning:
            log.info("action %s was superseded; its run stops", action_id)
        except Exception as exc:  # a run must always end with a recorded outcome
            log.exception("action %s failed unexpectedly", action_id)
            await self._finish(action, to=ActionState.FAILED, observed={},
                               message=f"Failed unexpectedly ({exc.__class__.__name__}); check the target's state.")

    def _progress(self, action_id: int) -> Callable[[str], Awaitable[None]]:
        """Record each step; the executor reports before every change it makes, so a run whose
        action was superseded ends here instead of changing the target again."""
        async def report(text: str) -> None:
            now = self._core.clock()
            async with self._core.sessions() as session, session.begin():
                action = await store.get_action(session, action_id=action_id)
                if action.state != ActionState.RUNNING.value:
                    raise _NoLongerRunning(action_id)
                action.progress = text[:2000]
                await store.refresh_message(session, action=action, now=now)
            self._core.outbox_ready()

        return report

    async def _finish(self, action: ResponseAction, *, to: ActionState, message: str,
                      observed: dict[str, Any]) -> None:
        now = self._core.clock()
        async with self._core.sessions() as session, session.begin():
            fresh = await store.get_action(session, action_id=action.id)
            result = {**fresh.result, "message": message, "observed": observed}
            moved = await store.move(session, action=fresh, to=to, expect=(ActionState.RUNNING,), release=True,
                                     now=now, values={"finished_at": now, "result": result, "progress": ""})
            if moved:
                store.audit(session, action=fresh, actor="system", outcome=_FINAL_AUDIT.get(to, Outcome.FAILED),
                            now=now)
                await store.record(session, action=fresh, actor=fresh.decided_by or fresh.requested_by, now=now,
                                   text=f"{fresh.summary}: {message}", announce=True)
                await store.refresh_message(session, action=fresh, now=now)
                if to in (ActionState.SUCCEEDED, ActionState.NO_CHANGE):
                    await self._tick_runbook_steps(session, fresh, now=now)
        self._core.outbox_ready()

    async def _tick_runbook_steps(self, session: AsyncSession, action: ResponseAction, *, now: datetime) -> None:
        """The incident's runbook steps this action did are done, whichever button started it."""
        choice = await checklists.current(session, incident_id=action.incident_id)
        if self._runbooks is None or choice is None or not choice.runbook:
            return
        for step in self._runbooks.done_by_action(choice.runbook, kind=action.kind, before=action.before,
                                                  after=action.after):
            await checklists.set_done(session, incident_id=action.incident_id, runbook=choice.runbook, step_id=step.id,
                                      title=step.title, done=True, actor=action.requested_by, now=now,
                                      via=f"action #{action.id}")

    # --- helpers -----------------------------------------------------------------------------

    async def _load(self, action_id: int) -> ResponseAction:
        return await self._core.read(lambda s: store.get_action(s, action_id=action_id))

    async def _step(self, action: ResponseAction, *, actor: str, to: ActionState, expect: tuple[ActionState, ...],
                    outcome: Outcome, text: str, values: dict[str, Any] | None = None, note: str = "",
                    announce: bool = False) -> ResponseAction:
        now = self._core.clock()
        async with self._core.sessions() as session, session.begin():
            fresh = await store.get_action(session, action_id=action.id)
            if await store.move(session, action=fresh, to=to, expect=expect, values=values, now=now):
                store.audit(session, action=fresh, actor=actor, outcome=outcome, now=now, note=note)
                await store.record(session, action=fresh, actor=actor, now=now, text=text, announce=announce)
                await store.refresh_message(session, action=fresh, now=now)
        self._core.outbox_ready()
        return fresh

    async def _expire_if_due(self, action: ResponseAction) -> bool:
        now = self._core.clock()
        if action.expires_at is None or action.expires_at > now:
            return False
        fresh = await self._step(action, actor="system", to=ActionState.EXPIRED,
                                 expect=(ActionState.AWAITING_APPROVAL,), outcome=Outcome.EXPIRED,
                                 text=f"approval expired for {action.summary}", values={"finished_at": now},
                                 announce=True)
        return fresh.state == ActionState.EXPIRED.value

    async def _audit_only(self, action: ResponseAction, *, actor: str, outcome: Outcome, note: str) -> None:
        now = self._core.clock()
        async with self._core.sessions() as session, session.begin():
            store.audit(session, action=action, actor=actor, outcome=outcome, now=now, note=note)
            await store.record(session, action=action, actor=actor, now=now, text=f"was refused: {note}")

    async def _refused_request(self, *, actor: str, incident_id: int, request: ActionRequest, outcome: Outcome,
                               reason: str) -> None:
        await self._refused(actor=actor, incident_id=incident_id, action=request.kind.value,
                            what=request.kind.label.lower(), outcome=outcome, reason=reason,
                            detail={"request": _request_detail(request)})

    async def _refused(self, *, actor: str, incident_id: int, action: str, what: str, outcome: Outcome,
                       reason: str, detail: dict[str, Any]) -> None:
        """A refusal before any action row exists: an audit row, and for a denial a timeline entry."""
        now = self._core.clock()
        detail = {**detail, "reason": reason}
        async with self._core.sessions() as session, session.begin():
            record_entry(session, actor=actor, action=f"action.{action}", outcome=outcome, now=now,
                         incident_id=incident_id, detail=detail)
            if outcome == Outcome.DENIED:
                await store.record_refusal(session, incident_id=incident_id, actor=actor, now=now,
                                           text=f"was refused {what}: {reason}", data=detail)


def _gate_override(action: ResponseAction, *, actor: str, reason: str) -> dict[str, Any] | None:
    """What an approval of a version under the accuracy gate overrides, for the audit row."""
    gate = (action.result or {}).get("gate")
    if not isinstance(gate, dict) or gate.get("passed"):
        return None
    accuracy = gate.get("accuracy")
    scored = f"accuracy {accuracy:.1%}" if isinstance(accuracy, int | float) else "accuracy unchecked"
    why = reason.strip()[:REASON_MAX]
    note = (f"overrode the model accuracy gate ({gate.get('version')}: {scored}, bar {float(gate['bar']):.0%}); "
            + (f"reason: {why}" if why else "no reason given"))
    return {"by": actor, "reason": why, "accuracy": accuracy, "bar": gate.get("bar"), "version": gate.get("version"),
            "note": note}


class _NoLongerRunning(Exception):
    """The run's action ended without it (superseded); the run stops and records nothing."""


def _run_name(action_id: int) -> str:
    return f"action-{action_id}"


def _request_detail(request: ActionRequest) -> dict[str, Any]:
    return {key: value for key, value in vars(request).items() if value not in (None, "")} | {
        "kind": request.kind.value}
