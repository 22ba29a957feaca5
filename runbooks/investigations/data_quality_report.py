"""Data quality's finding: the headline that names the worst feature, the evidence lines, the
timeline data, and the per-feature table as a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.config.durations import format_duration
from bot.config.models import DataQualityConfig
from bot.core.text import escape_mrkdwn, truncate
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Attachment, Finding, InvestigationKind, Scope
from runbooks.investigations.data_quality_rules import (
    CRITICAL_AGE_FACTOR,
    FEATURE_STORE_DOWN_SEVERITY,
    ContextState,
    FeatureState,
    Limits,
    StoreHealth,
)

SHOWN = 4


@dataclass
class Report:
    """What the sources gave, gathered before it is judged and written up."""

    features: list[FeatureState] = field(default_factory=list)
    metrics_problem: str | None = None
    store: StoreHealth | None = None
    context: ContextState | None = None


def finding(scope: Scope, config: DataQualityConfig, report: Report) -> Finding:
    limits = Limits.of(config)
    stale = sorted((f for f in report.features if f.stale), key=lambda f: f.age or timedelta(0), reverse=True)
    nulls = [f for f in report.features if "nulls" in f.problems]
    silent = [f for f in report.features if any(p.startswith("no ") or p == "bad null rate" for p in f.problems)]
    context_stale = report.context is not None and report.context.stale(limits)
    verdicts = [f.verdict for f in report.features]
    if report.store is not None and report.store.down:
        verdicts.append(Verdict.CRITICAL)
    if context_stale:
        verdicts.append(Verdict.WARNING)
    read_something = bool(report.features) or (report.store is not None and report.store.up is not None) or (
        report.context is not None and report.context.context is not None)
    verdict = _worst(verdicts) if read_something else Verdict.UNAVAILABLE

    said = _problem_parts(report, stale, nulls, silent, limits, context_stale) or _ok_parts(report)
    unread = _unread(report)
    headline = "data quality: " + "; ".join([*said, *([f"could not read {', '.join(unread)}"] if unread else [])])
    lines = [*_store_lines(report.store), *_feature_lines(config, report, stale, nulls, silent, limits),
             *_context_lines(report.context, limits)]
    data = _data(scope, config, report, limits, stale, nulls, silent)
    attachment = _attachment(scope, config, report, limits) if report.features else None
    return Finding(kind=InvestigationKind.DATA_QUALITY, verdict=verdict, headline=headline, lines=tuple(lines),
                   data=data, attachment=attachment)


def _worst(verdicts: list[Verdict]) -> Verdict:
    order = (Verdict.CRITICAL, Verdict.WARNING)
    return next((v for v in order if v in verdicts), Verdict.OK)


def _unread(report: Report) -> list[str]:
    unread = []
    if report.metrics_problem is not None:
        unread.append("the feature metrics")
    if report.store is not None and report.store.up is None:
        unread.append("the feature store's health")
    if report.context is not None and report.context.context is None:
        unread.append("/stats")
    return unread


def _problem_parts(report: Report, stale: list[FeatureState], nulls: list[FeatureState],
                   silent: list[FeatureState], limits: Limits, context_stale: bool) -> list[str]:
    parts = []
    if report.store is not None and report.store.down:
        parts.append(f"feature store down ({escape_mrkdwn(truncate(report.store.detail, 80))})")
    if stale:
        worst = stale[0]
        more = f" and {len(stale) - 1} more" if len(stale) > 1 else ""
        parts.append(f"feature {escape_mrkdwn(worst.name)} is {_age(worst.age)} stale "
                     f"(limit {_age(limits.max_age)}){more}")
    if nulls:
        parts.append(f"{_count(len(nulls), 'feature')} over {_percent(limits.max_null_rate)} nulls")
    if silent:
        parts.append(f"{_count(len(silent), 'feature')} without usable data")
    if context_stale and report.context is not None and report.context.context is not None:
        parts.append(f"normalization context {_age(report.context.context.age)} old "
                     f"(limit {_age(limits.max_context_age)})")
    return parts


def _ok_parts(report: Report) -> list[str]:
    parts = []
    if report.features:
        parts.append(f"{_count(len(report.features), 'feature')} within limits")
    if report.store is not None and report.store.up:
        parts.append("feature store up")
    if report.context is not None and report.context.context is not None:
        parts.append(f"normalization context {_age(report.context.context.age)} old")
    return parts


def _store_lines(store: StoreHealth | None) -> list[str]:
    if store is None:
        return []
    where = f"Feature store `{escape_mrkdwn(store.url)}`"
    detail = escape_mrkdwn(truncate(store.detail, 200))
    if store.down:
        return [f"{where}: *down* ({detail}). Seed 002 makes a feature store outage critical: "
                f"raise the incident to {FEATURE_STORE_DOWN_SEVERITY} or above."]
    if store.up:
        return [f"{where}: up ({detail})."]
    return [f"{where}: could not tell ({detail})."]


def _feature_lines(config: DataQualityConfig, report: Report, stale: list[FeatureState],
                   nulls: list[FeatureState], silent: list[FeatureState], limits: Limits) -> list[str]:
    if report.metrics_problem is not None:
        return [escape_mrkdwn(report.metrics_problem) + "."]
    if not report.features:
        return []
    counts = []
    if config.freshness_metric is not None:
        fresh = sum(1 for f in report.features if f.age is not None and not f.stale)
        counts.append(f"{fresh} fresh and {len(stale)} stale (limit {_age(limits.max_age)}, "
                      f"critical past {_age(limits.critical_age)})")
    if config.null_rate_metric is not None:
        counts.append(f"{len(nulls)} over {_percent(limits.max_null_rate)} nulls")
    lines = [f"{_count(len(report.features), 'feature')} in `{escape_mrkdwn(config.namespace or '')}`: "
             + ", ".join(counts) + "."]
    lines.extend(f"*{escape_mrkdwn(f.name)}*: {_age(f.age)} since the last materialization" +
                 (" (critical)" if f.verdict == Verdict.CRITICAL else "") for f in stale[:SHOWN])
    lines.extend(f"*{escape_mrkdwn(f.name)}*: {f.null_rate:.1%} null" for f in nulls[:SHOWN] if f.null_rate is not None)
    if silent:
        names = ", ".join(escape_mrkdwn(f.name) for f in silent[:8])
        lines.append(f"No usable datapoint in the window for {names}" + (" …" if len(silent) > 8 else "") + ".")
    if len(stale) > SHOWN or len(nulls) > SHOWN:
        lines.append("_Every feature is in the file._")
    return lines


def _context_lines(state: ContextState | None, limits: Limits) -> list[str]:
    if state is None:
        return []
    where = f"Normalization context (`{escape_mrkdwn(state.url)}`)"
    if state.context is None:
        return [f"{where} could not be read: {escape_mrkdwn(truncate(state.problem or 'no answer', 200))}."]
    version = f"version {escape_mrkdwn(state.context.version)}, " if state.context.version else ""
    verdict = "older than" if state.stale(limits) else "within"
    return [f"{where}: {version}{_age(state.context.age)} old, {verdict} the {_age(limits.max_context_age)} limit."]


def _data(scope: Scope, config: DataQualityConfig, report: Report, limits: Limits, stale: list[FeatureState],
          nulls: list[FeatureState], silent: list[FeatureState]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "start": scope.start.isoformat(), "end": scope.end.isoformat(),
        "limits": {"max_age_seconds": limits.max_age.total_seconds(), "max_null_rate": limits.max_null_rate,
                   "max_context_age_seconds": limits.max_context_age.total_seconds(),
                   "critical_age_factor": CRITICAL_AGE_FACTOR},
        "features": [{"feature": f.name, "verdict": f.verdict.value, "problems": list(f.problems),
                      "age_seconds": round(f.age.total_seconds()) if f.age is not None else None,
                      "null_rate": f.null_rate} for f in report.features],
        "worst_feature": stale[0].name if stale else None,
        "stale": [f.name for f in stale], "over_null_rate": [f.name for f in nulls],
        "without_data": [f.name for f in silent],
    }
    if config.reads_metrics:
        data["metrics"] = {"namespace": config.namespace, "freshness": config.freshness_metric,
                           "null_rate": config.null_rate_metric, "problem": report.metrics_problem}
    if report.store is not None:
        data["feature_store"] = {"url": report.store.url, "up": report.store.up, "status": report.store.status,
                                 "detail": report.store.detail}
        if report.store.down:
            data["suggested_severity"] = FEATURE_STORE_DOWN_SEVERITY
    if report.context is not None:
        context = report.context.context
        data["normalization_context"] = {
            "url": report.context.url, "problem": report.context.problem,
            "version": context.version if context else None,
            "age_seconds": round(context.age.total_seconds()) if context else None,
            "updated_at": context.updated_at.isoformat() if context and context.updated_at else None,
        }
    return data


def _attachment(scope: Scope, config: DataQualityConfig, report: Report, limits: Limits) -> Attachment:
    width = max(len("feature"), *(len(f.name) for f in report.features))
    out = [f"# incident #{scope.incident_number} {scope.service_name}: data quality, "
           f"{scope.start:%Y-%m-%d %H:%M} to {scope.end:%H:%M} UTC",
           f"# {config.namespace}: freshness {config.freshness_metric or '-'}, null rate "
           f"{config.null_rate_metric or '-'}; limits: age {_age(limits.max_age)} (critical past "
           f"{_age(limits.critical_age)}), null rate {_percent(limits.max_null_rate)}",
           f"{'feature':<{width}}  {'age':>10}  {'null rate':>9}  {'verdict':<8}  problems"]
    for f in sorted(report.features, key=lambda f: (_RANK[f.verdict], f.name)):
        null_rate = f"{f.null_rate:.2%}" if f.null_rate is not None else "-"
        out.append(f"{f.name:<{width}}  {_age(f.age) if f.age is not None else '-':>10}  {null_rate:>9}  "
                   f"{f.verdict.value:<8}  {', '.join(f.problems)}")
    if report.store is not None:
        state = "up" if report.store.up else "DOWN" if report.store.down else "could not tell"
        out.append(f"\n# feature store {report.store.url}: {state} ({report.store.detail})")
    if report.context is not None:
        context = report.context.context
        said = (f"version {context.version or '?'}, {_age(context.age)} old" if context
                else f"unreadable: {report.context.problem}")
        out.append(f"# normalization context {report.context.url}: {said}")
    name = f"data-quality-incident-{scope.incident_number}-{scope.service_name}.txt"
    return Attachment(filename=name, content=("\n".join(out) + "\n").encode())


_RANK = {Verdict.CRITICAL: 0, Verdict.WARNING: 1, Verdict.UNAVAILABLE: 2, Verdict.OK: 3}


def _age(age: timedelta | None) -> str:
    return format_duration(age) if age is not None else "?"


def _percent(share: float) -> str:
    return f"{share:.1%}".replace(".0%", "%")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
