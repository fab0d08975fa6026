"""HLS hot path: playlist requests/s with token check, and segment throughput from RAM.

Same bytes, same loopback, same run: the lean asyncio data plane (palinsesto.node.dataplane),
the same logic as an ASGI app under uvicorn, and nginx serving the same files (if installed).
The client is a keep-alive asyncio load generator in a separate process, so figures are
bounded by the 2 shared cores; compare columns, not absolutes.

    .venv/bin/python bench/hls.py [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

SEGMENT = os.urandom(1 << 20)  # 1 MiB ~ 2 s at 4 Mbps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lean_server(port: int, ready: threading.Event | None = None) -> None:
    from palinsesto.node.dataplane import Reply, serve
    from palinsesto.panel.playback.hls_tokens import SegmentTokens

    tokens = SegmentTokens("bench", 60)
    token = tokens.issue(1, 1, 1, time.time())
    playlist = (
        "#EXTM3U\n" + "".join(f"#EXTINF:2.0,\n/hls/{token}/{i}.ts\n" for i in range(6))
    ).encode()

    def handler(request, conn):
        if request.path.endswith(".m3u8"):
            tokens.verify(token, time.time())
            return Reply(200, playlist, "application/vnd.apple.mpegurl")
        tokens.verify(request.path.split("/")[2], time.time())
        return Reply(200, SEGMENT, "video/mp2t")

    async def main() -> None:
        server = await serve(handler, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def _uvicorn_server(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from palinsesto.panel.playback.hls_tokens import SegmentTokens

    tokens = SegmentTokens("bench", 60)
    token = tokens.issue(1, 1, 1, time.time())
    playlist = "#EXTM3U\n" + "".join(f"#EXTINF:2.0,\n/hls/{token}/{i}.ts\n" for i in range(6))

    async def pl(request):
        tokens.verify(token, time.time())
        return Response(playlist, media_type="application/vnd.apple.mpegurl")

    async def seg(request):
        tokens.verify(request.path_params["token"], time.time())
        return Response(SEGMENT, media_type="video/mp2t")

    app = Starlette(routes=[Route("/live/u/p/1.m3u8", pl), Route("/hls/{token}/{n}", seg)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def _nginx(port: int, root: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        return None
    conf = root / "nginx.conf"
    conf.write_text(
        f"""daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on; tcp_nopush on; open_file_cache max=100;
  keepalive_requests 10000000;
  types {{ video/mp2t ts; application/vnd.apple.mpegurl m3u8; }}
  client_body_temp_path {root}; proxy_temp_path {root}; fastcgi_temp_path {root};
  uwsgi_temp_path {root}; scgi_temp_path {root};
  server {{ listen 127.0.0.1:{port}; root {root}; }} }}
"""
    )
    return subprocess.Popen([exe, "-c", str(conf), "-p", str(root)])


async def _client(port: int, path: str, seconds: float, conns: int) -> tuple[int, int]:
    request = f"GET {path} HTTP/1.1\r\nHost: b\r\n\r\n".encode()
    count = total = 0
    deadline = time.monotonic() + seconds

    async def one() -> None:
        nonlocal count, total
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            count += 1
            total += length
        writer.close()

    await asyncio.gather(*(one() for _ in range(conns)))
    return count, total


def _load(port: int, path: str, seconds: float, conns: int, q: multiprocessing.Queue) -> None:
    q.put(asyncio.run(_client(port, path, seconds, conns)))


def measure(port: int, path: str, seconds: float, conns: int = 16) -> tuple[float, float]:
    q: multiprocessing.Queue = multiprocessing.Queue()
    p = multiprocessing.Process(target=_load, args=(port, path, seconds, conns, q))
    p.start()
    count, total = q.get()
    p.join()
    return count / seconds, total * 8 / seconds / 1e9


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    from palinsesto.panel.playback.hls_tokens import SegmentTokens

    token = SegmentTokens("bench", 60).issue(1, 1, 1, time.time())
    root = Path(tempfile.mkdtemp())
    (root / "live/u/p").mkdir(parents=True)
    (root / "live/u/p/1.m3u8").write_text("#EXTM3U\n" + "#EXTINF:2.0,\n/hls/x/0.ts\n" * 6)
    (root / f"hls/{token}").mkdir(parents=True)
    (root / f"hls/{token}/0.ts").write_bytes(SEGMENT)
    servers = []
    results = []
    for name, target in (("lean asyncio", _lean_server), ("uvicorn ASGI", _uvicorn_server)):
        port = _free_port()
        proc = multiprocessing.Process(target=target, args=(port,), daemon=True)
        proc.start()
        servers.append(proc)
        _wait(port)
        results.append((name, port))
    nginx_port = _free_port()
    nginx = _nginx(nginx_port, root)
    if nginx is not None:
        _wait(nginx_port)
        results.append(("nginx (sendfile)", nginx_port))
    print(f"{'server':<18} {'playlist req/s':>15} {'segment Gbps':>13}")
    try:
        for name, port in results:
            print(f"  measuring {name} ...", flush=True)
            rps, _ = measure(port, "/live/u/p/1.m3u8", args.seconds)
            _, gbps = measure(port, f"/hls/{token}/0.ts", args.seconds, conns=4)
            print(f"{name:<18} {rps:>15,.0f} {gbps:>13.2f}")
    finally:
        for proc in servers:
            proc.terminate()
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
