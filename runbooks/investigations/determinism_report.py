"""One Determinism run's finding: the verdict, the words, the timeline data and the per-input file.

The rules: replays that disagree with each other are critical (the serving is nondeterministic);
a version whose files changed since its reference is critical; outputs that differ from the
reference of the same version are critical when a label changed and a warning when only scores
moved past the tolerance; otherwise all is identical and OK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from bot.config.durations import format_duration
from bot.config.models import DeterminismConfig
from bot.core.text import escape_mrkdwn, truncate
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Attachment, Finding, InvestigationKind, Scope
from runbooks.investigations.pinned_inputs import PinnedSet
from runbooks.investigations.replays import Comparison, Difference, Output, compare
from runbooks.investigations.serving import ServingVersion
from runbooks.investigations.stats_page import NormalizationContext

SHOWN = 3  # differing inputs named in the message; the file has them all
KEPT = 5  # differing inputs kept on the timeline


@dataclass(frozen=True)
class Replay:
    before: ServingVersion
    after: ServingVersion
    first: tuple[Output, ...]
    second: tuple[Output, ...]
    answered_by: frozenset[str]  # the versions the predictions name
    requests: int

    @property
    def versions(self) -> list[str]:
        """Every version seen during the replay, the one before first and the one after last."""
        seen = [self.before.version, *sorted(self.answered_by), self.after.version]
        return list(dict.fromkeys(v for v in seen if v))


@dataclass(frozen=True)
class Reference:
    outputs: tuple[Output, ...] | None  # None: unreadable
    recorded_at: datetime
    recorded_now: bool
    weights_digest: str
    incident_number: int | None


@dataclass(frozen=True)
class ContextReading:
    url: str
    context: NormalizationContext | None
    problem: str | None = None  # why there is none, when there is none

    @property
    def words(self) -> str:
        """``v12 3h old``, for the headline; empty when it could not be read."""
        if self.context is None:
            return ""
        version = f"{self.context.version} " if self.context.version else ""
        return f"{version}{age(self.context.age)} old"


@dataclass(frozen=True)
class ReferenceOutcome:
    reference: Reference | None
    problem: str | None = None  # why there is none, when there is none


def age(delta: timedelta) -> str:
    return format_duration(max(delta, timedelta(0)), max_units=1)


def _diff(value: float) -> str:
    return "0" if value == 0 else f"{value:.2g}"


@dataclass(frozen=True)
class DeterminismReport:
    """One run's finding: verdict, words, timeline data and the per-input file."""

    scope: Scope
    config: DeterminismConfig
    pinned: PinnedSet
    replay: Replay
    between: Comparison
    outcome: ReferenceOutcome
    now: datetime
    context: ContextReading | None = None

    @property
    def serving(self) -> ServingVersion:
        return self.replay.before

    @property
    def reference(self) -> Reference | None:
        return self.outcome.reference

    @cached_property
    def against(self) -> Comparison | None:
        reference = self.reference
        if reference is None or reference.recorded_now or reference.outputs is None:
            return None
        return compare(reference.outputs, self.replay.first, tolerance=self.config.tolerance)

    @property
    def weights_changed(self) -> bool:
        reference = self.reference
        return bool(reference and reference.weights_digest and self.serving.weights_digest
                    and reference.weights_digest != self.serving.weights_digest)

    def finding(self) -> Finding:
        verdict, headline = self._verdict()
        return Finding(kind=InvestigationKind.DETERMINISM, verdict=verdict, headline=headline,
                       lines=tuple(self._lines()), data=self._data(), attachment=self._attachment())

    def _verdict(self) -> tuple[Verdict, str]:
        n, label, against = len(self.pinned), escape_mrkdwn(self.serving.label), self.against
        if not self.between.identical:
            return Verdict.CRITICAL, (f"determinism: {len(self.between.differences)}/{n} differ between two replays "
                                      f"of {label} (max diff {_diff(self.between.max_diff)}): serving is "
                                      "nondeterministic")
        if self.weights_changed:
            return Verdict.CRITICAL, (f"determinism: the weights of {label} changed since its reference was "
                                      f"recorded {self._reference_age()} ago")
        if against is not None and not against.identical:
            # Other scores from the same version are a warning; other labels change what the service does.
            verdict = Verdict.CRITICAL if against.label_changes else Verdict.WARNING
            return verdict, (f"determinism: {len(against.differences)}/{n} differ from the reference of {label} "
                             f"recorded {self._reference_age()} ago ({against.label_changes} labels changed, "
                             f"max diff {_diff(against.max_diff)})")
        versions = f"{label}" + (f", weights {age(self.now - self.serving.created_at)} old"
                                 if self.serving.created_at else "")
        if self.context is not None and self.context.words:
            versions += f", context {escape_mrkdwn(self.context.words)}"
        if self.reference is not None and self.reference.recorded_now:
            return Verdict.OK, f"determinism: {n}/{n} identical across two replays; reference recorded now ({versions})"
        if against is None:
            return Verdict.OK, (f"determinism: {n}/{n} identical across two replays; no reference to compare "
                                f"({versions})")
        return Verdict.OK, f"determinism: {n}/{n} identical across two replays and the reference ({versions})"

    def _reference_age(self) -> str:
        return age(self.now - self.reference.recorded_at) if self.reference else "?"

    def _lines(self) -> list[str]:
        lines = [self._model_line(),
                 f"{len(self.pinned)} pinned inputs from {escape_mrkdwn(self.pinned.source)} (set "
                 f"`{self.pinned.inputs_hash[:12]}`), replayed twice in {self.replay.requests} requests; "
                 f"tolerance {self.config.tolerance:g}.",
                 "Replay 1 against replay 2: " + _summary(self.between)]
        lines.append(self._reference_line())
        if self.context is not None:
            lines.append(self._context_line(self.context))
        if self.weights_changed:
            lines.append(f"The files of {escape_mrkdwn(self.serving.label)} differ from those it had when the "
                         "reference was recorded: the same version name holds other weights now.")
        for against, difference in self._differences()[:SHOWN]:
            shown = escape_mrkdwn(self.pinned.describe(difference.index, 60))
            lines.append(f"{against} #{difference.index + 1} “{shown}”: {_difference_words(difference)}")
        return lines

    def _model_line(self) -> str:
        serving = self.serving
        parts = [f"Model `{escape_mrkdwn(serving.model)}` {escape_mrkdwn(serving.version or '')}"]
        if serving.created_at:
            parts.append(f"weights published {age(self.now - serving.created_at)} ago "
                         f"({serving.created_at:%Y-%m-%d %H:%M} UTC)")
        if serving.serving_since:
            by = f" by {escape_mrkdwn(truncate(serving.deployed_by, 60))}" if serving.deployed_by else ""
            parts.append(f"serving since {age(self.now - serving.serving_since)} ago{by}")
        return ", ".join(parts) + "."

    @staticmethod
    def _context_line(reading: ContextReading) -> str:
        url = escape_mrkdwn(truncate(reading.url, 120))
        if reading.context is None:
            problem = escape_mrkdwn(truncate(reading.problem or "", 200))
            return f"Normalization context ({url}): could not be read: {problem}"
        when = f", updated {reading.context.updated_at:%Y-%m-%d %H:%M} UTC" if reading.context.updated_at else ""
        return (f"Normalization context ({url}): version {escape_mrkdwn(reading.context.version or 'not given')}, "
                f"{age(reading.context.age)} old{when}.")

    def _reference_line(self) -> str:
        reference, against = self.reference, self.against
        if reference is None:
            return self.outcome.problem or "No reference."
        where = f" for incident #{reference.incident_number}" if reference.incident_number is not None else ""
        if reference.recorded_now:
            return (f"Reference recorded now{where}: later replays of {escape_mrkdwn(self.serving.label)} "
                    "are compared against it.")
        if against is None:
            return (f"The reference recorded {self._reference_age()} ago{where} is unreadable; only the replays "
                    "were compared.")
        return f"Against the reference recorded {self._reference_age()} ago{where}: " + _summary(against)

    def _differences(self) -> list[tuple[str, Difference]]:
        against = self.against
        found = [("replays", d) for d in self.between.differences]
        found += [("reference", d) for d in (against.differences if against else ())]
        return found

    def _data(self) -> dict[str, Any]:
        serving, reference, against = self.serving, self.reference, self.against
        data: dict[str, Any] = {
            "model": serving.model, "version": serving.version, "inputs": len(self.pinned),
            "inputs_hash": self.pinned.inputs_hash, "source": self.pinned.source, "tolerance": self.config.tolerance,
            "requests": self.replay.requests,
            "replays": _comparison_data(self.between),
            "weights": {
                "created_at": serving.created_at.isoformat() if serving.created_at else None,
                "age_s": _seconds(self.now, serving.created_at),
                "serving_since": serving.serving_since.isoformat() if serving.serving_since else None,
                "serving_age_s": _seconds(self.now, serving.serving_since),
                "digest": serving.weights_digest[:16], "changed": self.weights_changed,
            },
            "reference": {"status": "none", "problem": self.outcome.problem},
            "first_differences": [
                {"against": where, "index": d.index, "input": truncate(self.pinned.describe(d.index, 120), 120),
                 "labels": [d.before.label, d.after.label], "max_diff": d.max_diff, "class": d.worst_class}
                for where, d in self._differences()[:KEPT]],
        }
        if self.context is not None:
            found = self.context.context
            data["normalization_context"] = {
                "url": self.context.url, "version": found.version if found else None,
                "age_s": round(found.age.total_seconds(), 1) if found else None, "problem": self.context.problem}
        if reference is not None:
            data["reference"] = {
                "status": "recorded_now" if reference.recorded_now else ("compared" if against else "unreadable"),
                "recorded_at": reference.recorded_at.isoformat(), "age_s": _seconds(self.now, reference.recorded_at),
                "incident_number": reference.incident_number,
                **(_comparison_data(against) if against else {}),
            }
        return data

    def _attachment(self) -> Attachment | None:
        differences = self._differences()
        if not differences:
            return None
        scope = self.scope
        body = [f"# incident #{scope.incident_number} {scope.service_name}: determinism replay of "
                f"{self.serving.label}, {len(self.pinned)} inputs, tolerance {self.config.tolerance:g}",
                f"# replay 1 vs replay 2: {_summary(self.between)}"]
        if self.against is not None:
            body.append(f"# reference (recorded {self._reference_age()} ago) vs replay 1: {_summary(self.against)}")
        body.append("# against   input  label (before -> after)  max diff (class)  text")
        for where, d in differences:
            body.append(f"{where:<9} #{d.index + 1:<5} {d.before.label} -> {d.after.label}  {_diff(d.max_diff)} "
                        f"({d.worst_class or '-'})  {self.pinned.describe(d.index, 200)}")
        name = f"determinism-incident-{scope.incident_number}-{scope.service_name}.txt"
        return Attachment(name, ("\n".join(body) + "\n").encode())


def _summary(comparison: Comparison) -> str:
    if comparison.identical:
        return f"identical (largest score difference {_diff(comparison.max_diff)})."
    return (f"{len(comparison.differences)} of {comparison.compared} differ, {comparison.label_changes} with "
            f"another label; largest score difference {_diff(comparison.max_diff)}.")


def _difference_words(difference: Difference) -> str:
    labels = (f"{escape_mrkdwn(difference.before.label)} → {escape_mrkdwn(difference.after.label)}"
              if difference.label_changed else f"still {escape_mrkdwn(difference.after.label)}")
    worst = f" ({escape_mrkdwn(difference.worst_class)})" if difference.worst_class else ""
    return f"{labels}, max diff {_diff(difference.max_diff)}{worst}"


def _comparison_data(comparison: Comparison) -> dict[str, Any]:
    return {"differ": len(comparison.differences), "label_changes": comparison.label_changes,
            "max_diff": comparison.max_diff}


def _seconds(now: datetime, then: datetime | None) -> float | None:
    return round((now - then).total_seconds(), 1) if then else None
