"""The server's listening sockets, bound before anything else happens at start-up.

``palinsesto serve`` binds the panel (``PALINSESTO_LISTEN``), the live data plane
(``PALINSESTO_LIVE_LISTEN``) and RTMP ingest (``PALINSESTO_RTMP_LISTEN``) first, so that a
port already taken stops the start with one clear message before the database is touched
(a first start would otherwise spend the platform admin's "shown once" password on a server
that never ran). The bound sockets are then handed to uvicorn and to the live engine.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from palinsesto.config import ENV_PREFIX, Settings, join_host, split_host_port

# Players and apps reconnect in bursts (a zap, a box rebooting); the kernel clamps this to
# net.core.somaxconn.
BACKLOG = 4096


class ListenError(Exception):
    """A listening socket could not be bound; the message names the setting and the fix."""


@dataclass(frozen=True)
class NodeSockets:
    """The live engine's listeners: the data plane, and RTMP ingest unless turned off."""

    live: socket.socket
    rtmp: socket.socket | None

    def close(self) -> None:
        self.live.close()
        if self.rtmp is not None:
            self.rtmp.close()


def bind_tcp(setting: str, address: str) -> socket.socket:
    """A TCP socket listening on ``address`` (``host:port``; a host name binds its first
    address). ``setting`` is the field name, used in the error message."""
    host, port = split_host_port(address)
    variable = f"{ENV_PREFIX}{setting.upper()}"
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        why = f"unknown host {host!r}; check {variable}."
        raise ListenError(f"Cannot listen on {address} ({variable}): {why}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # Restart at once after a stop (connections in TIME_WAIT); a port another process
        # listens on is still refused.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(_explain(address, variable, exc)) from None
    sock.setblocking(False)
    return sock


def bind_node(settings: Settings) -> NodeSockets:
    """Bind the data plane and RTMP ingest as ``settings`` say; nothing stays bound on error."""
    live = bind_tcp("live_listen", settings.effective_live_listen)
    try:
        rtmp = bind_tcp("rtmp_listen", settings.rtmp_listen) if settings.rtmp_listen else None
    except ListenError:
        live.close()
        raise
    return NodeSockets(live, rtmp)


def address_of(sock: socket.socket) -> str:
    """``host:port`` a socket is bound to (for messages)."""
    host, port = sock.getsockname()[:2]
    return f"{join_host(host)}:{port}"


def _explain(address: str, variable: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        why = (
            "the port is already in use (is another Palinsesto running?). "
            f"Stop it, or set {variable} to a free port."
        )
    elif exc.errno == errno.EACCES:
        why = f"permission denied (ports below 1024 need privileges); set {variable}."
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"this machine has no such address; set {variable} to one of its addresses."
    else:
        why = f"{exc.strerror or exc}; check {variable}."
    return f"Cannot listen on {address} ({variable}): {why}"
