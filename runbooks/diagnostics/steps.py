"""The diagnostic steps, each the script a responder would run by hand in the seeds.

Every step takes the incident's `Subject` and what earlier steps found (`Findings`), and
returns a `StepResult`. A step that cannot run says why (`Verdict.UNAVAILABLE`); the suite
catches the worker's and the providers' errors so one failing step never stops the others.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.config.providers import ProvidersConfig
from bot.core.ports.cloudwatch import MetricRef, MetricSource, alarm_window
from bot.core.ports.http_probe import HttpProbe
from bot.core.ports.worker import WorkerClient, WorkerError, WorkerRejected
from runbooks.diagnostics.metric_chart import ChartSpec, render_metric_chart
from runbooks.diagnostics.metric_units import unit_of
from runbooks.diagnostics.results import (
    LOW_CONFIDENCE,
    StepResult,
    Suggestion,
    Verdict,
    accuracy_verdict,
    drift_verdict,
    f1_drop_verdict,
    worst,
)

LATENCY_BATCHES = (1, 4, 8, 16)
LATENCY_REPEATS = 3
PROBE_TEXT = "P95 latency above 1s on the scoring API after the 14:05 deploy; timeouts rising"
# Where the evidence points, the guarded action that answers it (see inference/mechanisms.py).
MECHANISM_ACTIONS = {"bad_change": "rollback", "capacity": "scale"}


class FileSink(Protocol):
    async def upload_file(self, channel: str, *, filename: str, content: bytes, title: str = "",
                          comment: str = "", thread_ts: str | None = None) -> str: ...


class MetricPublisher(Protocol):
    async def publish(self, *, namespace: str, name: str, value: float, dimensions: dict[str, str]) -> None: ...


@dataclass(frozen=True)
class Subject:
    """What is being diagnosed: the incident as the steps need it."""

    number: int
    title: str
    alert_titles: tuple[str, ...]
    channel_id: str
    text_model: str | None  # the service's text classifier (incident-text)
    chart_model: str | None
    fusion_model: str | None
    metric: MetricRef | None
    threshold: float | None
    alarm_at: datetime | None
    now: datetime
    comparison: str | None = None  # the alarm's ComparisonOperator: which side of the threshold breaches
    providers: ProvidersConfig | None = None  # seed 003's AI providers, for the providers step

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.alert_titles[:5]])


@dataclass
class Findings:
    chart_png: bytes | None = None
    chart_pattern: str | None = None
    serving: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tools:
    worker: WorkerClient
    metrics: MetricSource | None
    files: FileSink
    publisher: MetricPublisher | None
    drift_namespace: str = "IncidentBot/Diagnostics"
    # Drift looks at the most recent traffic: during an incident, the last few hundred requests matter.
    drift_window: int = 200
    probe: HttpProbe | None = None  # the providers' health URLs


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


async def worker_health(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    if not await tools.worker.ready():
        return StepResult("worker", Verdict.UNAVAILABLE, "worker: not ready or unreachable",
                          ("The model worker did not answer /readyz; the model steps will say so too.",))
    models = await tools.worker.models()
    findings.serving.update({m.name: m.version or "" for m in models if m.ready})
    lines = tuple(f"{m.name} {m.version or '—'}: {'ready' if m.ready else 'loading'}" for m in models)
    verdict = Verdict.OK if all(m.ready for m in models) else Verdict.WARNING
    served = ", ".join(f"{m.name} {m.version}" for m in models if m.ready) or "nothing"
    return StepResult("worker", verdict, f"worker: serving {served}", lines,
                      {"models": {m.name: {"version": m.version, "ready": m.ready} for m in models}})


# Seed 002: "Precision drops > 15%" and "Recall drops > 15%" are performance degradations.
CLASS_DROP_LIMIT = 0.15
CLASS_DROPS_SHOWN = 4
# Seed 002's severity table: "High ... F1 score drops > 20%", "Medium ... F1 score drops 10-20%"
# (its alerts call the same drops CRITICAL and WARNING: the step's verdict).
F1_DROP_SEVERITIES = ((0.20, "P1", "High", "F1 drop over 20%"), (0.10, "P2", "Medium", "F1 drop 10-20%"))


def per_class_drops(current: dict[str, Any], previous: dict[str, Any]) -> list[dict[str, Any]]:
    """Each class whose precision or recall fell by more than 15% (relative) from ``previous``, worst first."""
    found: list[dict[str, Any]] = []
    for metric in ("precision", "recall"):
        now, before = current.get(f"per_class_{metric}") or {}, previous.get(f"per_class_{metric}") or {}
        for label, was in before.items():
            was, is_now = float(was), float(now.get(label, 0.0))
            if was > 0 and (was - is_now) / was > CLASS_DROP_LIMIT:
                found.append({"class": label, "metric": metric, "previous": was, "current": is_now,
                              "drop": round((was - is_now) / was, 4)})
    return sorted(found, key=lambda d: -d["drop"])


def suggested_severity(f1_drop: float) -> tuple[str, str, str] | None:
    """(severity, its name, the rule) that a macro-F1 drop calls for; None under 10%."""
    return next(((level, name, rule) for above, level, name, rule in F1_DROP_SEVERITIES if f1_drop > above), None)


@dataclass(frozen=True)
class _Golden:
    model: str
    serving: str
    accuracy: float
    verdict: Verdict
    lines: tuple[str, ...]
    data: dict[str, Any]
    suggestion: Suggestion | None


async def _golden_for(model: str, tools: Tools) -> _Golden:
    """The serving version and the one before it, both on the serving version's golden set."""
    info = await tools.worker.model(model)
    serving = str(info.get("version") or "")
    history = [str(v) for v in info.get("serving_history") or []]
    versions = [str(v.get("version")) for v in info.get("versions") or []]  # newest first
    earlier = [v for v in history[:-1] if v != serving] or [v for v in versions if v != serving]
    current = await tools.worker.evaluate(model, serving)
    verdict, advice = accuracy_verdict(float(current["accuracy"]))
    lines = [f"{model} {serving}: accuracy {_pct(current['accuracy'])} · macro-F1 {current['macro_f1']:.3f} · "
             f"mean confidence {current['mean_confidence']:.2f} ({current['examples']} examples) → {advice}"]
    data: dict[str, Any] = {"current": current}
    suggestion = None
    if earlier:
        previous_version = earlier[-1]
        previous = await tools.worker.evaluate(model, previous_version, golden_from=serving)
        f1_verdict, drop = f1_drop_verdict(float(current["macro_f1"]), float(previous["macro_f1"]))
        verdict = worst([verdict, f1_verdict])
        delta = (current["accuracy"] - previous["accuracy"]) * 100
        lines.append(f"{model} {previous_version}: accuracy {_pct(previous['accuracy'])} · macro-F1 "
                     f"{previous['macro_f1']:.3f} on the same set")
        lines.append(f"Δ accuracy {delta:+.1f} pts · macro-F1 change {-drop * 100:+.1f}%"
                     + (" (F1 drop over 20%: critical)" if f1_verdict == Verdict.CRITICAL else
                        " (F1 drop over 10%: warning)" if f1_verdict == Verdict.WARNING else ""))
        drops = sorted(((label, previous["per_class_f1"].get(label, 0.0) - f1)
                        for label, f1 in current["per_class_f1"].items()), key=lambda item: -item[1])[:3]
        worst_classes = ", ".join(f"{label} {-d:+.2f}" for label, d in drops if d > 0.02)
        if worst_classes:
            lines.append(f"Largest per-class F1 drops: {worst_classes}")
        class_drops = per_class_drops(current, previous)
        if class_drops:
            verdict = worst([verdict, Verdict.WARNING])  # seed 002: a precision or recall drop over 15% warns
            shown = "; ".join(f"{d['class']} {d['metric']} {d['previous']:.2f} → {d['current']:.2f} "
                              f"(-{d['drop'] * 100:.0f}%)" for d in class_drops[:CLASS_DROPS_SHOWN])
            more = len(class_drops) - CLASS_DROPS_SHOWN
            lines.append(f"Per-class drops over {CLASS_DROP_LIMIT:.0%}: {shown}"
                         + (f"; {more} more" if more > 0 else ""))
        severity = suggested_severity(drop)
        if severity is not None:
            level, name, rule = severity
            lines.append(f"Suggested severity: {level} ({name}: {rule}, seed 002)")
            data["suggested_severity"] = level
        data.update(previous=previous, previous_version=previous_version, f1_drop=round(drop, 4),
                    class_drops=class_drops)
        if drop > 0.10:  # the seeds' F1-drop warning line
            suggestion = Suggestion(f"{model} {serving} does worse than {previous_version} on the same golden set: "
                                    "consider a model rollback", "rollback")
    return _Golden(model, serving, float(current["accuracy"]), verdict, tuple(lines), data, suggestion)


async def golden_set(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    """Every model of the service that keeps a golden set; one without says so in its own line."""
    models = [m for m in (subject.text_model, subject.chart_model, subject.fusion_model) if m]
    if not models:
        return StepResult("golden", Verdict.UNAVAILABLE, "golden set: no models configured for this service")
    results: list[_Golden] = []
    missing: list[str] = []
    for model in models:
        try:
            results.append(await _golden_for(model, tools))
        except WorkerRejected as exc:  # NO_GOLDEN_SET: a version from before golden sets
            missing.append(f"{model}: {exc}")
    if not results:
        return StepResult("golden", Verdict.UNAVAILABLE, "golden set: none of the models keeps one",
                          tuple(missing))
    verdict = worst([r.verdict for r in results])
    summary = ", ".join(f"{r.model} {_pct(r.accuracy)}" for r in results)
    severities = sorted(str(r.data["suggested_severity"]) for r in results if r.data.get("suggested_severity"))
    if severities:
        summary += f" (suggest {severities[0]})"
    lines = tuple(line for r in results for line in r.lines) + tuple(missing)
    data = {r.model: r.data for r in results}
    suggestions = tuple(r.suggestion for r in results if r.suggestion is not None)
    return StepResult("golden", verdict, f"golden set: {summary}: {verdict.value}", lines, data, suggestions)


async def drift(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    """Every model of the service with a training baseline, against its recent traffic.

    The headline is the worst model's score; each scored model's ``drift_score`` is published.
    """
    models = list(dict.fromkeys(m for m in (subject.text_model, subject.chart_model, subject.fusion_model) if m))
    if not models:
        return StepResult("drift", Verdict.UNAVAILABLE, "drift: no models configured for this service")
    scored: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for model in models:
        try:
            report = await tools.worker.drift(model, limit=tools.drift_window)
        except WorkerRejected as exc:  # NO_BASELINE: a version from before baselines were kept
            skipped.append(f"{model}: {exc}")
            continue
        if report.get("verdict") == "insufficient_data":
            skipped.append(f"{model}: only {report.get('predictions', 0)} recent predictions, too few to judge")
            continue
        scored[model] = report
    if not scored:
        return StepResult("drift", Verdict.UNAVAILABLE, "drift: no model has enough recent traffic to judge",
                          tuple(skipped), {"skipped": skipped})
    for model, report in scored.items():
        if tools.publisher is not None:
            await tools.publisher.publish(namespace=tools.drift_namespace, name="drift_score",
                                          value=float(report["drift_score"]), dimensions={"Model": model})
    worst_model = max(scored, key=lambda m: float(scored[m]["drift_score"]))
    score = float(scored[worst_model]["drift_score"])
    verdict = drift_verdict(score)
    lines = [
        f"{model}: drift_score {float(report['drift_score']):.3f} over {report.get('predictions')} predictions · "
        f"label PSI {report.get('label_psi', 0):.3f} · confidence PSI {report.get('confidence_psi', 0):.3f} · "
        f"centroid shift {report.get('centroid_shift', 0):.3f}"
        for model, report in scored.items()
    ]
    lines.append("warning above 0.1, critical above 0.25")
    lines.extend(skipped)
    headline = f"drift: {score:.2f} {verdict.value}" + (f" ({worst_model})" if len(scored) > 1 else "")
    return StepResult("drift", verdict, headline, tuple(lines),
                      {**scored[worst_model], "model": worst_model, "models": scored, "skipped": skipped})


async def latency_profile(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    model = subject.text_model
    if model is None:
        return StepResult("latency", Verdict.UNAVAILABLE, "latency: no text model configured for this service")
    rows: dict[int, float] = {}
    for batch in LATENCY_BATCHES:
        timings = []
        for _ in range(LATENCY_REPEATS):
            started = time.perf_counter()
            await tools.worker.predict(model, [{"text": PROBE_TEXT}] * batch)
            timings.append((time.perf_counter() - started) * 1000)
        rows[batch] = statistics.median(timings)
    single = rows[1]
    # The seeds: P95 latency over 600 ms is a warning, over 1 s critical.
    verdict = Verdict.CRITICAL if single > 1000 else Verdict.WARNING if single > 600 else Verdict.OK
    lines = tuple(f"batch {b:>2}: {ms:.0f} ms ({ms / b:.1f} ms per item)" for b, ms in rows.items())
    return StepResult("latency", verdict, f"latency: {single:.0f} ms at batch 1", lines,
                      {"model": model, "median_ms": {str(b): round(ms, 1) for b, ms in rows.items()}})


async def low_confidence(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    model = subject.text_model
    if model is None:
        return StepResult("low_confidence", Verdict.UNAVAILABLE, "low confidence: no text model configured")
    logged = await tools.worker.recent_predictions(model, 500)
    low = sorted((p for p in logged if float(p.get("confidence", 1)) < LOW_CONFIDENCE),
                 key=lambda p: float(p["confidence"]))
    share = len(low) / len(logged) if logged else 0.0
    verdict = Verdict.WARNING if share > 0.2 else Verdict.OK
    lines = tuple(f"{float(p['confidence']):.2f} {p.get('label')} ({p.get('version')})" for p in low[:5])
    return StepResult("low_confidence", verdict,
                      f"low confidence: {len(low)} of {len(logged)} below {LOW_CONFIDENCE}", lines,
                      {"count": len(low), "total": len(logged), "lowest": low[:5]})


async def metric_chart(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    if subject.metric is None or tools.metrics is None:
        return StepResult("chart", Verdict.UNAVAILABLE, "chart: no alarm or metric to chart for this incident")
    start, end = alarm_window(subject.now, subject.alarm_at)
    span = f"last {round((end - start).total_seconds() / 3600)} h"
    series = await tools.metrics.series(subject.metric, start=start, end=end)
    if series.empty:
        return StepResult("chart", Verdict.UNAVAILABLE, f"chart: no data for {subject.metric.label} in the {span}")
    png = render_metric_chart(series.points, ChartSpec(
        title=f"{subject.metric.name} ({subject.metric.stat}, {subject.metric.period}s)",
        unit=unit_of(subject.metric.namespace, subject.metric.name), threshold=subject.threshold,
        comparison=subject.comparison, alarm_at=subject.alarm_at, window=(start, end)))
    findings.chart_png = png
    file_id = await tools.files.upload_file(subject.channel_id, filename=f"incident-{subject.number}-metric.png",
                                            content=png, title=subject.metric.label,
                                            comment=f"📈 {subject.metric.label}, {span}")
    lines = [f"{len(series.points)} points, latest {series.points[-1][1]:.3g}"]
    data: dict[str, Any] = {"metric": subject.metric.label, "points": len(series.points), "file_id": file_id}
    headline = "chart: uploaded"
    if subject.chart_model is not None:
        try:
            reading = await tools.worker.classify_chart(png, model=subject.chart_model)
        except WorkerError as exc:  # the chart itself is still evidence
            lines.append(f"{subject.chart_model} could not read it: {exc}")
            return StepResult("chart", Verdict.OK, headline, tuple(lines), data, file_id=file_id)
        findings.chart_pattern = reading.label
        lines.append(f"{subject.chart_model} reads it as *{reading.label}* ({reading.confidence:.0%})")
        data["pattern"] = {"label": reading.label, "confidence": reading.confidence}
        headline = f"chart: {reading.label} ({reading.confidence:.0%})"
    return StepResult("chart", Verdict.OK, headline, tuple(lines), data, file_id=file_id)


async def triage(subject: Subject, findings: Findings, tools: Tools) -> StepResult:
    if subject.text_model is None:
        return StepResult("triage", Verdict.UNAVAILABLE, "triage: no text model configured for this service")
    text = await tools.worker.classify_text(subject.text, model=subject.text_model)
    lines = [f"{subject.text_model}: runbook *{text.label}* ({text.confidence:.0%})"]
    data: dict[str, Any] = {"runbook": {"label": text.label, "confidence": text.confidence}}
    suggestions: tuple[Suggestion, ...] = ()
    headline = f"triage: {text.label} ({text.confidence:.0%})"
    if subject.fusion_model is not None and findings.chart_png is not None:
        fused = await tools.worker.classify_fusion(subject.text, findings.chart_png, model=subject.fusion_model)
        mechanism = fused.details.get("mechanism") or {}
        label, action = str(mechanism.get("label", "unclear")), str(mechanism.get("first_action", ""))
        lines.append(f"{subject.fusion_model}: mechanism *{label}* ({float(mechanism.get('confidence', 0)):.0%})"
                     + (f", first action: {action}" if action else ""))
        data["mechanism"] = mechanism
        headline = f"triage: {label}" + (f": consider {MECHANISM_ACTIONS[label]}" if label in MECHANISM_ACTIONS else "")
        if label in MECHANISM_ACTIONS:
            pattern = f"{findings.chart_pattern} " if findings.chart_pattern else ""
            suggestions = (Suggestion(f"{pattern}pattern with a {text.label} incident: {action or label}",
                                      MECHANISM_ACTIONS[label]),)
    return StepResult("triage", Verdict.OK, headline, tuple(lines), data, suggestions)


STEPS = (
    ("worker", worker_health),
    ("golden", golden_set),
    ("drift", drift),
    ("latency", latency_profile),
    ("low_confidence", low_confidence),
    ("chart", metric_chart),
    ("triage", triage),
)
