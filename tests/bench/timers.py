"""`make bench-timers`: how late escalation timers fire, set against in-memory APScheduler jobs.

The bot keeps its timers as rows (`storage.models.Timer`) and `TimerScheduler` runs
`TimerJob.run` every `TIMER_TICK_INTERVAL` seconds (1 s by default) to fire the ones that fell
due. This bench runs that real scheduler, on the real wall clock, against a freshly migrated
database:

1. Setup: `--timers / 4` incidents are declared through the core (`incidents.declare` in
   `Core.change`, as `/incident declare` does; their PLAN timer is cancelled in the same
   transaction, since the bench schedules their timers itself), then `--timers` ESCALATE timers
   (levels 0 to 3 of the default policy) are scheduled with `timers.schedule`. Their due times
   are spread at random (seeded) over `--spread` seconds starting `--lead` seconds after the
   scheduler starts, so a 1,000-timer run makes 1,000 timers fall due within one minute. Each
   incident's levels fall due in order, so every timer pages its level once.
2. `TimerScheduler(TimerJob(...), interval=--interval)` is started inside a running asyncio loop
   and the bench waits until every one of the timers has state `fired`.
3. Firing delay, per timer: `fired_at - due_at`, both read back from the row (`fired_at` is the
   clock reading the firing pass takes before it claims its rows). Also reported: the delay to
   the pass's commit (when the page is durably queued), and the firing passes' throughput
   (timers fired / seconds spent in passes that fired something). Every firing writes an
   `escalated` timeline event; a timer fired twice would write two for the same incident and
   level, so those are counted (must be 0), as are pages missing.

Baseline, in the same run and never at the same time: the same due times as `date` jobs on an
in-memory `AsyncIOScheduler` (no database, no durability), each recording `time.time()` minus
its due time. The bot polls once per interval, so its delay is about interval/2 on average
(p50 ~ interval/2, p95 ~ 0.95 x interval) plus the pass's own time; the baseline wakes at each
due time, so the ratio is large by design and says what the 1 s poll costs.

By default it runs on a fresh SQLite file in a temporary folder and, when it answers, on a
scratch PostgreSQL database created (and dropped) next to `postgresql://postgres@127.0.0.1:5432/test`
(or `BENCH_DATABASE_URL` / `TEST_DATABASE_URL`); the named database itself is never touched.

    make bench-timers
    python -m tests.bench.timers --timers 200 --spread 10 --no-write        # smoke run
    python -m tests.bench.timers --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from bot.config import IncidentBotConfig
from bot.config.settings import Settings
from bot.config.severity import Severity
from bot.core import incidents, timers
from bot.core.clock import utc_now
from bot.core.escalation import EscalationPolicy
from bot.core.timeline import EventKind
from bot.core.timers import TimerKind, TimerState
from bot.core.unit_of_work import Core
from handlers.jobs.fire_timers import PassResult, TimerJob
from handlers.jobs.scheduler import TimerScheduler
from storage.db import create_engine_for, parse_database_url, session_factory
from storage.migrate import upgrade_to_head
from storage.models import TimelineEvent, Timer
from tests.bench.inference import percentile
from tests.bench.report import publish
from tests.databases import PostgresDatabases, migrated_sqlite_url

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_INTERVAL = float(Settings.model_fields["timer_tick_interval"].default)
SEED = 20261123
# The default policy's four levels; the bench's timers page levels 0 to 3 of each incident.
CONFIG = IncidentBotConfig.from_mapping({
    "escalation": {
        "default": [
            {"after": "0m", "notify": {"users": ["U0ONCALL1"]}},
            {"after": "30m", "notify": {"users": ["U0MLLEAD1"]}, "routing_key": "LEADKEY"},
            {"after": "1h", "notify": {"users": ["U0ENGMGR1"]}},
            {"after": "2h", "notify": {"users": ["U0VPENG01"]}},
        ],
    },
})
LEVELS = len(CONFIG.escalation_levels(None, Severity.P1))
PLACEHOLDER_DUE = timedelta(days=1)  # scheduled far ahead, then moved to the real due times at start


# --- results ---------------------------------------------------------------------------------


@dataclass
class Delays:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


def delays_of(seconds: Sequence[float]) -> Delays:
    ordered = sorted(seconds)
    if not ordered:
        return Delays(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    return Delays(count=len(ordered), p50_ms=_ms(percentile(ordered, 0.50)), p95_ms=_ms(percentile(ordered, 0.95)),
                  p99_ms=_ms(percentile(ordered, 0.99)), max_ms=_ms(ordered[-1]),
                  mean_ms=_ms(sum(ordered) / len(ordered)))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass
class Pass:
    started_at: datetime  # taken just before the pass reads its clock: fired_at >= started_at
    ended_at: datetime  # after its transaction committed
    seconds: float
    fired: int
    failed: int
    due: int


class TimedTimerJob(TimerJob):
    """The real job, with each firing pass timed; what a pass does is unchanged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.passes: list[Pass] = []
        self.busy = False

    async def run(self) -> int:
        self.busy = True
        try:
            return await super().run()
        finally:
            self.busy = False

    async def _one_pass(self) -> PassResult:
        started_at, started = utc_now(), time.perf_counter()
        result = await super()._one_pass()
        self.passes.append(Pass(started_at=started_at, ended_at=utc_now(), seconds=time.perf_counter() - started,
                                fired=result.fired, failed=result.failed, due=result.due))
        return result


# --- the due times -----------------------------------------------------------------------------


def due_offsets(count: int, spread: float) -> list[float]:
    """Seconds after the first possible due time, sorted: `count` times at random over `spread` s."""
    rng = random.Random(SEED)
    return sorted(rng.uniform(0, spread) for _ in range(count))


def incident_count(count: int) -> int:
    return math.ceil(count / LEVELS)


# --- the bot -----------------------------------------------------------------------------------


async def declare_incidents(core: Core, count: int) -> list[int]:
    ids: list[int] = []
    for number in range(count):
        async def apply(session: Any, now: datetime, number: int = number) -> Any:
            incident = await incidents.declare(session, title=f"bench timers {number}: p95 latency high",
                                               severity=Severity.P1, declared_by="U0BENCH", now=now)
            # The bench schedules this incident's timers itself: its plan would page level 0 at once.
            await timers.cancel(session, incident_id=incident.id, kinds=[TimerKind.PLAN])
            return incident

        incident = await core.change(actor="U0BENCH", action="incident.declare", incident_id=None, apply=apply)
        ids.append(incident.id)
    return ids


async def schedule_timers(core: Core, incident_ids: list[int], count: int) -> list[tuple[int, int, int]]:
    """(timer id, incident id, level) per timer, in due order; due far ahead until the start."""
    placed: list[tuple[int, int, int]] = []
    now = utc_now()
    async with core.sessions() as session, session.begin():
        for index in range(count):
            # Timer `index` falls due `index`-th, so each incident's levels fall due in order.
            incident_id, level = incident_ids[index % len(incident_ids)], index // len(incident_ids)
            timer = await timers.schedule(session, incident_id=incident_id, kind=TimerKind.ESCALATE,
                                          due_at=now + PLACEHOLDER_DUE, now=now, payload={"level": level})
            placed.append((timer.id, incident_id, level))
    return placed


async def measure_bot(database_url: str, *, count: int, spread: float, interval: float, lead: float) -> dict[str, Any]:
    engine = create_engine_for(database_url)
    try:
        core = Core(sessions=session_factory(engine), clock=utc_now)
        setup_started = time.perf_counter()
        incident_ids = await declare_incidents(core, incident_count(count))
        placed = await schedule_timers(core, incident_ids, count)
        setup_seconds = time.perf_counter() - setup_started
        replica = f"bench-timers-{uuid.uuid4().hex[:8]}"
        job = TimedTimerJob(core=core, policy=EscalationPolicy(CONFIG), fired_by=replica)
        scheduler = TimerScheduler(job, interval=interval)
        offsets = due_offsets(count, spread)
        base = utc_now() + timedelta(seconds=lead)
        async with core.sessions() as session, session.begin():
            await session.execute(update(Timer), [{"id": timer_id, "due_at": base + timedelta(seconds=offset)}
                                                  for (timer_id, _, _), offset in zip(placed, offsets, strict=True)])
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        scheduler.start()
        try:
            fired = await _wait_all_fired(core, replica, count, deadline=started + lead + spread + max(60.0, spread))
        finally:
            await _stop_between_ticks(scheduler, job)
        wall = time.perf_counter() - started
        return await _read_back(core, job, placed, replica, fired=fired, wall=wall, setup_seconds=setup_seconds,
                                load_before=load_before, database_url=database_url)
    finally:
        await engine.dispose()


async def _stop_between_ticks(scheduler: TimerScheduler, job: TimedTimerJob) -> None:
    # APScheduler's AsyncIOExecutor.shutdown cancels a tick in progress (its pass rolls back and
    # logs a CancelledError), so stop when no tick is running: nothing awaits between the check
    # and the shutdown inside stop(), so no tick can start in between.
    deadline = time.perf_counter() + 10
    while job.busy and time.perf_counter() < deadline:  # noqa: ASYNC110  polls the job's flag; it has no event
        await asyncio.sleep(0.005)
    await scheduler.stop()


async def _wait_all_fired(core: Core, replica: str, count: int, *, deadline: float) -> int:
    """Until every timer has state fired (read from the database), or the deadline."""
    fired = 0
    while time.perf_counter() < deadline:
        async with core.sessions() as session:
            fired = int(await session.scalar(select(func.count()).select_from(Timer).where(
                Timer.fired_by == replica, Timer.state == TimerState.FIRED.value)) or 0)
        if fired >= count:
            break
        await asyncio.sleep(0.25)
    return fired


async def _read_back(core: Core, job: TimedTimerJob, placed: list[tuple[int, int, int]], replica: str, *,
                     fired: int, wall: float, setup_seconds: float, load_before: float,
                     database_url: str) -> dict[str, Any]:
    ids = {timer_id for timer_id, _, _ in placed}
    incident_ids = sorted({incident_id for _, incident_id, _ in placed})
    async with core.sessions() as session:
        rows = [row for row in (await session.execute(
            select(Timer.id, Timer.state, Timer.due_at, Timer.fired_at, Timer.fired_by)
            .where(Timer.incident_id.in_(incident_ids)))).all() if row.id in ids]
        events = (await session.execute(
            select(TimelineEvent.incident_id, TimelineEvent.data)
            .where(TimelineEvent.incident_id.in_(incident_ids), TimelineEvent.kind == EventKind.ESCALATED.value))).all()
    states = Counter(row.state for row in rows)
    fired_rows = [row for row in rows if row.state == TimerState.FIRED.value and row.fired_at is not None]
    delays = [(row.fired_at - row.due_at).total_seconds() for row in fired_rows]
    # The commit that made each firing durable: the end of the pass whose clock reading is fired_at.
    passes = sorted(job.passes, key=lambda p: p.started_at)
    committed = []
    for row in fired_rows:
        owner = next((p for p in reversed(passes) if p.started_at <= row.fired_at), None)
        if owner is not None:
            committed.append((owner.ended_at - row.due_at).total_seconds())
    pages = Counter((incident_id, int(data["level"])) for incident_id, data in events)
    expected = {(incident_id, level) for _, incident_id, level in placed}
    firing = [p for p in passes if p.fired]
    busy = sum(p.seconds for p in firing)
    ordered_pass_ms = sorted(p.seconds for p in firing)
    return {
        "database": parse_database_url(database_url).get_backend_name(),
        "timers": len(placed), "incidents": len(incident_ids), "setup_seconds": round(setup_seconds, 2),
        "load_average_before": round(load_before, 2), "wall_seconds": round(wall, 2),
        "states": dict(states), "all_fired": fired >= len(placed) and states.get(TimerState.FIRED.value) == len(placed),
        "fired_by_others": sum(1 for row in fired_rows if row.fired_by != replica),
        "delay": asdict(delays_of(delays)), "commit_delay": asdict(delays_of(committed)),
        "fired_more_than_once": sum(n - 1 for n in pages.values() if n > 1),
        "pages_missing": len(expected - set(pages)), "pages_unexpected": len(set(pages) - expected),
        "passes": {
            "all": len(passes), "firing": len(firing), "failed_firings": sum(p.failed for p in passes),
            "max_fired_in_one": max((p.fired for p in firing), default=0),
            "p50_ms": _ms(percentile(ordered_pass_ms, 0.5)) if firing else math.nan,
            "max_ms": _ms(ordered_pass_ms[-1]) if firing else math.nan,
            "busy_seconds": round(busy, 3),
            "throughput_per_s": round(sum(p.fired for p in firing) / busy, 1) if busy else math.nan,
        },
    }


# --- the baseline ------------------------------------------------------------------------------


async def measure_baseline(*, count: int, spread: float, lead: float) -> dict[str, Any]:
    """The same due times as in-memory `date` jobs on an AsyncIOScheduler: no database at all."""
    delays: list[float] = []
    done = asyncio.Event()

    async def fire(due: float) -> None:
        delays.append(time.time() - due)
        if len(delays) >= count:
            done.set()

    scheduler = AsyncIOScheduler(timezone="UTC")
    base = time.time() + lead
    for offset in due_offsets(count, spread):
        due = base + offset
        scheduler.add_job(fire, "date", run_date=datetime.fromtimestamp(due, UTC), args=[due], misfire_grace_time=None)
    load_before = os.getloadavg()[0]
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=lead + spread + max(60.0, spread))
    except TimeoutError:
        pass
    finally:
        scheduler.shutdown(wait=False)
    return {"name": "in-memory APScheduler date jobs", "load_average_before": round(load_before, 2),
            "all_fired": len(delays) >= count, "delay": asdict(delays_of(delays))}


# --- databases ---------------------------------------------------------------------------------


def postgres_reachable(url: str) -> bool:
    try:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, connect_timeout=3):
            return True
    except (psycopg.Error, ValueError):
        return False


def run_on(url: str, *, count: int, spread: float, interval: float, lead: float) -> dict[str, Any]:
    """On a fresh SQLite file (`sqlite` or a sqlite:// URL's folder is not reused) or a scratch
    PostgreSQL database created next to the one `url` names, dropped afterwards."""
    measure = dict(count=count, spread=spread, interval=interval, lead=lead)
    if url == "sqlite" or parse_database_url(url).get_backend_name() == "sqlite":
        if url != "sqlite":  # a named file: migrate it and use it as it is
            upgrade_to_head(url)
            return asyncio.run(measure_bot(url, **measure))
        with tempfile.TemporaryDirectory(prefix="bench-timers-") as folder:
            return asyncio.run(measure_bot(migrated_sqlite_url(Path(folder)), **measure))
    databases = PostgresDatabases(url)
    try:
        databases.prepare_template()
        return asyncio.run(measure_bot(databases.create(), **measure))
    finally:
        databases.drop_all()


def pick_databases(given: list[str] | None) -> tuple[list[str], list[str]]:
    """(URLs to run on, notes on what was left out)."""
    if given:
        return given, []
    postgres = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES
    if postgres_reachable(postgres):
        return ["sqlite", postgres], []
    return ["sqlite"], [f"PostgreSQL at {make_url(postgres).render_as_string(hide_password=True)} did not answer; "
                        "SQLite only"]


# --- report ------------------------------------------------------------------------------------


def ratio(ours: float, baseline: float) -> float | None:
    return round(ours / baseline, 1) if baseline and not math.isnan(baseline) and not math.isnan(ours) else None


def explanation(result: dict[str, Any]) -> str:
    loads = [result["baseline"]["load_average_before"], *(run["load_average_before"] for run in result["runs"])]
    shared = (" Other work shared the CPU during this run (load above the core count)."
              if result["cores"] and max(loads) > result["cores"] else "")
    return (
        f"{result['timers']} ESCALATE timers (levels 0-3 of {math.ceil(result['timers'] / LEVELS)} incidents "
        "declared through the core) fall due at random over the spread; the real `TimerScheduler` fires them "
        "on the wall clock with `TimerJob` (batches of 100, `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL). "
        "Delay is `fired_at - due_at` from each timer row (`fired_at` is the firing pass's clock, read before "
        "it claims); *commit* is the delay to the end of that pass's transaction, when the page is durably "
        "queued. The baseline, measured in the same run but not at the same time, is the same due times as "
        "in-memory APScheduler `date` jobs on an `AsyncIOScheduler`: no database, no durability. The bot "
        "polls once per interval, so a delay of about interval/2 on average (p95 near the interval) is "
        "expected by design; the ratio says what polling plus the database costs, not a fault. A tick "
        "repeats its pass while the last one fired something, so timers that fall due during a pass fire "
        "in the next pass rather than at the next tick, which pulls p50 below interval/2. "
        f"Machine: {result['cores']} CPU cores; `load` is the 1-minute load average just before each "
        f"measurement.{shared}"
    )


def markdown(result: dict[str, Any]) -> str:
    base, runs = result["baseline"], result["runs"]
    b = base["delay"]
    lines = [
        f"## Escalation timer firing delay (`make bench-timers`, {result['timers']} timers due within "
        f"{result['spread_s']:g} s, tick interval {result['interval_s']:g} s, {result['cores']} cores)",
        "",
        textwrap.fill(explanation(result), width=100, break_on_hyphens=False),
        "",
        "| | p50 | p95 | p99 | max | commit p50 | commit p95 | fired twice | load |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| baseline: in-memory APScheduler `date` jobs | {b['p50_ms']} ms | {b['p95_ms']} ms | {b['p99_ms']} ms | "
        f"{b['max_ms']} ms | | | | {base['load_average_before']} |",
    ]
    for run in runs:
        d, c = run["delay"], run["commit_delay"]
        lines.append(f"| incident-bot, {run['database']} | {d['p50_ms']} ms | {d['p95_ms']} ms | {d['p99_ms']} ms | "
                     f"{d['max_ms']} ms | {c['p50_ms']} ms | {c['p95_ms']} ms | {run['fired_more_than_once']} | "
                     f"{run['load_average_before']} |")
    lines += [
        "",
        "| database | p50 ratio (bot / baseline) | p95 ratio | firing passes | most fired in a pass | pass p50 | "
        "pass max | throughput while firing | all fired | pages missing |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        p = run["passes"]
        lines.append(f"| {run['database']} | {run['ratios']['p50']}x | {run['ratios']['p95']}x | {p['firing']} | "
                     f"{p['max_fired_in_one']} | {p['p50_ms']} ms | {p['max_ms']} ms | {p['throughput_per_s']}/s | "
                     f"{'yes' if run['all_fired'] else 'NO'} | {run['pages_missing']} |")
    for note in result.get("notes", []):
        lines += ["", f"Note: {note}."]
    lines.append("")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=1000, help="timers that fall due (default 1000)")
    parser.add_argument("--spread", type=float, default=60.0, help="seconds their due times spread over (default 60)")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL,
                        help=f"the scheduler's tick, TIMER_TICK_INTERVAL (default {DEFAULT_INTERVAL:g} s)")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from the start to the first due time")
    parser.add_argument("--database-url", action="append", metavar="URL",
                        help="run on this database only (repeatable; `sqlite` = a fresh temporary file); "
                             "default: a fresh SQLite file and, when it answers, a scratch PostgreSQL database "
                             f"next to {DEFAULT_POSTGRES}")
    parser.add_argument("--json", default=str(ROOT / "bench-results" / "timers.json"), metavar="PATH")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    if args.timers < 1 or args.spread < 0 or args.interval <= 0 or args.lead < 0:
        parser.error("--timers must be positive, --interval above 0, --spread and --lead not negative")
    logging.basicConfig(level=logging.WARNING)
    urls, notes = pick_databases(args.database_url)
    print(f"baseline: {args.timers} in-memory date jobs over {args.spread:g} s ...", flush=True)
    baseline = asyncio.run(measure_baseline(count=args.timers, spread=args.spread, lead=args.lead))
    runs = []
    for url in urls:
        print(f"incident-bot on {url if url == 'sqlite' else make_url(url).get_backend_name()}: "
              f"{args.timers} timers over {args.spread:g} s, tick {args.interval:g} s ...", flush=True)
        run = run_on(url, count=args.timers, spread=args.spread, interval=args.interval, lead=args.lead)
        run["ratios"] = {"p50": ratio(run["delay"]["p50_ms"], baseline["delay"]["p50_ms"]),
                         "p95": ratio(run["delay"]["p95_ms"], baseline["delay"]["p95_ms"])}
        runs.append(run)
    result = {"timers": args.timers, "spread_s": args.spread, "interval_s": args.interval, "lead_s": args.lead,
              "cores": os.cpu_count(), "baseline": baseline, "runs": runs, "notes": notes}
    publish("timers", result, markdown(result), json_path=args.json, markdown=not args.no_write)
    ok = baseline["all_fired"] and all(r["all_fired"] and not r["fired_more_than_once"] and not r["pages_missing"]
                                       for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
