"""The bot runs without the worker's libraries: `serve`, `migrate` and `--help` never load torch.

The test venv has the worker extra installed (torch, numpy, transformers...), so these tests
prove the bot leaves it alone rather than that it is absent: the serve process's memory map
(/proc/<pid>/maps) names no file of those packages, and building the command line, `--help` and
`migrate` import none of them. `.ci/bot-alone` checks the other half, a fresh venv with the bot
alone; `make bench-footprint` measures what the bot costs in memory and start-up time.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.slack_api import LocalSlackServer
from tests.bench.stack import mib, proc_status
from tests.scenarios.processes import BotProcess
from tests.test_cli import cli_env, run_cli

# The worker extra's heavy packages and the libraries they bring (scipy comes with some of them).
HEAVY_PACKAGES = ("torch", "numpy", "scipy", "transformers", "tokenizers", "safetensors")
# A package's folder or its vendored-library folder in a mapped path (`.../torch/lib/libtorch_cpu.so`,
# `.../numpy.libs/libscipy_openblas64_...so`), or one of their library files wherever it lies.
HEAVY_PATH = re.compile(
    r"/(?:" + "|".join(map(re.escape, HEAVY_PACKAGES)) + r")(?:\.libs)?/|libtorch|_multiarray_umath"
)
# Python that lists the heavy modules a process has imported.
HEAVY_MODULES = (f"sorted(m for m in sys.modules if m.partition('.')[0] in {HEAVY_PACKAGES!r} "
                 "or m.startswith('inference.training'))")

needs_proc = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")


def heavy_mappings(pid: int) -> list[str]:
    """The files of the worker's libraries that process `pid` has mapped (Linux /proc)."""
    found: set[str] = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and HEAVY_PATH.search(fields[5]):
            found.add(fields[5])
    return sorted(found)


# Runs the command line in-process as the console script would, then lists which heavy modules it
# imported: --help exits through SystemExit, so its code is caught rather than lost.
IMPORTS_PROBE = """
import json, sys
import bot.cli
try:
    code = bot.cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("PROBE " + json.dumps({"code": code, "heavy": HEAVY}), file=sys.stderr)
""".replace("HEAVY", HEAVY_MODULES)


def probe(*args: str, env: dict[str, str] | None = None) -> dict:
    result = subprocess.run([sys.executable, "-c", IMPORTS_PROBE, *args], env=cli_env(env), capture_output=True,
                            text=True, timeout=120, check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("PROBE ")]
    assert lines, result.stderr[-3000:]
    return dict(json.loads(lines[-1].removeprefix("PROBE ")))


def test_building_the_parser_imports_none_of_the_worker_libraries() -> None:
    # The parser imports inference.cli to list `worker` and `models`; that module must stay cheap.
    code = f"import bot.cli, sys; bot.cli.build_parser(); print({HEAVY_MODULES})"
    result = subprocess.run([sys.executable, "-c", code], env=cli_env(None), capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_and_migrate_import_none_of_the_worker_libraries(tmp_path: Path) -> None:
    shown = probe("--help")
    assert shown == {"code": 0, "heavy": []}
    migrated = probe("migrate", env={"DATABASE_URL": f"sqlite:///{tmp_path}/bot.db"})
    assert migrated == {"code": 0, "heavy": []}
    # And as a user runs them: the real command line, in its own process.
    assert run_cli("--help").returncode == 0
    result = run_cli("migrate", env={"DATABASE_URL": f"sqlite:///{tmp_path}/bot.db"})
    assert result.returncode == 0, result.stderr


@pytest.fixture
def slack() -> Iterator[LocalSlackServer]:
    with LocalSlackServer() as server:
        yield server


@needs_proc
def test_serve_maps_no_torch_or_numpy_library(slack: LocalSlackServer, tmp_path: Path,
                                              record_property: pytest.RecordProperty) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    assert run_cli("migrate", env={"DATABASE_URL": url}).returncode == 0
    bot = BotProcess(slack_url=slack.base_url, database_url=url, config_path=None, log_path=tmp_path / "bot.log",
                     MIGRATE_ON_START="false").start()
    try:
        # Serving requests, not only starting: each route the process answers once.
        for path in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(f"{bot.url}{path}", timeout=10).status_code == 200, path
        assert bot.pid is not None
        maps = Path(f"/proc/{bot.pid}/maps").read_text()
        assert "/python" in maps or "libpython" in maps, "not the serve process's own python"
        assert heavy_mappings(bot.pid) == []
        status = proc_status(bot.pid)
        assert status.get("VmRSS", 0) > 0 and status.get("VmHWM", 0) > 0
        # Reported, not judged: the figures live in BENCHMARKS.md (`make bench-footprint`).
        record_property("serve_vmrss_mib", mib(status["VmRSS"]))
        record_property("serve_vmhwm_mib", mib(status["VmHWM"]))
        print(f"incident-bot serve: VmRSS {mib(status['VmRSS'])} MiB, VmHWM {mib(status['VmHWM'])} MiB")
    finally:
        bot.stop()


@needs_proc
def test_the_maps_check_sees_numpy_when_a_process_loads_it() -> None:
    # The check above passes on an empty list: show that it finds a library that is there.
    if importlib.util.find_spec("numpy") is None:
        pytest.skip("numpy comes with the worker extra")
    process = subprocess.Popen([sys.executable, "-c", "import numpy, sys; print('up', flush=True); sys.stdin.read()"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "up"
        assert any("numpy" in path for path in heavy_mappings(process.pid))
    finally:
        process.kill()
        process.wait(10)
