"""`make bench-footprint`: peak memory of the bot and the model worker, against bare processes.

The seeds' limit is 2 GB per process. Figures are each process's resident-set high-water mark
(`VmHWM` in /proc/<pid>/status, which the kernel keeps, so no sample is missed), read at the end
of its load, with processes started by this run on this machine:

* the bot (`incident-bot serve`, SQLite, local Slack server) through a signed PagerDuty + SNS
  storm from 32 clients, as in `make bench-ingest`; baseline: the bare FastAPI parse-only app
  from `make bench-ingest` under uvicorn, through the same storm. Twice: from this checkout in
  the development venv (which has the worker extra, torch included, installed), and installed
  alone (`deploy/install.sh <venv> bot`, as the bot's image installs it) in a fresh venv that
  has no torch, with that venv's own bare FastAPI baseline; the bot's aim is under 150 MB;
* `incident-bot --help` wall time (median of `--runs`, after one warm-up) against a bare
  `python -c "import fastapi"` and a bare `python -c pass` in the same venv, in both venvs;
* the model worker (`incident-bot worker`) serving predictions of every model in the registry
  (8 clients, `--seconds` per model); baseline: a bare `python -c "import torch"` process that
  runs one small matmul with the same TORCH_THREADS.

Registry: ./var/models when `make models` trained it; otherwise the quick models the tests train
(the section says which). Exits 1 if a delivery or a prediction failed.

    make bench-footprint
    python -m tests.bench.footprint --deliveries 1000 --seconds 5
    python -m tests.bench.footprint --bot-venv /tmp/bot-venv   # makes it once, reuses it after
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Self

import httpx

from tests.bench.inference import build_pool, start_worker, stop_worker, wait_ready
from tests.bench.ingest import (
    BASELINE_APP,
    build_storm,
    free_port,
    send_storm,
    start,
    wait_http,
)
from tests.bench.report import publish
from tests.bench.stack import (
    ROOT,
    Stack,
    children,
    load_average,
    mib,
    proc_status,
    ratio,
    registry,
)
from tests.test_bot_alone import heavy_mappings

LIMIT_BYTES = 2 * 10**9
AIM_BYTES = 150 * 10**6  # the bot's serve, installed alone
WORKER_PACKAGES = ("torch", "numpy", "transformers", "safetensors")  # none may be in the bot's venv
KINDS = {"incident-text": "text", "chart-vit": "image", "fusion": "fusion"}
TORCH_BASELINE = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
(torch.randn(256, 256) @ torch.randn(256, 256)).sum().item()
print("ready", flush=True)
time.sleep(600)
"""


def _peak(pid: int) -> dict[str, Any]:
    own = proc_status(pid)
    kids = [proc_status(child).get("VmHWM", 0) for child in children(pid)]
    return {"hwm_mib": mib(own.get("VmHWM")), "rss_mib": mib(own.get("VmRSS")), "children": len(kids),
            "hwm_bytes": own.get("VmHWM", 0), "rss_bytes": own.get("VmRSS", 0),
            "children_hwm_mib": mib(sum(kids)) if kids else None,
            "under_limit": own.get("VmHWM", 0) + sum(kids) < LIMIT_BYTES}


def measure_bare_fastapi(python: str, storm: list[Any], work: Path) -> dict[str, Any]:
    """The bare FastAPI parse-only app under `python`'s uvicorn: idle, then through `storm`."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "baseline.py").write_text(BASELINE_APP)
    port = free_port()
    baseline = subprocess.Popen([python, "-m", "uvicorn", "--app-dir", str(work), "baseline:app", "--port", str(port),
                                 "--log-level", "warning"], env=_venv_env(), cwd=work,
                                stdout=(work / "baseline.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/docs")
        idle = _peak(baseline.pid)
        stormed = asyncio.run(send_storm("bare FastAPI", f"http://127.0.0.1:{port}", storm))
        peak = _peak(baseline.pid)
    finally:
        baseline.terminate()
        baseline.wait(10)
    return {"idle": idle, "peak": peak, "storm": asdict(stormed)}


def measure_bot(deliveries: int, work: Path) -> dict[str, Any]:
    """The bot from this checkout, in the development venv (the worker extra installed)."""
    storm = build_storm(deliveries)
    baseline = measure_bare_fastapi(sys.executable, storm, work / "dev-baseline")
    with Stack(work, f"sqlite:///{work}/bot.db") as stack:
        idle_bot = _peak(stack.bot.pid)
        bot_storm = asyncio.run(send_storm("incident-bot", stack.bot_url, storm))
        time.sleep(2)  # the outbox keeps posting after the storm's last ack
        bot_peak = _peak(stack.bot.pid)
        heavy = heavy_mappings(stack.bot.pid)
    return {"deliveries": deliveries, "baseline": baseline,
            "bot": {"idle": idle_bot, "peak": bot_peak, "storm": asdict(bot_storm), "heavy_mapped": heavy},
            "ratio": ratio(bot_peak["hwm_mib"], baseline["peak"]["hwm_mib"])}


def _venv_env() -> dict[str, str]:
    """This environment without PYTHONPATH, so a venv's python imports only what it has installed."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def bot_alone_venv(path: Path, *, reuse: bool) -> dict[str, Any]:
    """A venv with the bot installed alone (no extra): made with `deploy/install.sh <venv> bot` as the
    bot's image makes it (or `python -m venv` + `pip install .` where that script is missing)."""
    made = time.perf_counter()
    if reuse and (path / "bin" / "incident-bot").exists():
        how = "an existing one, reused (`--bot-venv`)"
    else:
        if (ROOT / "deploy" / "install.sh").exists():
            how = "made fresh with `deploy/install.sh <venv> bot`, as the bot's image installs it"
            subprocess.run(["bash", str(ROOT / "deploy" / "install.sh"), str(path), "bot"], cwd=ROOT, check=True)
        else:
            how = "made fresh with `python -m venv` + `pip install .` (no deploy/install.sh here)"
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
            subprocess.run([str(path / "bin" / "pip"), "install", "--quiet", str(ROOT)], cwd=ROOT, check=True)
    seconds = round(time.perf_counter() - made, 1)
    probe = f"import importlib.util as u; print(', '.join(m for m in {WORKER_PACKAGES!r} if u.find_spec(m)))"
    installed = subprocess.run([str(path / "bin" / "python"), "-c", probe], env=_venv_env(), cwd=path,
                               capture_output=True, text=True, check=True).stdout.strip()
    return {"path": str(path), "how": how, "seconds": seconds, "worker_packages_installed": installed}


class BotAloneStack(Stack):
    """The local Slack server from this checkout, and `incident-bot serve` from a bot-only venv's own
    console script, run outside the checkout so that nothing is imported from it."""

    def __init__(self, work: Path, database_url: str, venv: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        super().__init__(work, database_url)
        self.venv = venv

    def __enter__(self) -> Self:
        self.slack = start([sys.executable, "-m", "sandbox.slack_api", "--port", str(self.slack_port)], {},
                           self.work / "slack.log")
        self.processes.append(self.slack)
        wait_http(f"{self.slack_root}_local/calls")
        self.bot = subprocess.Popen([str(self.venv / "bin" / "incident-bot"), "serve", "--port", str(self.bot_port)],
                                    env={**_venv_env(), **self.env}, cwd=self.work,
                                    stdout=(self.work / "bot.log").open("wb"), stderr=subprocess.STDOUT)
        self.processes.append(self.bot)
        wait_http(f"{self.bot_url}/readyz")
        return self


def measure_bot_alone(deliveries: int, work: Path, venv: Path) -> dict[str, Any]:
    """The bot installed alone: its serve idle and through the storm, against the bare FastAPI app
    under the same venv's uvicorn (no uvloop or httptools there, as in the bot's image)."""
    storm = build_storm(deliveries)
    baseline = measure_bare_fastapi(str(venv / "bin" / "python"), storm, work / "alone-baseline")
    with BotAloneStack(work / "alone", f"sqlite:///{work}/alone.db", venv) as stack:
        idle_bot = _peak(stack.bot.pid)
        heavy_idle = heavy_mappings(stack.bot.pid)
        bot_storm = asyncio.run(send_storm("incident-bot (alone)", stack.bot_url, storm))
        time.sleep(2)  # the outbox keeps posting after the storm's last ack
        bot_peak = _peak(stack.bot.pid)
        heavy = sorted({*heavy_idle, *heavy_mappings(stack.bot.pid)})
    return {"deliveries": deliveries, "baseline": baseline,
            "bot": {"idle": idle_bot, "peak": bot_peak, "storm": asdict(bot_storm), "heavy_mapped": heavy},
            "ratio": ratio(bot_peak["hwm_mib"], baseline["peak"]["hwm_mib"]),
            "aim_bytes": AIM_BYTES, "idle_rss_under_aim": idle_bot["rss_bytes"] < AIM_BYTES,
            "peak_under_aim": bot_peak["hwm_bytes"] < AIM_BYTES}


def measure_startup(commands: dict[str, list[str]], runs: int, cwd: Path) -> dict[str, Any]:
    """Median wall time of each command (ms) over `runs` runs, after one warm-up run of each (which
    writes any missing .pyc and fills the page cache); the runs interleave, so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for lap in range(runs + 1):
        for name, args in commands.items():
            started = time.perf_counter()
            subprocess.run(args, env=_venv_env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
            if lap:
                times[name].append(time.perf_counter() - started)
    return {"runs": runs, **{f"{name}_ms": round(statistics.median(t) * 1000, 1) for name, t in times.items()}}


def startup_figures(venv_python: Path, help_command: list[str], runs: int, cwd: Path) -> dict[str, Any]:
    figures = measure_startup({"help": help_command, "import_fastapi": [str(venv_python), "-c", "import fastapi"],
                               "python": [str(venv_python), "-c", "pass"]}, runs, cwd)
    figures["ratio_help_to_fastapi"] = ratio(figures["help_ms"], figures["import_fastapi_ms"])
    return figures


async def _predict(base_url: str, name: str, bodies: list[bytes], seconds: float, clients: int = 8) -> dict[str, int]:
    counts = {"ok": 0, "failed": 0}
    cycle = itertools.cycle(bodies)
    deadline = time.monotonic() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            while time.monotonic() < deadline:
                try:
                    answer = await http.post(f"/v1/models/{name}:predict", content=next(cycle),
                                             headers={"Content-Type": "application/json"})
                    counts["ok" if answer.status_code == 200 else "failed"] += 1
                except httpx.HTTPError:
                    counts["failed"] += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return counts


def measure_worker(registry_path: str, seconds: float, work: Path) -> dict[str, Any]:
    threads = int(os.environ.get("TORCH_THREADS", "2"))
    models = [name for name in KINDS if (Path(registry_path) / name).is_dir()]
    pools = {name: build_pool(KINDS[name]).bodies for name in models}
    bare = subprocess.Popen([sys.executable, "-c", TORCH_BASELINE, str(threads)], stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert bare.stdout is not None
        bare.stdout.readline()
        torch_peak = _peak(bare.pid)
    finally:
        bare.terminate()
        bare.wait(10)
    port = free_port()
    worker, log = start_worker(registry_path, port, work, torch_threads=threads)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(worker, url, log, timeout=300)
        idle = _peak(worker.pid)
        served = {name: asyncio.run(_predict(url, name, pools[name], seconds)) for name in models}
        peak = _peak(worker.pid)
    finally:
        stop_worker(worker)
    return {"models": models, "torch_threads": threads, "seconds_per_model": seconds, "predictions": served,
            "baseline": {"peak": torch_peak}, "worker": {"idle": idle, "peak": peak},
            "ratio": ratio(peak["hwm_mib"], torch_peak["hwm_mib"])}


def megabytes(value: int) -> float:
    return round(value / 10**6, 1)


def markdown(result: dict[str, Any]) -> str:
    bot, alone, worker = result["bot"], result["bot_alone"], result["worker"]
    venv, startup = result["bot_venv"], result["startup"]
    models = ("the full models from `./var/models`" if result["registry_kind"] == "full" else
              "the **quick** models the tests train (`incident-bot models train --quick`), as `./var/models` "
              "held no trained models; the full models may differ")
    served = ", ".join(f"{n} {c['ok']}" for n, c in worker["predictions"].items())

    def row(name: str, figures: dict[str, Any]) -> str:
        kids = f" (+{figures['children_hwm_mib']} MiB in {figures['children']} children)" if figures["children"] else ""
        return (f"| {name} | {figures['hwm_mib']} MiB{kids} | {figures['rss_mib']} MiB | "
                f"{'yes' if figures['under_limit'] else '**no**'} |")

    def mapped(figures: dict[str, Any]) -> str:
        return "none" if not figures["heavy_mapped"] else f"**{len(figures['heavy_mapped'])} files**"

    def startup_row(name: str, figures: dict[str, Any]) -> str:
        return (f"| {name} | {figures['help_ms']} ms | {figures['import_fastapi_ms']} ms | "
                f"{figures['ratio_help_to_fastapi']}x | {figures['python_ms']} ms |")

    aim_mib = mib(alone["aim_bytes"])
    alone_idle, alone_peak = alone["bot"]["idle"], alone["bot"]["peak"]
    return "\n".join([
        "## Memory footprint (`make bench-footprint`)",
        "",
        ("Peak resident set (`VmHWM`, the kernel's high-water mark) and current resident set (`VmRSS`) of each "
        "process, read at the end of its load; the seeds' limit is 2 GB per process. Each bot and its bare "
        f"FastAPI app take the same {bot['deliveries']}-delivery signed storm from 32 clients; the worker serves "
        f"every model for {worker['seconds_per_model']} s from 8 clients ({served} predictions) with {models}; its "
        f"baseline is a bare python that imports torch and runs one matmul (TORCH_THREADS={worker['torch_threads']})."),
        f"Machine: {result['machine']}.",
        "",
        "### The bot installed alone (`pip install .`, no extra)",
        "",
        (f"The venv: {venv['how']} ({venv['seconds']} s; worker packages installed there: "
        f"{venv['worker_packages_installed'] or 'none'}); `incident-bot serve` runs from that venv's console script, "
        "outside the checkout, and its baseline is the bare FastAPI app under the same venv's uvicorn. "
        f"The aim: serve under 150 MB ({aim_mib} MiB) resident."),
        "",
        "| process | peak RSS (VmHWM) | RSS (VmRSS) | under 2 GB |",
        "|---|---|---|---|",
        row("bare FastAPI, idle", alone["baseline"]["idle"]),
        row("bare FastAPI, after the storm (baseline)", alone["baseline"]["peak"]),
        row("incident-bot serve, idle", alone_idle),
        row("**incident-bot serve, after the storm**", alone_peak),
        f"| ratio bot / bare FastAPI (peak) | {alone['ratio']}x | | |",
        "",
        (f"Under 150 MB: idle {alone_idle['rss_mib']} MiB ({megabytes(alone_idle['rss_bytes'])} MB), "
        f"{'yes' if alone['idle_rss_under_aim'] else '**no**'}; peak after the storm {alone_peak['hwm_mib']} MiB "
        f"({megabytes(alone_peak['hwm_bytes'])} MB), {'yes' if alone['peak_under_aim'] else '**no**'}. "
        f"torch / numpy / transformers files mapped by the serve process: {mapped(alone['bot'])}."),
        "",
        "### Start-up: `incident-bot --help` against a bare import",
        "",
        (f"Wall time of the whole process, median of {startup['alone']['runs']} runs after one warm-up, the runs "
        "interleaved. Bot alone: the venv's `incident-bot --help`; development venv: `python -m bot.cli --help` "
        "from this checkout (the worker extra installed; the parser still imports none of it)."),
        "",
        "| venv | `incident-bot --help` | `python -c \"import fastapi\"` | ratio | `python -c pass` |",
        "|---|---|---|---|---|",
        startup_row("bot alone", startup["alone"]),
        startup_row("development (`.[dev,worker]`)", startup["dev"]),
        "",
        "### The development venv, and the model worker",
        "",
        "| process | peak RSS (VmHWM) | RSS (VmRSS) | under 2 GB |",
        "|---|---|---|---|",
        row("bare FastAPI, idle", bot["baseline"]["idle"]),
        row("bare FastAPI, after the storm (baseline)", bot["baseline"]["peak"]),
        row("incident-bot serve (torch installed, not loaded), idle", bot["bot"]["idle"]),
        row("**incident-bot serve (torch installed, not loaded), after the storm**", bot["bot"]["peak"]),
        f"| ratio bot / bare FastAPI (peak) | {bot['ratio']}x | | |",
        row("bare python + torch (baseline)", worker["baseline"]["peak"]),
        row("incident-bot worker, models loaded, idle", worker["worker"]["idle"]),
        row("**incident-bot worker, after serving every model**", worker["worker"]["peak"]),
        f"| ratio worker / bare torch (peak) | {worker['ratio']}x | | |",
        "",
        (f"torch / numpy / transformers files mapped by this serve process: {mapped(bot['bot'])}. "
        f"Storm failures: bot alone {alone['bot']['storm']['failed']}, its baseline "
        f"{alone['baseline']['storm']['failed']}; development bot {bot['bot']['storm']['failed']}, its baseline "
        f"{bot['baseline']['storm']['failed']}; failed predictions: "
        f"{sum(c['failed'] for c in worker['predictions'].values())}."),
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of predictions per model")
    parser.add_argument("--runs", type=int, default=7, help="runs of each start-up command (the median is kept)")
    parser.add_argument("--bot-venv", metavar="PATH",
                        help="the bot-only venv: reused if it has incident-bot, else made there and kept "
                             "(default: a fresh one in a temporary folder)")
    parser.add_argument("--json", metavar="PATH", default=str(ROOT / "bench-results" / "footprint.json"))
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    load = load_average()
    registry_path, registry_kind = registry()
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as folder:
        work = Path(folder)
        venv_path = Path(args.bot_venv).resolve() if args.bot_venv else work / "bot-venv"
        venv = bot_alone_venv(venv_path, reuse=bool(args.bot_venv))
        startup = {
            "alone": startup_figures(venv_path / "bin" / "python", [str(venv_path / "bin" / "incident-bot"), "--help"],
                                     args.runs, work),
            "dev": startup_figures(Path(sys.executable), [sys.executable, "-m", "bot.cli", "--help"], args.runs, ROOT),
        }
        alone = measure_bot_alone(args.deliveries, work, venv_path)
        bot = measure_bot(args.deliveries, work)
        worker = measure_worker(registry_path, args.seconds, work)
    result = {"machine": load, "registry": registry_path, "registry_kind": registry_kind, "limit_bytes": LIMIT_BYTES,
              "bot_venv": venv, "startup": startup, "bot_alone": alone, "bot": bot, "worker": worker}
    publish("footprint", result, markdown(result), json_path=args.json, markdown=not args.no_write)
    failed = (alone["bot"]["storm"]["failed"] + bot["bot"]["storm"]["failed"]
              + sum(c["failed"] for c in worker["predictions"].values()))
    heavy = alone["bot"]["heavy_mapped"] + bot["bot"]["heavy_mapped"]
    if heavy:
        print(f"incident-bot serve mapped the worker's libraries: {heavy}", file=sys.stderr)
    return 1 if failed or heavy else 0


if __name__ == "__main__":
    sys.exit(main())
