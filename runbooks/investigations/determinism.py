"""Determinism: seed 004's "same input = same output, 100% deterministic", checked on the served model.

Its Scoring Inconsistency playbook checks the normalization context's and the weights' versions,
then runs ``validate-deterministic``. Here the service's pinned inputs are replayed twice against
the served version, and against what that version answered the first time they were replayed (the
reference, kept in the database). Replays that disagree with each other mean the serving is
nondeterministic; replays that agree with each other but not with the reference mean the same
version name now answers differently (changed weights, preprocessing or context).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config.models import DeterminismConfig
from bot.core.clock import Clock, utc_now
from bot.core.ports.errors import ProviderError
from bot.core.ports.http_probe import HttpProbe
from bot.core.ports.worker import WorkerClient, WorkerError, WorkerRejected
from bot.core.replay_references import find_reference, record_first_reference
from bot.core.text import escape_mrkdwn, truncate
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Finding, InvestigationKind, Scope, unavailable
from runbooks.investigations.determinism_report import (
    ContextReading,
    DeterminismReport,
    Reference,
    ReferenceOutcome,
    Replay,
)
from runbooks.investigations.pinned_inputs import PinnedInputsError, PinnedSet, batches, load_pinned
from runbooks.investigations.replays import Comparison, Output, compare
from runbooks.investigations.serving import serving_version
from runbooks.investigations.stats_page import StatsUnreadable, normalization_context

log = logging.getLogger(__name__)


class UnusableAnswer(Exception):
    """The worker answered, but not with one prediction per input."""


class DeterminismInvestigation:
    kind = InvestigationKind.DETERMINISM
    timeout_s = 60.0

    def __init__(self, worker: WorkerClient, sessions: async_sessionmaker[AsyncSession], *,
                 http: HttpProbe | None = None, clock: Clock = utc_now) -> None:
        self._worker = worker
        self._sessions = sessions
        self._http = http  # reads the normalization context, when the service names its /stats page
        self._clock = clock

    async def run(self, scope: Scope) -> Finding:
        config = scope.service.determinism
        if config is None:
            return unavailable(self.kind, "determinism: no pinned inputs configured",
                               f"Add `determinism:` to service {escape_mrkdwn(scope.service_name)} in the config.")
        try:
            pinned = await load_pinned(config)
        except PinnedInputsError as exc:
            return unavailable(self.kind, "determinism: the pinned inputs cannot be replayed",
                               escape_mrkdwn(truncate(str(exc), 300)), "Fix `determinism.inputs_file` in the config.")
        try:
            replay = await self._replay(config.model, pinned)
        except WorkerRejected as exc:
            return unavailable(self.kind, f"determinism: the worker refused ({exc.status})",
                               escape_mrkdwn(truncate(str(exc), 300)),
                               "Check `determinism.model` and that the pinned inputs suit the model's kind.")
        except (WorkerError, UnusableAnswer) as exc:
            return unavailable(self.kind, "determinism: the model worker could not be asked",
                               escape_mrkdwn(truncate(str(exc), 300)), "Try again in a minute.")
        if replay.before.version is None:
            return unavailable(self.kind, f"determinism: {escape_mrkdwn(config.model)} is not serving",
                               "The worker has no version of it loaded; try again once it is ready.")
        if len(replay.versions) > 1:
            return self._inconclusive(config, replay)
        between = compare(replay.first, replay.second, tolerance=config.tolerance)
        outcome = await self._reference(scope, config, pinned, replay, between)
        return DeterminismReport(scope=scope, config=config, pinned=pinned, replay=replay, between=between,
                                 outcome=outcome, context=await self._context(scope), now=self._clock()).finding()

    async def _context(self, scope: Scope) -> ContextReading | None:
        """Seed 004's first check of a scoring inconsistency: the normalization context's version and age,
        from the service's GET /stats (``data_quality.stats_url``). Shown beside the replay, never judged."""
        data_quality = scope.service.data_quality
        url = data_quality.stats_url if data_quality is not None else None
        if self._http is None or url is None:
            return None
        try:
            answer = await self._http.get(url)
        except ProviderError as exc:
            return ContextReading(url, None, exc.message)
        if not answer.ok or answer.truncated:
            return ContextReading(url, None, f"it answered HTTP {answer.status}" if not answer.ok
                                  else "the page is too large")
        try:
            return ContextReading(url, normalization_context(answer.body, now=self._clock()))
        except StatsUnreadable as exc:
            return ContextReading(url, None, str(exc))

    async def _replay(self, model: str, pinned: PinnedSet) -> Replay:
        before = serving_version(model, await self._worker.model(model))
        if before.version is None:
            return Replay(before, before, (), (), frozenset(), 0)
        first, first_versions = await self._predict_all(model, pinned)
        second, second_versions = await self._predict_all(model, pinned)
        after = serving_version(model, await self._worker.model(model))
        return Replay(before, after, first, second, first_versions | second_versions,
                      requests=2 * len(batches(pinned.instances)))

    async def _predict_all(self, model: str, pinned: PinnedSet) -> tuple[tuple[Output, ...], frozenset[str]]:
        # Sequential and always cut the same way, so both replays meet the model in the same batches.
        outputs: list[Output] = []
        versions: set[str] = set()
        for batch in batches(pinned.instances):
            predictions = await self._worker.predict(model, batch)
            if len(predictions) != len(batch):
                raise UnusableAnswer(f"the worker answered {len(predictions)} predictions for {len(batch)} inputs")
            outputs.extend(Output(p.label, dict(p.scores)) for p in predictions)
            versions.update(p.model_version for p in predictions if p.model_version)
        return tuple(outputs), frozenset(versions)

    async def _reference(self, scope: Scope, config: DeterminismConfig, pinned: PinnedSet, replay: Replay,
                         between: Comparison) -> ReferenceOutcome:
        version = replay.before.version or ""
        try:
            async with self._sessions() as session, session.begin():
                row = await find_reference(session, model=config.model, version=version,
                                           inputs_hash=pinned.inputs_hash)
                recorded_now = False
                if row is None:
                    if not between.identical:
                        return ReferenceOutcome(None, "No reference recorded: the two replays disagree, so "
                                                      "neither can stand for this version.")
                    row, recorded_now = await record_first_reference(
                        session, model=config.model, version=version, inputs_hash=pinned.inputs_hash,
                        weights_digest=replay.before.weights_digest, outputs=[o.to_json() for o in replay.first],
                        service=scope.service_name, incident_number=scope.incident_number, now=self._clock())
                return ReferenceOutcome(Reference(
                    outputs=_stored_outputs(row.outputs, len(pinned)), recorded_at=row.recorded_at,
                    recorded_now=recorded_now, weights_digest=row.weights_digest,
                    incident_number=row.incident_number))
        except SQLAlchemyError as exc:
            log.warning("the determinism reference of %s %s could not be read: %s", config.model, version, exc)
            return ReferenceOutcome(None, "The recorded reference could not be read (database error); "
                                          "only the two replays were compared.")

    def _inconclusive(self, config: DeterminismConfig, replay: Replay) -> Finding:
        shown = escape_mrkdwn(" → ".join(replay.versions))
        return Finding(
            kind=self.kind, verdict=Verdict.UNAVAILABLE,
            headline=f"determinism: inconclusive, {escape_mrkdwn(config.model)} served {shown} during the replay",
            lines=(f"The served version changed while the inputs were replayed ({shown}), so the answers cannot "
                   "be compared.", "Run it again once the deploy has settled."),
            data={"model": config.model, "versions": replay.versions, "inconclusive": True})


def _stored_outputs(stored: Any, expected: int) -> tuple[Output, ...] | None:
    try:
        outputs = tuple(Output.from_json(item) for item in stored)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return outputs if len(outputs) == expected else None
