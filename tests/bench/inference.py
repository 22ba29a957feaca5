"""`make bench-inference`: the model worker under load, set against a bare forward pass.

For each model (by default every model the registry holds; `incident-text` and `chart-vit` are
the two the targets are written for):

1. Baseline, in this process: the serving version (CURRENT, or the newest version before the
   first promote, as the worker picks it) is materialized from the registry and loaded with
   `ModelLoader().load(manifest, folder)`, then `model.predict([...])` is timed at batch 1
   (latency p50/p95) and at batch 16 (throughput = instances / elapsed over repeated calls),
   each for `--seconds` after a short warm-up. torch runs with the worker's TORCH_THREADS
   (`WorkerSettings().torch_threads`, from the same environment the worker inherits), and the
   worker is started with that same TORCH_THREADS; `--torch-threads N` sets both.
2. The real worker, `incident-bot worker`, as its own process on a free loopback port with
   MODEL_REGISTRY set (and a private MODEL_CACHE_DIR), started only after the baselines are done,
   so the two never share the CPU. Once `GET /readyz` answers 200, asyncio + httpx clients send
   `POST /v1/models/<name>:predict` requests, one instance each, in a closed loop at each
   concurrency level (1, 8, 32 by default) for `--seconds` after a warm-up. Latency is per
   request, client side (JSON encode of the body is done up front); throughput counts only
   200 answers; anything else (or a transport error) is an error and is reported.

Inputs: a text model gets the held-out texts of `inference/data/text/heldout.jsonl`, cycled;
an image model gets a pool of 32 charts rendered once up front in the held-out style
(`generate_examples(..., styles=EVAL_STYLES)`, realistic screenshot sizes) and sent as base64
PNG. The worker decodes and checks each PNG (`inference.inputs.decode_image`), then the model
resizes it and runs the ViT; so that the ratio compares like with like, the chart baseline also
starts from the PNG bytes: each timed call runs `inference.inputs.open_image(png)` (the same
decode and checks, less base64) and then `model.predict`, i.e. decode + preprocess + forward.
The text baseline's `predict` includes tokenization, as the worker's does.

Ratios, per model: worker p95 at concurrency 1 / bare batch-1 p95, and worker throughput at
concurrency 32 / bare batch-16 throughput. Targets: worker p95 at concurrency 1 < 50 ms, and
worker throughput at concurrency 32 >= 0.7x bare batch-16 throughput.

The load generator runs in this process on the same machine as the worker, so on a small
machine it takes CPU from the worker; read the figures with the core count printed beside them.
Exit status: 0, or 1 if any worker request failed, or 2 if there is nothing to measure.

    make bench-inference
    python -m tests.bench.inference --models incident-text --seconds 2 --concurrency 1,8
    python -m tests.bench.inference --registry /tmp/reg --json bench-results/inference.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.bench.report import finite

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS = ("incident-text", "chart-vit")
SERVED_KINDS = ("text", "image", "fusion")
BATCH = 16
CHART_POOL = 32
CHART_SEED = 20261123
P95_TARGET_MS = 50.0
THROUGHPUT_TARGET = 0.7
READY_TIMEOUT_S = 300.0


# --- results ---------------------------------------------------------------------------------


@dataclass
class Timing:
    """One measured configuration: a bare forward pass or the worker at one concurrency."""

    name: str
    batch: int
    concurrency: int
    seconds: float
    requests: int  # calls to predict (bare) or 200 answers (worker)
    throughput_per_s: float  # instances per second
    p50_ms: float
    p95_ms: float
    errors: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)


@dataclass
class ModelResult:
    name: str
    version: str
    kind: str
    bare: list[Timing]
    worker: list[Timing]
    ratios: dict[str, float | None]
    targets: dict[str, dict[str, Any]]


# --- helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (as `tests.bench.ingest` reports)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2) if not math.isnan(seconds) else math.nan


def resolve_registry(uri: str) -> str:
    return uri if uri.startswith("s3://") else str(Path(uri).expanduser().resolve())


# --- inputs ----------------------------------------------------------------------------------


@dataclass
class Pool:
    """Request bodies for the worker and the same inputs, as the model gets them, for the baseline."""

    bodies: list[bytes]
    # Builds the baseline's instance i, including whatever decoding the worker does for it.
    instance: Callable[[int], Any]

    def __len__(self) -> int:
        return len(self.bodies)


def build_pool(kind: str) -> Pool:
    from inference.datasets.text import load_split
    from inference.inputs import Instance, open_image

    texts: list[str] = []
    pngs: list[bytes] = []
    if kind in ("text", "fusion"):
        texts = [example.text for example in load_split("heldout")]
    if kind in ("image", "fusion"):
        pngs = chart_pngs(CHART_POOL)
    size = max(len(texts), len(pngs))

    def raw(i: int) -> dict[str, str]:
        instance: dict[str, str] = {}
        if texts:
            instance["text"] = texts[i % len(texts)]
        if pngs:
            instance["image_b64"] = base64.b64encode(pngs[i % len(pngs)]).decode("ascii")
        return instance

    def instance(i: int) -> Any:
        return Instance(text=texts[i % len(texts)].strip() if texts else None,
                        image=open_image(pngs[i % len(pngs)]) if pngs else None)

    bodies = [json.dumps({"instances": [raw(i)]}).encode() for i in range(size)]
    return Pool(bodies=bodies, instance=instance)


def chart_pngs(count: int) -> list[bytes]:
    from inference.charts.dataset import EVAL_STYLES, generate_examples, to_png_bytes
    from inference.charts.patterns import CHART_PATTERNS

    per_class = math.ceil(count / len(CHART_PATTERNS))
    examples = itertools.islice(generate_examples(per_class, styles=EVAL_STYLES, seed=CHART_SEED), count)
    return [to_png_bytes(example.image) for example in examples]


# --- the baseline: a bare forward pass in this process --------------------------------------


def load_served(registry: Any, name: str, cache: Path) -> Any:
    """The version the worker would serve, loaded the way the worker loads it."""
    from inference.models.loading import ModelLoader

    version = registry.current(name)
    if version is None:
        versions = registry.versions(name)
        if not versions:
            print(f"bench-inference: {name} has no versions in the registry", file=sys.stderr)
            raise SystemExit(2)
        version = versions[0].version
    manifest = registry.manifest(name, version)
    folder = registry.materialize(name, version, cache / name / version)
    # A fusion version loads its pinned components from the registry, as the worker's loader does.
    return ModelLoader(registry=registry, cache_dir=cache).load(manifest, folder)


def time_bare(model: Any, pool: Pool, batch: int, seconds: float, warmup: float) -> Timing:
    cursor = itertools.count()

    def one_call() -> float:
        started = time.perf_counter()
        model.predict([pool.instance(next(cursor)) for _ in range(batch)])
        return time.perf_counter() - started

    warm_until = time.perf_counter() + warmup
    one_call()
    while time.perf_counter() < warm_until:
        one_call()
    latencies: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or not latencies:
        latencies.append(one_call())
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return Timing(
        name=f"bare predict, batch {batch}", batch=batch, concurrency=1, seconds=round(elapsed, 3),
        requests=len(latencies), throughput_per_s=round(batch * len(latencies) / elapsed, 1),
        p50_ms=ms(percentile(ordered, 0.5)), p95_ms=ms(percentile(ordered, 0.95)),
    )


# --- the worker ------------------------------------------------------------------------------


def worker_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("incident-bot")
    if script.exists():
        return [str(script), "worker", "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "bot.cli", "worker", "--host", "127.0.0.1", "--port", str(port)]


def start_worker(registry_uri: str, port: int, work: Path, torch_threads: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = work / "worker.log"
    env = {**os.environ, "MODEL_REGISTRY": registry_uri, "MODEL_CACHE_DIR": str(work / "worker-cache"),
           "TORCH_THREADS": str(torch_threads)}
    process = subprocess.Popen(worker_command(port), env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               cwd=ROOT)
    return process, log


def wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited with status {process.returncode} before it was ready:\n"
                               + tail(log))
        try:
            answer = httpx.get(f"{base_url}/readyz", timeout=2)
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the worker was not ready after {timeout:.0f} s:\n" + tail(log))


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no worker log)"


async def load_worker(base_url: str, name: str, pool: Pool, concurrency: int, seconds: float,
                      warmup: float) -> Timing:
    """`concurrency` clients, each sending one request after another (a closed loop)."""
    path = f"/v1/models/{name}:predict"
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    loop_started = time.perf_counter()
    measure_from = loop_started + warmup
    stop_at = measure_from + seconds

    async def client(offset: int) -> None:
        # Each client starts at its own place in the pool, so concurrent requests differ.
        index = offset * max(1, len(pool) // max(1, concurrency))
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
            while (started := time.perf_counter()) < stop_at:
                body = pool.bodies[index % len(pool)]
                index += 1
                try:
                    status = (await http.post(path, content=body, headers=headers)).status_code
                except httpx.HTTPError as exc:
                    status = exc.__class__.__name__
                if started < measure_from:
                    continue
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    codes[str(status)] += 1

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - measure_from
    ordered = sorted(latencies)
    return Timing(
        name=f"worker, concurrency {concurrency}", batch=1, concurrency=concurrency, seconds=round(elapsed, 3),
        requests=len(latencies), throughput_per_s=round(len(latencies) / elapsed, 1),
        p50_ms=ms(percentile(ordered, 0.5)), p95_ms=ms(percentile(ordered, 0.95)),
        errors=sum(codes.values()), error_codes=dict(codes),
    )


# --- the run ---------------------------------------------------------------------------------


def pick_models(registry: Any, wanted: list[str] | None) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, kind) of the models to measure, and notes about those left out."""
    held = registry.models()
    notes: list[str] = []
    names = wanted or [n for n in DEFAULT_MODELS if n in held] + sorted(set(held) - set(DEFAULT_MODELS))
    if not wanted:
        for name in DEFAULT_MODELS:
            if name not in held:
                notes.append(f"{name} is not in the registry, so it is not measured: train it with "
                             f"`incident-bot models train --model {name}` (add --quick for a smoke run)")
    chosen = []
    for name in names:
        if name not in held:
            print(f"bench-inference: {name} is not in the registry (models there: {', '.join(held) or 'none'}); "
                  f"train it with `incident-bot models train --model {name}` (add --quick for a smoke run)",
                  file=sys.stderr)
            raise SystemExit(2)
        kind = registry.versions(name)[0].kind
        if kind not in SERVED_KINDS:
            notes.append(f"{name} is a {kind} model, which this benchmark does not know how to feed; skipped")
            continue
        chosen.append((name, kind))
    return chosen, notes


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from inference.registry import open_registry
    from inference.settings import WorkerSettings

    registry_uri = resolve_registry(args.registry)
    registry = open_registry(registry_uri)
    if not registry.models():
        print(f"bench-inference: the registry {registry_uri} holds no models.\n"
              "Train them first: `incident-bot models train` (or `incident-bot models train --quick` for a "
              "smoke run), with --registry or MODEL_REGISTRY if you use another registry.", file=sys.stderr)
        raise SystemExit(2)
    models, notes = pick_models(registry, args.models)
    if not models:
        print("bench-inference: nothing to measure.\n" + "\n".join(notes), file=sys.stderr)
        raise SystemExit(2)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    settings = WorkerSettings()
    load_before = round(os.getloadavg()[0], 2)
    if load_before > (os.cpu_count() or 1) * 0.5:
        print(f"note: the 1-minute load average is {load_before} on {os.cpu_count()} cores: other work will "
              "skew the figures (and the bare baseline most, as torch's threads wait on each other)", file=sys.stderr)
    torch_threads = args.torch_threads or settings.torch_threads
    torch.set_num_threads(torch_threads)
    work = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    try:
        # 1. Inputs and baselines, before the worker exists, so nothing else is using the CPU.
        pools: dict[str, Pool] = {}
        bare: dict[str, list[Timing]] = {}
        versions: dict[str, str] = {}
        for name, kind in models:
            print(f"[{name}] building the input pool ...", file=sys.stderr)
            pools[name] = build_pool(kind)
            print(f"[{name}] loading the served version for the bare baseline ...", file=sys.stderr)
            model = load_served(registry, name, work / "bare-cache")
            versions[name] = model.version
            bare[name] = []
            for batch in (1, BATCH):
                print(f"[{name}] bare predict, batch {batch}, {args.seconds} s ...", file=sys.stderr)
                bare[name].append(time_bare(model, pools[name], batch, args.seconds, args.warmup))
            del model
            gc.collect()

        # 2. The worker, alone with the load generator.
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        print(f"starting the worker on {base_url} (MODEL_REGISTRY={registry_uri}) ...", file=sys.stderr)
        process, log = start_worker(registry_uri, port, work, torch_threads)
        try:
            started = time.monotonic()
            ready = wait_ready(process, base_url, log, args.ready_timeout)
            ready_s = round(time.monotonic() - started, 1)
            print(f"worker ready after {ready_s} s: {ready.get('models')}", file=sys.stderr)
            worker: dict[str, list[Timing]] = {}
            for name, _kind in models:
                served = (ready.get("models") or {}).get(name)
                if served != versions[name]:
                    print(f"note: the worker serves {name} {served}, the baseline measured {versions[name]}",
                          file=sys.stderr)
                worker[name] = []
                for concurrency in args.concurrency:
                    print(f"[{name}] worker, concurrency {concurrency}, {args.seconds} s ...", file=sys.stderr)
                    worker[name].append(asyncio.run(
                        load_worker(base_url, name, pools[name], concurrency, args.seconds, args.warmup)))
        finally:
            stop_worker(process)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results = [summarize(name, versions[name], kind, bare[name], worker[name]) for name, kind in models]
    return {
        "registry": registry_uri,
        "seconds": args.seconds, "warmup_seconds": args.warmup, "concurrency": args.concurrency,
        "cpu_count": os.cpu_count(), "load_average_before": load_before, "torch_threads": torch_threads,
        "worker_settings": {"worker_threads": settings.worker_threads, "torch_threads": torch_threads,
                            "batch_max": settings.batch_max, "batch_wait_ms": settings.batch_wait_ms,
                            "queue_max": settings.queue_max},
        "worker_ready_seconds": ready_s,
        "notes": notes,
        "models": [asdict(r) for r in results],
    }


def summarize(name: str, version: str, kind: str, bare: list[Timing], worker: list[Timing]) -> ModelResult:
    bare1 = next(t for t in bare if t.batch == 1)
    bare16 = next(t for t in bare if t.batch == BATCH)
    by_c = {t.concurrency: t for t in worker}
    c1 = by_c.get(1)
    c_hi = by_c.get(32) or by_c[max(by_c)]

    def ratio(a: float, b: float, digits: int) -> float | None:
        return round(a / b, digits) if b and not math.isnan(a) and not math.isnan(b) else None

    ratios = {
        "p95_c1_over_bare_b1": ratio(c1.p95_ms, bare1.p95_ms, 2) if c1 else None,
        f"throughput_c{c_hi.concurrency}_over_bare_b{BATCH}": ratio(c_hi.throughput_per_s, bare16.throughput_per_s, 3),
    }
    targets = {
        "p95_c1": {"target": f"< {P95_TARGET_MS:g} ms", "value": c1.p95_ms if c1 else None,
                      "met": (c1.p95_ms < P95_TARGET_MS) if c1 and not math.isnan(c1.p95_ms) else None},
        f"throughput_c{c_hi.concurrency}": {
            "target": (f">= {THROUGHPUT_TARGET}x bare batch-{BATCH} "
                       f"({round(THROUGHPUT_TARGET * bare16.throughput_per_s, 1)}/s)"),
            "value": c_hi.throughput_per_s,
            "met": c_hi.throughput_per_s >= THROUGHPUT_TARGET * bare16.throughput_per_s},
    }
    return ModelResult(name=name, version=version, kind=kind, bare=bare, worker=worker, ratios=ratios,
                       targets=targets)


# --- output ----------------------------------------------------------------------------------


def markdown(result: dict[str, Any]) -> str:
    ws = result["worker_settings"]
    lines = [
        f"CPU cores: {result['cpu_count']} (1-minute load average {result['load_average_before']} before the run). "
        f"torch threads: {result['torch_threads']} in the baseline and the worker "
        f"(TORCH_THREADS); worker: WORKER_THREADS={ws['worker_threads']}, BATCH_MAX={ws['batch_max']}, "
        f"BATCH_WAIT_MS={ws['batch_wait_ms']:g}. {result['seconds']:g} s per row after {result['warmup_seconds']:g} s "
        f"of warm-up; worker ready after {result['worker_ready_seconds']} s.",
        "",
    ]
    for m in result["models"]:
        what = "PNG decode + preprocess + forward" if m["kind"] in ("image", "fusion") else "tokenize + forward"
        lines += [
            f"## {m['name']} {m['version']} ({m['kind']})",
            "",
            "| | p50 | p95 | throughput | errors |",
            "|---|---|---|---|---|",
        ]
        for t in m["bare"]:
            lines.append(f"| {t['name']} ({what}) | {t['p50_ms']} ms | {t['p95_ms']} ms | "
                         f"{t['throughput_per_s']}/s | |")
        for t in m["worker"]:
            codes = ", ".join(f"{k}: {v}" for k, v in sorted(t["error_codes"].items()))
            lines.append(f"| {t['name']} | {t['p50_ms']} ms | {t['p95_ms']} ms | {t['throughput_per_s']}/s | "
                         f"{t['errors']}{f' ({codes})' if codes else ''} |")
        lines.append("")
        for key, value in m["ratios"].items():
            lines.append(f"- ratio, {_describe(key)}: {'n/a' if value is None else f'{value}x'}")
        for key, target in m["targets"].items():
            verdict = {True: "met", False: "NOT met", None: "not measured"}[target["met"]]
            unit = " ms" if key.startswith("p95") else "/s"
            value = "n/a" if target["value"] is None else f"{target['value']}{unit}"
            lines.append(f"- target, {_describe(key)} {target['target']}: {value} -> {verdict}")
        lines.append("")
    for note in result["notes"]:
        lines.append(f"Note: {note}")
    return "\n".join(lines).rstrip() + "\n"


def _describe(key: str) -> str:
    """Words for a ratio's or a target's key, e.g. ``throughput_c32_over_bare_b16``."""
    measure, level, *rest = key.split("_")
    what = f"worker {measure} @ {level}"
    if rest[:2] == ["over", "bare"]:
        what += f" / bare batch-{rest[2].removeprefix('b')} {'p95' if measure == 'p95' else 'throughput'}"
    return what


def concurrency_list(value: str) -> list[int]:
    try:
        levels = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, not {value!r}") from None
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("concurrency levels must be whole numbers >= 1")
    return levels


def model_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=model_list, default=None,
                        help="comma-separated model names (default: every model in the registry)")
    parser.add_argument("--concurrency", type=concurrency_list, default=[1, 8, 32],
                        help="comma-separated client counts (default 1,8,32)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each row (default 2)")
    parser.add_argument("--registry", default=os.environ.get("MODEL_REGISTRY", "./var/models"),
                        help="registry folder or s3://bucket/prefix (default ./var/models, or MODEL_REGISTRY)")
    parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT_S,
                        help=f"seconds to wait for the worker's /readyz (default {READY_TIMEOUT_S:g})")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch threads for the baseline and the worker alike (default: the worker's "
                             "TORCH_THREADS setting)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be > 0 and --warmup >= 0")
    if args.torch_threads is not None and not 1 <= args.torch_threads <= 64:
        parser.error("--torch-threads must be from 1 to 64")
    result = run(args)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(finite(result), indent=2, allow_nan=False) + "\n")
    print(markdown(result))
    failed = sum(t["errors"] for m in result["models"] for t in m["worker"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
