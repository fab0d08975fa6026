"""The panel's /live redirect goes to configured addresses, never to the request's Host.

Security review #10: ``Host: evil.example`` on ``/live/U/P/ID.ts`` sent the player to
evil.example. Requests here are written byte for byte on a real socket, with forged
``Host`` and ``X-Forwarded-Host`` headers.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from support.server import make_settings, run_server

FORGED = "Host: evil.example\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n"


def _get(base_url: str, path: str, headers: str = FORGED) -> tuple[int, str]:
    """Status and Location of one GET with the given header lines."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    location = next(
        (h.split(":", 1)[1].strip() for h in head if h.lower().startswith("location:")), ""
    )
    return int(head[0].split()[1]), location


def test_redirect_ignores_a_forged_host_and_reaches_the_data_plane(
    sqlite_url: str, tmp_path: Path
) -> None:
    with run_server(make_settings(tmp_path, sqlite_url)) as server:
        live_port = server.ctx.services["live"].port
        for path in ("/live/u/p/1.ts", "/u/p/1", "/hls/tok/3.ts", "/live/u/p/1.m3u8?x=1&y=%2F"):
            status, location = _get(server.base_url, path)
            # No public URL configured: the address the connection came in on (loopback).
            assert (status, location) == (302, f"http://127.0.0.1:{live_port}{path}"), path
        # Without any Host header at all (HTTP/1.0) too.
        status, location = _get(server.base_url, "/live/u/p/1.ts", headers="")
        assert (status, location) == (302, f"http://127.0.0.1:{live_port}/live/u/p/1.ts")
        # The target is the data plane itself: it answers the play (unknown line: 401).
        assert httpx.get(location, timeout=20).status_code == 401


def test_redirect_uses_the_configured_public_urls(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sqlite_url, public_url="https://tv.example.test")
    with run_server(settings) as server:
        live_port = server.ctx.services["live"].port
        status, location = _get(server.base_url, "/live/u/p/7.ts")
        # The public host, on the data plane's port; plain http, the data plane has no TLS.
        assert (status, location) == (302, f"http://tv.example.test:{live_port}/live/u/p/7.ts")
    settings = make_settings(
        tmp_path,
        sqlite_url,
        public_url="https://tv.example.test",
        live_public_url="https://cdn.example.test/",
    )
    with run_server(settings) as server:
        status, location = _get(server.base_url, "/live/u/p/7.m3u8")
        assert (status, location) == (302, "https://cdn.example.test/live/u/p/7.m3u8")
