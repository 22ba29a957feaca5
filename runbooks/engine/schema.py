"""What a runbook file holds: match rules, a default severity, phased steps, branches, notes.

Every model forbids unknown keys, so a misspelt key is an error that names it. A step's
``action`` is one of the guarded actions (scale, rollback, flag, stop, redeploy, failover,
restore_provider) or Diagnose, with the parameters the step presets; the button on the checklist
opens that action's form prefilled, and the guarded pipeline still decides.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.config.severity import Severity
from bot.core.record_facts import RecordFact
from runbooks.classes import RUNBOOK_CLASSES

STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DIAGNOSE_STEPS = ("worker", "golden", "drift", "latency", "low_confidence", "chart", "triage", "providers")
TEMPLATES = ("initial", "update", "resolution", "security_initial")


class Phase(StrEnum):
    TRIAGE = "triage"
    CONTAINMENT = "containment"
    INVESTIGATION = "investigation"
    RESOLUTION = "resolution"
    VERIFICATION = "verification"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScaleAction(Strict):
    """Scale the service: by ``delta`` tasks from what runs now, or to ``count``."""

    delta: int | None = Field(default=None, ge=-50, le=50)
    count: int | None = Field(default=None, ge=0, le=1000)

    @model_validator(mode="after")
    def _one_of(self) -> ScaleAction:
        if (self.delta is None) == (self.count is None):
            raise ValueError("give exactly one of delta (e.g. +2) or count")
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


class RollbackAction(Strict):
    kind: Literal["model", "deploy", "config"]
    steps: int = Field(default=1, ge=1, le=10)
    target: str | None = Field(default=None, max_length=200)  # a model or parameter name


class FlagAction(Strict):
    name: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=500)


class DiagnoseAction(Strict):
    steps: tuple[Literal["worker", "golden", "drift", "latency", "low_confidence", "chart", "triage",
                         "providers"], ...] = ()


class StepAction(Strict):
    """Exactly one of the keys."""

    scale: ScaleAction | None = None
    rollback: RollbackAction | None = None
    flag: FlagAction | None = None
    stop: dict[str, Any] | None = None  # emergency stop; no parameters
    redeploy: dict[str, Any] | None = None
    # Seed 003: move an AI service's traffic to its first healthy backup provider, and back.
    failover: dict[str, Any] | None = None
    restore_provider: dict[str, Any] | None = None
    # Security incidents: copy the incident's logs and state to the evidence bucket, hashed.
    evidence: dict[str, Any] | None = None
    diagnose: DiagnoseAction | None = None
    # A read-only investigation (runbooks/investigations): `investigate: logs`.
    investigate: Literal["logs", "tasks", "targets", "metrics", "data_quality", "canary", "determinism"] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> StepAction:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            names = ", ".join(type(self).model_fields)
            raise ValueError(f"give exactly one action ({names}), not {len(given) or 'none'}")
        for name in ("stop", "redeploy", "failover", "restore_provider", "evidence"):
            if getattr(self, name):
                raise ValueError(f"{name} takes no parameters: write `{name}: {{}}`")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class Step(Strict):
    id: str
    title: Annotated[str, Field(min_length=3, max_length=150)]
    why: Annotated[str, Field(min_length=3, max_length=500)]
    action: StepAction | None = None
    # What a person runs or checks by hand (the seeds' commands), shown under the step.
    how: Annotated[str, Field(max_length=1500)] = ""
    # Facts of the incident's record that show the step done; once all hold, it ticks itself.
    done_when: tuple[RecordFact, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not STEP_ID.match(value):
            raise ValueError("step ids are lowercase words joined by '-', e.g. disable-auto-apply")
        return value

    @field_validator("done_when", mode="before")
    @classmethod
    def _known_facts(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            # A ValueError, not a TypeError: pydantic reports ValueErrors.
            raise ValueError("done_when is a list of facts, e.g. [acknowledged, joined]")
        unknown = [v for v in value if not isinstance(v, str) or v not in RecordFact.__members__.values()]
        if unknown:
            raise ValueError(f"unknown fact {unknown[0]!r} (known: {', '.join(RecordFact)})")
        if len(set(value)) != len(value):
            raise ValueError("done_when names a fact twice")
        return value


class PhaseSteps(Strict):
    phase: Phase
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]


class Branch(Strict):
    """The seeds' "If distribution drift: ..." hints: a condition, and what to do then."""

    when: Annotated[str, Field(min_length=3, max_length=200)]
    then: Annotated[str, Field(min_length=3, max_length=1000)]
    steps: tuple[str, ...] = ()  # ids of steps that answer it


class Match(Strict):
    alarms: tuple[str, ...] = ()  # CloudWatch alarm-name globs
    metrics: tuple[str, ...] = ()  # metric names
    pagerduty_services: tuple[str, ...] = ()
    text_class: str | None = None  # the incident-text class this runbook answers

    @field_validator("text_class")
    @classmethod
    def _known_class(cls, value: str | None) -> str | None:
        if value is not None and value not in RUNBOOK_CLASSES:
            raise ValueError(f"unknown text class {value!r} (known: {', '.join(RUNBOOK_CLASSES)})")
        return value


class Communication(Strict):
    template: Literal["initial", "update", "resolution", "security_initial"] = "initial"
    audience: tuple[str, ...] = ()  # who hears of it, in the seeds' words
    notes: tuple[str, ...] = ()


class Escalation(Strict):
    notes: tuple[str, ...] = ()


class Runbook(Strict):
    name: str
    title: Annotated[str, Field(min_length=3, max_length=150)]
    summary: Annotated[str, Field(min_length=3, max_length=1000)]
    seeds: tuple[str, ...] = ()  # which seed runbooks it carries the content of
    match: Match = Field(default_factory=Match)
    severity: Severity
    phases: Annotated[tuple[PhaseSteps, ...], Field(min_length=1)]
    branches: tuple[Branch, ...] = ()
    escalation: Escalation = Field(default_factory=Escalation)
    communication: Communication = Field(default_factory=Communication)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Severity:
        try:
            return Severity.parse(str(value))
        except ValueError:
            raise ValueError(f"unknown severity {value!r} (expected {Severity.expected()})") from None

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", value):
            raise ValueError("runbook names are lowercase words joined by '_', e.g. model_regression")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Runbook:
        ids = [step.id for phase in self.phases for step in phase.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"step ids must be unique; repeated: {', '.join(duplicates)}")
        order = [phase.phase for phase in self.phases]
        if order != sorted(order, key=list(Phase).index) or len(set(order)) != len(order):
            raise ValueError("phases go once each, in order: " + " → ".join(p.value for p in Phase))
        for index, branch in enumerate(self.branches):
            unknown = [s for s in branch.steps if s not in ids]
            if unknown:
                raise ValueError(f"branches[{index}] names steps that are not here: {', '.join(unknown)}")
        return self

    def steps(self) -> list[tuple[Phase, Step]]:
        return [(phase.phase, step) for phase in self.phases for step in phase.steps]
