"""The demo's last act: the model worker reads the incident, alone and with a dashboard chart.

The worker runs as its own process (`incident-bot worker`), as in production, so the bot's process
still never imports torch. The charts are rendered by the project's chart renderer in the style
the chart model never trained on.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from demo.worker_process import free_port, stop_process, wait_ready

READY_TIMEOUT = 300.0


def _has_models(registry: str) -> bool:
    if registry.startswith("s3://"):
        return True  # the worker says so itself if it has none
    # The registry's own listing (no torch, no boto3): a model with a complete version is served.
    from inference.registry import LocalRegistry

    return bool(LocalRegistry(Path(registry)).models())


def _chart_png(pattern: str) -> str:
    # Pure Pillow and numpy: no torch in this process.
    from inference.charts.dataset import EVAL_STYLES, generate_examples, to_png_bytes

    example = next(iter(generate_examples(1, styles=EVAL_STYLES, seed=2026, patterns=(pattern,))))
    return base64.b64encode(to_png_bytes(example.image)).decode()


def show_diagnostics(incident_text: str, say: Callable[[str], None], *, registry: str | None = None) -> None:
    registry = registry or os.environ.get("MODEL_REGISTRY", "./var/models")
    if not _has_models(registry):
        say(f"\n(No trained models in {registry}: `make models` trains them, then the demo shows the worker too.)")
        return
    port = free_port()
    command = [str(Path(sys.executable).with_name("incident-bot")), "worker",
               "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "MODEL_REGISTRY": registry})
        try:
            _ask(f"http://127.0.0.1:{port}", worker, incident_text, say)
        except (httpx.HTTPError, RuntimeError) as exc:
            log.seek(0)
            say(f"\n(The model worker did not answer: {exc}. Its log ends with:\n"
                f"{log.read()[-1500:].decode(errors='replace')})")
        finally:
            stop_process(worker, timeout=20)


def _ask(url: str, worker: subprocess.Popen[bytes], text: str, say: Callable[[str], None]) -> None:
    say("\nThe model worker (`incident-bot worker`) reads the incident:")
    wait_ready(url, worker, timeout=READY_TIMEOUT)
    with httpx.Client(timeout=60) as http:
        served = {m["name"]: m["version"] for m in http.get(f"{url}/v1/models").json()["models"]}
        say("  serving: " + ", ".join(f"{name} {version}" for name, version in sorted(served.items())))
        if "incident-text" in served:
            answer = _predict(http, url, "incident-text", [{"text": text}])[0]
            say(f"  incident-text: “{text}” → runbook {answer['label']} ({answer['confidence']:.0%})")
        if "fusion" in served:
            for pattern in ("step_up", "trend_up"):
                answer = _predict(http, url, "fusion", [{"text": text, "image_b64": _chart_png(pattern)}])[0]
                mechanism = answer["mechanism"]
                chart = answer["inputs"]["chart"]
                say(f"  fusion, with a {pattern} chart (chart-vit read it as {chart['label']}): "
                    f"{answer['label']}, mechanism {mechanism['label']} ({mechanism['confidence']:.0%}) → "
                    f"{mechanism['first_action']}")


def _predict(http: httpx.Client, url: str, model: str, instances: list[dict[str, str]]) -> list[dict]:
    response = http.post(f"{url}/v1/models/{model}:predict", json={"instances": instances})
    if response.status_code != 200:
        raise RuntimeError(f"{model} answered HTTP {response.status_code}: {response.text[:300]}")
    return list(response.json()["predictions"])
