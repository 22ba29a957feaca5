"""The worker's diagnostics: drift of the served version (golden-set scores: ``inference.scoring``)."""

from __future__ import annotations

from typing import Any

from inference import drift, golden
from inference.errors import NoBaseline
from inference.host import ModelHost
from inference.metrics import WorkerMetrics

DEFAULT_DRIFT_WINDOW = 500


async def drift_report(host: ModelHost, metrics: WorkerMetrics, name: str,
                       limit: int = DEFAULT_DRIFT_WINDOW) -> dict[str, Any]:
    """The served version's recent predictions against its baseline; see ``inference.drift``."""
    version = host.served(name).version
    raw = await host.version_file(name, version, golden.BASELINE_FILE)
    if raw is None:
        raise NoBaseline(f"{name} {version} was published without a drift baseline ({golden.BASELINE_FILE}); "
                         "retrain it to get one")
    try:
        baseline = drift.Baseline.from_json(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NoBaseline(f"{name} {version}: its {golden.BASELINE_FILE} cannot be read: {exc}") from exc
    # Predictions of an earlier version are not comparable with this version's baseline.
    logged = [p for p in host.prediction_log(name, limit) if p.version == version]
    report = drift.compare(baseline, predicted=[p.label for p in logged], confidences=[p.confidence for p in logged],
                           embeddings=[p.embedding for p in logged])
    if report["drift_score"] is not None:
        metrics.drift.labels(model=name).set(report["drift_score"])
    return {"name": name, "version": version, "window": limit, **report}
