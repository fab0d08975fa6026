"""Local HTTP servers standing in for the internet and for what the policy must protect.

Tests cannot reach the internet, and loopback is what the outbound policy refuses: the
server under test is told to allow one of these servers' ports (its "internet"), and the
others play the node's own services, which must see no request at all.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# path -> (status, headers, body)
Routes = dict[str, tuple[int, dict[str, str], bytes]]


@dataclass
class StandIn:
    """A running server: its base URL, its port, its routes (a test may add some) and
    every path it was asked for."""

    base: str
    port: int
    routes: Routes = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)


@contextmanager
def stand_in(routes: Routes | None = None) -> Iterator[StandIn]:
    """Serve ``routes`` on 127.0.0.1:0 (anything else: 200 "secret"), recording requests."""
    running: list[StandIn] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            running[0].seen.append(self.path)
            status, headers, body = running[0].routes.get(self.path, (200, {}, b"secret"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    running.append(StandIn(f"http://127.0.0.1:{port}", port, dict(routes or {})))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield running[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
