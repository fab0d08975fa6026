"""Baseline servers the node benchmarks measure against in the same run.

- :func:`start_constant_302`: a minimal ASGI app answering every request with the same 302,
  run under the panel's own uvicorn settings (uvloop, httptools, no access log, proxy
  headers, no server header: as ``cli/web_server.py`` runs the panel), pinned to a core;
- :func:`start_nginx`: nginx (1 worker, pinned) with a given ``server {}`` body.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CONSTANT_302 = """
import sys, uvicorn
location = sys.argv[2].encode()
headers = [(b"location", location), (b"content-length", b"0")]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 302, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
    log_level="warning", access_log=False, proxy_headers=True,
    forwarded_allow_ips="127.0.0.1", server_header=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def start_constant_302(location: str, cpu: int = 0) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, "-c", _CONSTANT_302, str(port), location]
    )
    wait_port(port)
    return process, port


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )


def start_nginx(server_body: str, cpu: int = 0) -> tuple[subprocess.Popen[bytes], int, Path] | None:
    """nginx with one worker pinned to ``cpu``; ``server_body`` goes inside ``server {}``
    after its ``listen``. Returns the process, its port and its (temporary) prefix."""
    exe = nginx_binary()
    if exe is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    root.chmod(0o755)  # its worker runs as "nobody" and may read files from here
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        f"""daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on; tcp_nopush on; open_file_cache max=100;
  keepalive_requests 10000000; server_tokens off;
  types {{ video/mp2t ts; application/vnd.apple.mpegurl m3u8; }}
  client_body_temp_path {root}; proxy_temp_path {root}; fastcgi_temp_path {root};
  uwsgi_temp_path {root}; scgi_temp_path {root};
  server {{ listen 127.0.0.1:{port}; {server_body} }} }}
"""
    )
    process = subprocess.Popen(["taskset", "-c", str(cpu), exe, "-c", str(conf), "-p", str(root)])
    wait_port(port)
    return process, port, root


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU of ``pid`` and (``children``) its live children, from /proc."""
    return sum(cpu_times(pid, children=children))


def cpu_times(pid: int, *, children: bool = True) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` and (``children``) its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    pids = [pid]
    if children:
        with contextlib.suppress(OSError):
            pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for one in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            user += int(fields[11]) / tick
            system += int(fields[12]) / tick
    return user, system
