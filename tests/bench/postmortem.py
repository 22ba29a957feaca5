"""`make bench-postmortem`: a postmortem draft for an incident with 2,000 timeline events.

An incident is written through the core into a fresh SQLite file: its declaration, an
acknowledgement, a rollback with its audit entries, a Diagnose run, notes, status updates,
pinned messages, follow-ups and a resolve, with alert deliveries making up the rest of the
2,000 events. Two shapes are measured:

- **storm**: most events are alert deliveries in runs, as in a real alert storm; the table folds them.
- **all notes**: 2,000 notes, none of which fold: the table has a row per event (the worst case).

Each run times `bot.core.postmortem.compose.compose` (read every row it needs, measure, fold, render
the jinja2 Markdown; related incidents off, since that is the worker's time) and, separately,
the HTML export of the result. The baseline, in the same run, reads the same 2,000 timeline
rows with one bare `select` and joins them into a Markdown table with an f-string: the least
any draft must do. Median of `--repeats` runs each; the target is under 1 s for the draft.

    make bench-postmortem
    python -m tests.bench.postmortem --repeats 3 --no-write     # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.config import IncidentBotConfig
from bot.config.severity import Severity
from bot.core import followups, incidents
from bot.core.postmortem import render
from bot.core.postmortem.compose import compose
from bot.core.timeline import EventKind, record_event
from bot.core.unit_of_work import Core
from storage.db import create_engine_for, session_factory
from storage.migrate import upgrade_to_head
from storage.models import Alert, TimelineEvent
from tests.bench.report import ROOT, update_benchmarks

EVENTS = 2000
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
TARGET_SECONDS = 1.0


async def build_incident(core: Core, *, shape: str, events: int) -> int:
    """One incident with ``events`` timeline events; returns its id."""
    async def write(session, now):  # type: ignore[no-untyped-def]
        incident = await incidents.declare(session, title="P95 latency above 1s after the 14:05 deploy",
                                           severity=Severity.P1, declared_by="U0ALICE", now=START,
                                           service="multimodal-api", source="cloudwatch")
        moment = START
        alert = Alert(incident_id=incident.id, source="cloudwatch", dedup_key="arn:p95", title="p95-latency",
                      state="firing", occurrences=events, first_seen_at=START, last_seen_at=START, details={})
        session.add(alert)
        await session.flush()
        await incidents.acknowledge(session, incident_id=incident.id, actor="U0BOB", now=START + timedelta(minutes=3))
        # Seven events are fixed (declared, acknowledged, three checks, a follow-up, resolved).
        for index in range(events - 7):
            moment = START + timedelta(minutes=4, seconds=index)
            if shape == "storm" and index % 100:
                await record_event(session, incident_id=incident.id, kind=EventKind.ALERT, actor="cloudwatch",
                                   now=moment, text=f"multimodal-prod-p95-latency-{index % 3}", announce=False)
            else:
                await record_event(session, incident_id=incident.id, kind=EventKind.NOTE, actor="U0BOB", now=moment,
                                   text=f"checked shard {index}: p95 {900 + index % 400} ms | queue depth {index % 50}",
                                   announce=False)
        for step, verdict in (("golden", "critical"), ("drift", "warning"), ("chart", "ok")):
            await record_event(session, incident_id=incident.id, kind=EventKind.DIAGNOSTIC, actor="U0BOB",
                               now=moment, text=f"{step}: {verdict}", announce=False,
                               data={"step": step, "verdict": verdict, "lines": [f"{step} evidence line"]})
        await followups.add(session, incident_id=incident.id, text="Gate deploys on the golden set", owner="U0CAROL",
                            due_on=None, actor="U0BOB", now=moment)
        await incidents.resolve(session, incident_id=incident.id, actor="U0BOB", now=moment + timedelta(minutes=5),
                                summary="Rolled back to v4")
        return incident.id

    return await core.change(actor="bench", action="bench.setup", incident_id=None, apply=write)


async def baseline(core: Core, incident_id: int) -> str:
    async with core.sessions() as session:
        rows = (await session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                                      .order_by(TimelineEvent.occurred_at, TimelineEvent.id))).all()
    return "\n".join(f"| {r.occurred_at:%H:%M:%S} | {r.kind}: {r.text} | {r.actor} |" for r in rows)


async def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = await fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


async def measure(shape: str, *, events: int, repeats: int, folder: Path) -> dict[str, Any]:
    url = f"sqlite:///{folder / f'{shape}.db'}"
    upgrade_to_head(url)
    engine = create_engine_for(url)
    core = Core(sessions=session_factory(engine), clock=lambda: START + timedelta(hours=2))
    config = IncidentBotConfig.from_mapping({})
    try:
        incident_id = await build_incident(core, shape=shape, events=events)
        env = render.environment()
        await compose(core.sessions, incident_id=incident_id, config=config, embedder=None, now=START)  # warm-up
        draft_s, (markdown, facts) = await timed(
            lambda: compose(core.sessions, incident_id=incident_id, config=config, embedder=None, now=START), repeats)

        async def html() -> str:
            return render.render_html(markdown, title="bench", env=env)

        html_s, page = await timed(html, repeats)
        base_s, _ = await timed(lambda: baseline(core, incident_id), repeats)
    finally:
        await engine.dispose()
    return {"shape": shape, "events": facts.events, "table_rows": len(facts.timeline), "draft_s": draft_s,
            "html_s": html_s, "baseline_s": base_s, "ratio": draft_s / base_s if base_s else None,
            "markdown_kb": len(markdown.encode()) / 1024, "html_kb": len(page.encode()) / 1024,
            "under_target": draft_s < TARGET_SECONDS}


def section(results: list[dict[str, Any]], repeats: int) -> str:
    lines = [
        "## Postmortem draft at 2,000 timeline events (`make bench-postmortem`)",
        "",
        f"`compose()` reads the incident's rows, measures, folds and renders the Markdown; median of {repeats} runs "
        "on a fresh SQLite file. Baseline: one bare `select` of the same timeline rows joined into a Markdown "
        f"table with an f-string. Target: under {TARGET_SECONDS:.0f} s for the draft.",
        "",
        "| shape | events | table rows | draft | HTML export | baseline | draft / baseline | Markdown | under 1 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['shape']} | {r['events']:,} | {r['table_rows']:,} | {r['draft_s'] * 1000:.0f} ms | "
                     f"{r['html_s'] * 1000:.0f} ms | {r['baseline_s'] * 1000:.0f} ms | {r['ratio']:.1f}× | "
                     f"{r['markdown_kb']:.0f} KiB | {'yes' if r['under_target'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", metavar="PATH", default=str(ROOT / "bench-results" / "postmortem.json"))
    parser.add_argument("--no-write", action="store_true",
                        help="print only; leave BENCHMARKS.md and the JSON alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        results = [asyncio.run(measure(shape, events=args.events, repeats=args.repeats, folder=Path(folder)))
                   for shape in ("storm", "all notes")]
    text = section(results, args.repeats)
    print(text)
    if not args.no_write:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
        update_benchmarks("bench-postmortem", text)
    return 0 if all(r["under_target"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
