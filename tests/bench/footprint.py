"""`make bench-footprint`: peak memory of the bot and the model worker, against bare processes.

The seeds' limit is 2 GB per process. Figures are each process's resident-set high-water mark
(`VmHWM` in /proc/<pid>/status, which the kernel keeps, so no sample is missed), read at the end
of its load, with processes started by this run on this machine:

* the bot (`incident-bot serve`, SQLite, local Slack server) through a signed PagerDuty + SNS
  storm from 32 clients, as in `make bench-ingest`; baseline: the bare FastAPI parse-only app
  from `make bench-ingest` under uvicorn, through the same storm;
* the model worker (`incident-bot worker`) serving predictions of every model in the registry
  (8 clients, `--seconds` per model); baseline: a bare `python -c "import torch"` process that
  runs one small matmul with the same TORCH_THREADS.

Registry: ./var/models when `make models` trained it; otherwise the quick models the tests train
(the section says which). Exits 1 if a delivery or a prediction failed.

    make bench-footprint
    python -m tests.bench.footprint --deliveries 1000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

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

LIMIT_BYTES = 2 * 10**9
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
            "children_hwm_mib": mib(sum(kids)) if kids else None,
            "under_limit": own.get("VmHWM", 0) + sum(kids) < LIMIT_BYTES}


def measure_bot(deliveries: int, work: Path) -> dict[str, Any]:
    base_port = free_port()
    (work / "baseline.py").write_text(BASELINE_APP)
    storm = build_storm(deliveries)
    baseline = start([sys.executable, "-m", "uvicorn", "--app-dir", str(work), "baseline:app", "--port",
                      str(base_port), "--log-level", "warning"], {}, work / "baseline.log")
    try:
        wait_http(f"http://127.0.0.1:{base_port}/docs")
        idle_base = _peak(baseline.pid)
        base_storm = asyncio.run(send_storm("bare FastAPI", f"http://127.0.0.1:{base_port}", storm))
        base_peak = _peak(baseline.pid)
    finally:
        baseline.terminate()
        baseline.wait(10)
    with Stack(work, f"sqlite:///{work}/bot.db") as stack:
        idle_bot = _peak(stack.bot.pid)
        bot_storm = asyncio.run(send_storm("incident-bot", stack.bot_url, storm))
        time.sleep(2)  # the outbox keeps posting after the storm's last ack
        bot_peak = _peak(stack.bot.pid)
    return {"deliveries": deliveries, "baseline": {"idle": idle_base, "peak": base_peak, "storm": asdict(base_storm)},
            "bot": {"idle": idle_bot, "peak": bot_peak, "storm": asdict(bot_storm)},
            "ratio": ratio(bot_peak["hwm_mib"], base_peak["hwm_mib"])}


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


def markdown(result: dict[str, Any]) -> str:
    bot, worker = result["bot"], result["worker"]
    models = ("the full models from `./var/models`" if result["registry_kind"] == "full" else
              "the **quick** models the tests train (`incident-bot models train --quick`), as `./var/models` "
              "held no trained models; the full models may differ")
    served = ", ".join(f"{n} {c['ok']}" for n, c in worker["predictions"].items())

    def row(name: str, figures: dict[str, Any]) -> str:
        kids = f" (+{figures['children_hwm_mib']} MiB in {figures['children']} children)" if figures["children"] else ""
        return f"| {name} | {figures['hwm_mib']} MiB{kids} | {'yes' if figures['under_limit'] else '**no**'} |"

    return "\n".join([
        "## Memory footprint (`make bench-footprint`)",
        "",
        ("Peak resident set (`VmHWM`, the kernel's high-water mark) of each process, read at the end of its "
        f"load; the seeds' limit is 2 GB per process. The bot and the bare FastAPI app each take the same "
        f"{bot['deliveries']}-delivery signed storm from 32 clients; the worker serves every model for "
        f"{worker['seconds_per_model']} s from 8 clients ({served} predictions) with {models}; its "
        f"baseline is a bare python that imports torch and runs one matmul (TORCH_THREADS={worker['torch_threads']})."),
        f"Machine: {result['machine']}.",
        "",
        "| process | peak RSS (VmHWM) | under 2 GB |",
        "|---|---|---|",
        row("bare FastAPI, idle", bot["baseline"]["idle"]),
        row("bare FastAPI, after the storm (baseline)", bot["baseline"]["peak"]),
        row("incident-bot serve, idle", bot["bot"]["idle"]),
        row("**incident-bot serve, after the storm**", bot["bot"]["peak"]),
        f"| ratio bot / bare FastAPI | {bot['ratio']}x | |",
        row("bare python + torch (baseline)", worker["baseline"]["peak"]),
        row("incident-bot worker, models loaded, idle", worker["worker"]["idle"]),
        row("**incident-bot worker, after serving every model**", worker["worker"]["peak"]),
        f"| ratio worker / bare torch | {worker['ratio']}x | |",
        "",
        (f"Storm failures: bot {bot['bot']['storm']['failed']}, baseline {bot['baseline']['storm']['failed']}; "
        f"failed predictions: {sum(c['failed'] for c in worker['predictions'].values())}."),
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of predictions per model")
    parser.add_argument("--json", metavar="PATH", default=str(ROOT / "bench-results" / "footprint.json"))
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    load = load_average()
    registry_path, registry_kind = registry()
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as folder:
        work = Path(folder)
        bot = measure_bot(args.deliveries, work)
        worker = measure_worker(registry_path, args.seconds, work)
    result = {"machine": load, "registry": registry_path, "registry_kind": registry_kind, "limit_bytes": LIMIT_BYTES,
              "bot": bot, "worker": worker}
    publish("footprint", result, markdown(result), json_path=args.json, markdown=not args.no_write)
    failed = bot["bot"]["storm"]["failed"] + sum(c["failed"] for c in worker["predictions"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
