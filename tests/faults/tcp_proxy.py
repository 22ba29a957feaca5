"""A TCP proxy on loopback that can be cut and restored, and spreads connections round-robin.

Cut in front of PostgreSQL it is, to the bot, a database that went away: open connections are
reset and new ones are refused, because the listening socket is closed, until it is restored on
the same port. In front of two bot processes it is the simple round-robin load balancer of a
two-replica deployment: each new connection goes to the next backend.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True)
class Backend:
    host: str
    port: int


class TcpProxy:
    def __init__(self, backends: list[Backend], *, port: int = 0) -> None:
        if not backends:
            raise ValueError("a proxy needs at least one backend")
        self._backends = itertools.cycle(backends)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self.port = port
        self.connections = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset the open ones, as a stopped server would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        if self._accepting is not None:
            self._accepting.join(5)
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock)

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            with self._lock:
                backend = next(self._backends)
                self.connections += 1
            try:
                upstream = socket.create_connection((backend.host, backend.port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
