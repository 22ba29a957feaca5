"""A webhook load generator that runs in processes of its own, so it never shares a GIL (or an
event loop) with what it measures, and reports its own CPU use, so a run can show that the
generator was not what limited the server.

Each process reads its share of a storm from a JSON file, sends it from its clients over
keep-alive connections (aiohttp: a fraction of httpx's CPU per request), retries anything not
answered 2xx as PagerDuty and SNS do, and writes its ack latencies and CPU seconds to a file.

    python -m tests.bench.loadgen STORM.json BASE_URL CLIENTS OUT.json START_AT [RATE]

RATE (deliveries a second from this process) paces the storm, for a storm that lasts while
something else is measured; without it, the clients send as fast as they are answered.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

RETRIES = 8


@dataclass
class ProcessStorm:
    name: str
    deliveries: int
    seconds: float
    throughput_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    retries: int
    failed: int
    generator_processes: int
    # CPU seconds the generator processes used over the storm's wall time, per process: near
    # 1.0 means a generator was saturated and the figures measure it rather than the server.
    generator_cpu_share: float


async def _send(deliveries: list[dict[str, Any]], base_url: str, clients: int, rate: float = 0.0) -> dict[str, Any]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for delivery in deliveries:
        queue.put_nowait(delivery)
    loop = asyncio.get_running_loop()
    began = loop.time()
    taken = 0
    latencies: list[float] = []
    counts = {"retries": 0, "failed": 0}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base_url=base_url, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        async def client() -> None:
            nonlocal taken
            while not queue.empty():
                delivery = queue.get_nowait()
                if rate > 0:  # the n-th delivery leaves at n / rate seconds, whoever sends it
                    taken += 1
                    await asyncio.sleep(max(0.0, began + taken / rate - loop.time()))
                body = delivery["body"].encode("latin-1")
                for attempt in range(RETRIES):
                    started = time.perf_counter()
                    try:
                        async with http.post(delivery["path"], data=body, headers=delivery["headers"]) as answer:
                            await answer.read()
                            status = answer.status
                    except (aiohttp.ClientError, TimeoutError):
                        status = 0
                    latencies.append(time.perf_counter() - started)
                    if 200 <= status < 300:
                        break
                    counts["retries"] += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                else:
                    counts["failed"] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return {"latencies": latencies, **counts}


def _main(storm_path: str, base_url: str, clients: str, out_path: str, start_at: str, rate: str = "0") -> int:
    deliveries = json.loads(Path(storm_path).read_text())
    # Every generator starts at the same moment, whatever its interpreter's start-up took.
    time.sleep(max(0.0, float(start_at) - time.time()))
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = asyncio.run(_send(deliveries, base_url, int(clients), float(rate)))
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    Path(out_path).write_text(json.dumps({**result, "wall": wall, "cpu": cpu, "ended": time.time()}))
    return 0


def send_from_processes(name: str, base_url: str, storm: list[Any], *, processes: int = 2,
                        clients: int = 32, rate: float = 0.0) -> ProcessStorm:
    """Send ``storm`` (objects with path, body, headers) from ``processes`` generator processes
    sharing ``clients`` clients, all started together; figures over the whole storm."""
    work = Path(tempfile.mkdtemp(prefix="loadgen-"))
    shares = [storm[index::processes] for index in range(processes)]
    start_at = time.time() + 2.0
    children = []
    for index, share in enumerate(shares):
        storm_file = work / f"storm-{index}.json"
        storm_file.write_text(json.dumps([{"path": d.path, "body": d.body.decode("latin-1"), "headers": d.headers}
                                          for d in share]))
        children.append((subprocess.Popen([sys.executable, "-m", "tests.bench.loadgen", str(storm_file), base_url,
                                           str(max(1, clients // processes)), str(work / f"out-{index}.json"),
                                           str(start_at), str(rate / processes)]),
                         work / f"out-{index}.json"))
    for child, _ in children:
        if child.wait(600) != 0:
            raise RuntimeError(f"a load generator exited with {child.returncode}")
    outputs = [json.loads(path.read_text()) for _, path in children]
    latencies = sorted(latency for output in outputs for latency in output["latencies"])
    busiest = max(output["cpu"] / output["wall"] for output in outputs)
    # The storm's own time: from the generators' common start to the last answer.
    storm_seconds = max(output["ended"] for output in outputs) - start_at
    return ProcessStorm(
        name=name, deliveries=len(storm), seconds=round(storm_seconds, 3),
        throughput_per_s=round(len(storm) / storm_seconds, 1),
        ack_p50_ms=round(statistics.median(latencies) * 1000, 2),
        ack_p99_ms=round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        retries=sum(output["retries"] for output in outputs), failed=sum(output["failed"] for output in outputs),
        generator_processes=processes, generator_cpu_share=round(busiest, 2),
    )


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:7]))
