"""The model worker as a child process of a demo: a free port, waiting until it is ready, stopping it."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float, where: str = "") -> None:
    """Return once ``GET {url}/readyz`` answers 200; raise RuntimeError if it exits or times out.

    ``where`` (e.g. "; see var/demo/worker.log") is added to the error, so people know where to look.
    """
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the model worker exited (code {process.returncode}){where}")
            try:
                if http.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise RuntimeError(f"the model worker was not ready within {timeout:.0f} s{where}")


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
