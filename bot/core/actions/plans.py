"""Turning a request into a plan: the target, its state now, and the state asked for.

Planning reads the live state (ECS, Parameter Store, the worker) and checks the request
against the config: the service must be configured, the model or flag must be one of its own,
and a count must lie within its bounds. Every refusal names the valid choices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.config import IncidentBotConfig
from bot.config.models import EcsConfig, FlagsConfig, ServiceConfig
from bot.core.actions.errors import ActionInputError, ActionUnavailable
from bot.core.actions.failover_plan import failover_planner
from bot.core.actions.kinds import ActionKind
from bot.core.actions.providers import ActionProviders
from bot.core.actions.publish_notice import plan_publish_notice
from bot.core.actions.requests import ActionRequest
from bot.core.actions.security_actions import plan_deactivate_key, plan_rotate_secret
from bot.core.ports.errors import ProviderError, ProviderRejected
from bot.core.ports.models import GoldenScore, ModelState

MAX_ROLLBACK_STEPS = 10
# How long a plan waits for the worker to score a version it has no stored score for. A plan is
# built while Slack waits (1.5 s for the answer to a form, 3 s for a trigger_id), and a first
# scoring takes seconds; the worker goes on scoring after we stop waiting and keeps the score.
GATE_SCORE_WAIT_SECONDS = 1.0
NOT_SCORED_YET = ("it has not been scored on its golden set yet; the worker is scoring it now, "
                  "so asking again in a minute shows its score")


@dataclass(frozen=True)
class Plan:
    """A checked action, ready to confirm. ``before`` and ``after`` are what the audit records."""

    kind: ActionKind
    service: str
    target: str  # one change at a time per target: "ecs:cluster/service", "model:name", "ssm:/path"
    target_label: str
    before: dict[str, Any]
    after: dict[str, Any]
    change: str  # "desired 4 → 10"
    notes: tuple[str, ...] = field(default=())
    gate: ModelGate | None = None  # a model version put in service: how it did on its golden set

    @property
    def needs_override(self) -> bool:
        """The version missed the accuracy gate (or it could not be checked): an approver must override."""
        return self.gate is not None and not self.gate.passed

    @property
    def summary(self) -> str:
        return f"{self.kind.label} {self.target_label}: {self.change}"


@dataclass(frozen=True)
class ModelGate:
    """The seeds' golden-set gate on a version about to serve ("validate_artifact --min-accuracy 0.90")."""

    version: str
    bar: float
    accuracy: float | None  # None: it could not be checked (no golden set, the worker refused)
    golden_version: str | None = None
    examples: int = 0
    why_unchecked: str = ""

    @property
    def passed(self) -> bool:
        return self.accuracy is not None and self.accuracy >= self.bar

    @property
    def line(self) -> str:
        """What the proposal says: the accuracy and the bar, and what a miss means."""
        if self.accuracy is None:
            return (f"Accuracy gate: {self.version} could not be checked against the {self.bar:.0%} bar "
                    f"({self.why_unchecked}). An approver must override the gate.")
        on = "its golden set" if self.golden_version in (None, self.version) else f"{self.golden_version}'s golden set"
        scored = f"{self.version} scores {self.accuracy:.1%} on {on} ({self.examples} examples)"
        if self.passed:
            return f"Accuracy gate: {scored}, at or above the {self.bar:.0%} bar."
        return f"Accuracy gate: {scored}, under the {self.bar:.0%} bar. An approver must override the gate."

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "bar": self.bar, "accuracy": self.accuracy, "passed": self.passed,
                "golden_version": self.golden_version, "examples": self.examples,
                **({"why_unchecked": self.why_unchecked} if self.why_unchecked else {})}


def ecs_target(ecs: EcsConfig) -> str:
    return f"ecs:{ecs.cluster}/{ecs.service}"


def model_target(model: str) -> str:
    return f"model:{model}"


def parameter_target(name: str) -> str:
    return f"ssm:{name}"


class Planner:
    def __init__(self, *, config: IncidentBotConfig, providers: ActionProviders,
                 gate_wait_seconds: float = GATE_SCORE_WAIT_SECONDS) -> None:
        self._config = config
        self._providers = providers
        self._gate_wait_seconds = gate_wait_seconds
        self._planners: dict[ActionKind, Callable[[ActionRequest, str], Awaitable[Plan]]] = {
            ActionKind.SCALE: self._scale,
            ActionKind.STOP: self._scale,
            ActionKind.REDEPLOY: self._redeploy,
            ActionKind.ROLLBACK_DEPLOY: self._rollback_deploy,
            ActionKind.ROLLBACK_MODEL: self._model,
            ActionKind.LOAD_MODEL: self._model,
            ActionKind.ROLLBACK_CONFIG: self._rollback_config,
            ActionKind.SET_FLAG: self._set_flag,
            ActionKind.FAILOVER: self._providers_routing,
            ActionKind.RESTORE_PROVIDER: self._providers_routing,
            ActionKind.ROTATE_SECRET: self._security,
            ActionKind.DEACTIVATE_KEY: self._security,
            ActionKind.PUBLISH_NOTICE: self._publish_notice,
        }

    async def plan(self, request: ActionRequest, *, incident_service: str | None) -> Plan:
        try:
            return await self._planners[request.kind](request, incident_service or "")
        except ProviderRejected as exc:
            raise ActionInputError(f"{exc.message}. Nothing was changed.") from exc
        except ProviderError as exc:
            raise ActionUnavailable(f"Could not read the current state: {exc.message}. Nothing was changed.") from exc

    # --- choosing the service ---------------------------------------------------------------

    def _service(self, requested: str, incident_service: str, *, has: Callable[[ServiceConfig], bool],
                 what: str) -> tuple[str, ServiceConfig]:
        capable = [name for name, service in self._config.services.items() if has(service)]
        if not capable:
            raise ActionInputError(f"No configured service has {what}. Add it under `services:` in the config.")
        choices = ", ".join(f"`{name}`" for name in capable)
        name = requested or incident_service
        if not name:
            if len(capable) == 1:
                name = capable[0]
            else:
                raise ActionInputError(f"Name the service: one of {choices}.")
        resolved = self._config.service_name(name)
        if resolved is None:
            raise ActionInputError(f"`{_short(name)}` isn't a configured service. Services with {what}: {choices}.")
        service = self._config.services[resolved]
        if not has(service):
            raise ActionInputError(f"Service `{resolved}` has no {what}. Services with {what}: {choices}.")
        return resolved, service

    # --- ECS ---------------------------------------------------------------------------------

    def _ecs(self) -> Any:
        if self._providers.ecs is None:
            raise ActionUnavailable("ECS actions are not set up on this bot (no AWS access). Nothing was changed.")
        return self._providers.ecs

    async def _scale(self, request: ActionRequest, incident_service: str) -> Plan:
        name, service = self._service(request.service, incident_service, has=lambda s: s.ecs is not None,
                                      what="an ECS service")
        ecs = service.ecs
        assert ecs is not None
        stopping = request.kind == ActionKind.STOP
        count = 0 if stopping else request.count
        if not stopping and count is None:
            raise ActionInputError(f"`{_short(request.value or '')}` isn't a count: the desired count of {name} "
                                   f"is a whole number from {ecs.min} to {ecs.max}.")
        if not stopping and count is not None and not ecs.min <= count <= ecs.max:
            raise ActionInputError(
                f"{count} is outside {name}'s bounds: the desired count must be from {ecs.min} to {ecs.max}. "
                f"To stop the service, use `/incident stop {name}`."
            )
        state = await self._ecs().describe(cluster=ecs.cluster, service=ecs.service)
        return Plan(
            kind=request.kind, service=name, target=ecs_target(ecs),
            target_label=f"{ecs.service} (ECS {ecs.cluster})",
            before={"desired": state.desired, "running": state.running},
            after={"desired": count},
            change=f"desired {state.desired} → {count}",
            notes=(f"Running {state.running} of {state.desired} · task definition {state.revision_label}",
                   f"Bounds {ecs.min}–{ecs.max}"),
        )

    async def _redeploy(self, request: ActionRequest, incident_service: str) -> Plan:
        name, service = self._service(request.service, incident_service, has=lambda s: s.ecs is not None,
                                      what="an ECS service")
        ecs = service.ecs
        assert ecs is not None
        state = await self._ecs().describe(cluster=ecs.cluster, service=ecs.service)
        return Plan(
            kind=request.kind, service=name, target=ecs_target(ecs),
            target_label=f"{ecs.service} (ECS {ecs.cluster})",
            before={"task_definition": state.task_definition, "revision": state.revision_label,
                    "deployment": state.primary.id if state.primary else None},
            after={"task_definition": state.task_definition, "revision": state.revision_label},
            change=f"new deployment of {state.revision_label}",
            notes=(f"Running {state.running} of {state.desired}",),
        )

    async def _rollback_deploy(self, request: ActionRequest, incident_service: str) -> Plan:
        name, service = self._service(request.service, incident_service, has=lambda s: s.ecs is not None,
                                      what="an ECS service")
        ecs = service.ecs
        assert ecs is not None
        provider = self._ecs()
        state = await provider.describe(cluster=ecs.cluster, service=ecs.service)
        if request.version:
            target = _revision_arn(state.task_definition, request.version)
        else:
            target = await provider.previous_task_definition(state.task_definition)
            if target is None:
                raise ActionInputError(
                    f"{ecs.service} runs {state.revision_label}, "
                    "and there is no earlier active revision to roll back to."
                )
        target_label = _revision_label(target)
        if target == state.task_definition:
            raise ActionInputError(f"{ecs.service} already runs {target_label}.")
        return Plan(
            kind=request.kind, service=name, target=ecs_target(ecs),
            target_label=f"{ecs.service} (ECS {ecs.cluster})",
            before={"task_definition": state.task_definition, "revision": state.revision_label},
            after={"task_definition": target, "revision": target_label},
            change=f"task definition {state.revision_label} → {target_label}",
            notes=(f"Running {state.running} of {state.desired}",),
        )

    # --- models ------------------------------------------------------------------------------

    async def _model(self, request: ActionRequest, incident_service: str) -> Plan:
        model = (request.model or "").strip()
        named_service = request.service or next(
            (n for n, s in self._config.services.items() if model in s.models), incident_service)
        name, service = self._service(named_service, "", has=lambda s: bool(s.models), what="models")
        if model not in service.models:
            choices = ", ".join(f"`{m}`" for m in service.models)
            raise ActionInputError(f"`{_short(model)}` isn't a model of {name}. Its models: {choices}.")
        if self._providers.models is None:
            raise ActionUnavailable("Model actions are not set up on this bot (no worker URL). Nothing was changed.")
        state = await self._providers.models.state(model)
        if state.serving is None:
            raise ActionUnavailable(f"The worker is not serving {model} yet, so there is nothing to roll back.")
        target, change = self._model_target(request, state)
        bar = self._config.actions.model_accuracy_gate
        gate = await self._model_gate(state, target, bar=bar) if bar is not None else None
        return Plan(
            kind=request.kind, service=name, target=model_target(model), target_label=model,
            before={"version": state.serving},
            after={"model": model, "version": target,
                   **({"steps": request.steps} if request.kind == ActionKind.ROLLBACK_MODEL else {})},
            change=change,
            notes=(*((gate.line,) if gate else ()), *(v.listing_line() for v in state.versions[:5])),
            gate=gate,
        )

    async def _model_gate(self, state: ModelState, version: str, *, bar: float) -> ModelGate:
        """How ``version`` does on its golden set (on the serving one's if it has none) against ``bar``.

        The worker's stored score, from the state already read, answers at once; only a version
        never scored is sent to the worker, for at most ``gate_wait_seconds``. A gate that
        cannot be checked (in time) is not passed: the load then needs an approver, as a miss does.
        """
        serving = state.serving or ""
        info = state.version(version)
        score = info.golden if info is not None else None
        if score is None or score.golden_version not in (version, serving):
            try:
                async with asyncio.timeout(self._gate_wait_seconds):
                    score = await self._golden_score(state.name, version, serving=serving)
            except TimeoutError:
                return ModelGate(version=version, bar=bar, accuracy=None, why_unchecked=NOT_SCORED_YET)
            except ProviderError as exc:
                return ModelGate(version=version, bar=bar, accuracy=None, why_unchecked=exc.message[:300])
        return ModelGate(version=version, bar=bar, accuracy=score.accuracy, golden_version=score.golden_version,
                         examples=score.examples)

    async def _golden_score(self, model: str, version: str, *, serving: str) -> GoldenScore:
        assert self._providers.models is not None
        try:
            return await self._providers.models.golden_score(model, version=version)
        except ProviderRejected:  # a version published before golden sets: borrow the serving one's
            return await self._providers.models.golden_score(model, version=version, golden_from=serving)

    def _model_target(self, request: ActionRequest, state: ModelState) -> tuple[str, str]:
        known = ", ".join(v.version for v in state.versions)
        if request.kind == ActionKind.LOAD_MODEL:
            version = (request.version or "").strip().lower()
            if state.version(version) is None:
                raise ActionInputError(f"{state.name} has no version `{_short(version)}`. Versions: {known}.")
            if version == state.serving:
                raise ActionInputError(f"{state.name} already serves {version}.")
            return version, f"serving {state.serving} → {version}"
        if not 1 <= request.steps <= MAX_ROLLBACK_STEPS:
            raise ActionInputError(f"Roll back 1 to {MAX_ROLLBACK_STEPS} steps, not {request.steps}.")
        target = state.rollback_target(request.steps)
        if target is None:
            history = " → ".join(state.serving_history) or state.serving
            raise ActionInputError(
                f"{state.name} has no version {request.steps} step(s) back in its serving history ({history}). "
                f"Load a named version instead: `/incident rollback model {state.name} <version>` (versions: {known})."
            )
        return target, f"serving {state.serving} → {target}"

    # --- Parameter Store ---------------------------------------------------------------------

    def _parameters(self) -> Any:
        if self._providers.parameters is None:
            raise ActionUnavailable("Flag and config actions are not set up on this bot (no AWS access).")
        return self._providers.parameters

    def _flag_service(self, request: ActionRequest, incident_service: str, *,
                      names_only: bool) -> tuple[str, FlagsConfig, str]:
        parameter = (request.parameter or "").strip().removeprefix("/").split("/")[-1]
        if not parameter:
            raise ActionInputError("Name the flag or parameter.")
        if not request.service:
            owners = [n for n, s in self._config.services.items() if s.flags and parameter in s.flags.names]
            if incident_service and self._config.service_name(incident_service) in owners:
                owners = [self._config.service_name(incident_service) or ""]
            service_name = owners[0] if len(owners) == 1 else incident_service
        else:
            service_name = request.service
        name, service = self._service(service_name, "", has=lambda s: s.flags is not None, what="flags")
        flags = service.flags
        assert flags is not None
        if names_only and parameter not in flags.names:
            choices = ", ".join(f"`{n}`" for n in flags.names) or "none are configured"
            raise ActionInputError(f"`{_short(parameter)}` isn't a flag of {name}. Its flags: {choices}.")
        return name, flags, parameter

    async def _set_flag(self, request: ActionRequest, incident_service: str) -> Plan:
        name, flags, parameter = self._flag_service(request, incident_service, names_only=True)
        value = (request.value or "").strip()
        if not value or len(value) > 4096:
            raise ActionInputError("Give the flag a value (up to 4096 characters), e.g. `false`.")
        path = flags.prefix + parameter
        current = await self._parameters().get(path)
        if current.value == value:
            raise ActionInputError(f"{parameter} is already `{_short(value)}`.")
        return Plan(
            kind=request.kind, service=name, target=parameter_target(path), target_label=parameter,
            before={"value": current.value, "version": current.version},
            after={"path": path, "value": value},
            change=f"{_short(current.value)} → {_short(value)}",
            notes=(f"Parameter {path} (version {current.version})",),
        )

    async def _rollback_config(self, request: ActionRequest, incident_service: str) -> Plan:
        name, flags, parameter = self._flag_service(request, incident_service, names_only=False)
        path = flags.prefix + parameter
        store = self._parameters()
        current = await store.get(path)
        history = await store.history(path)
        earlier = [h for h in history if h.version < current.version]
        if request.version:
            wanted = _version_number(request.version)
            chosen = next((h for h in history if h.version == wanted), None)
            if chosen is None or wanted == current.version:
                versions = ", ".join(str(h.version) for h in earlier) or "none"
                raise ActionInputError(f"{parameter} has no earlier version {request.version}. "
                                       f"Earlier versions: {versions}.")
        elif earlier:
            chosen = earlier[-1]
        else:
            raise ActionInputError(f"{parameter} has only one version (`{_short(current.value)}`): "
                                   "nothing to roll back to.")
        if chosen.value == current.value:
            raise ActionInputError(f"{parameter} version {chosen.version} has the same value as now "
                                   f"(`{_short(current.value)}`).")
        return Plan(
            kind=request.kind, service=name, target=parameter_target(path), target_label=parameter,
            before={"value": current.value, "version": current.version},
            after={"path": path, "value": chosen.value, "from_version": chosen.version},
            change=f"{_short(current.value)} → {_short(chosen.value)} (version {chosen.version})",
            notes=(f"Parameter {path}",),
        )

    # --- AI providers (seed 003) -------------------------------------------------------------

    async def _providers_routing(self, request: ActionRequest, incident_service: str) -> Plan:
        """Failover (``value``: the backup asked for, or empty for the first healthy one) or restore."""
        name, service = self._service(request.service, incident_service, has=lambda s: s.providers is not None,
                                      what="AI providers")
        planner = failover_planner(self._providers)
        if request.kind == ActionKind.RESTORE_PROVIDER:
            parts = await planner.restore(name, service)
        else:
            parts = await planner.failover(name, service, requested=request.value or "")
        return Plan(kind=request.kind, service=name, target=parts.target, target_label=parts.target_label,
                    before=parts.before, after=parts.after, change=parts.change, notes=parts.notes)

    # --- security incidents (seeds 002, 003) --------------------------------------------------

    async def _security(self, request: ActionRequest, incident_service: str) -> Plan:
        """Rotate an allow-listed secret or deactivate an allow-listed user's access key."""
        plan = plan_rotate_secret if request.kind == ActionKind.ROTATE_SECRET else plan_deactivate_key
        parts = await plan(request, config=self._config, providers=self._providers)
        # The incident's service names the action in the audit; the target is the secret or key.
        return Plan(kind=request.kind, service=incident_service, target=parts.target, target_label=parts.target_label,
                    before=parts.before, after=parts.after, change=parts.change, notes=parts.notes)

    # --- notices for approval audiences (seeds 002, 003) --------------------------------------

    async def _publish_notice(self, request: ActionRequest, incident_service: str) -> Plan:
        """A customer-facing notice: checked now, sent once a second person approves it."""
        parts = plan_publish_notice(request, config=self._config)
        return Plan(kind=request.kind, service=incident_service, target=parts.target, target_label=parts.target_label,
                    before=parts.before, after=parts.after, change=parts.change, notes=parts.notes)


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _version_number(text: str) -> int:
    digits = text.strip().lower().removeprefix("v")
    if not digits.isdigit():
        raise ActionInputError(f"`{_short(text)}` isn't a version number.")
    return int(digits)


def _revision_label(task_definition: str) -> str:
    return task_definition.rsplit("/", 1)[-1]


def _revision_arn(current: str, wanted: str) -> str:
    """The ARN of another revision of the same family: `7`, `family:7` or a full ARN."""
    if wanted.startswith("arn:"):
        return wanted
    family_arn, _, _ = current.rpartition(":")
    revision = wanted.rpartition(":")[2]
    if not revision.isdigit():
        raise ActionInputError(f"`{_short(wanted)}` isn't a task-definition revision (e.g. `2`).")
    return f"{family_arn}:{int(revision)}"
