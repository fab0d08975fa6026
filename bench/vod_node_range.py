"""VOD through a node: concurrent Range readers of one large file at a ``palinsesto node``'s
``/vod/<token>/<path>`` (what the panel's 302 points at: the token checked with one HMAC,
no database), against the all-in-one's ``/movie/U/P/ID.ext`` (each request authorized
against the line) and nginx (1 worker, sendfile), all measured in the same run by
bench/vod_range.py's readers and CPU accounting (servers pinned to CPU 0, readers to CPU 1).

The node is fed by a minimal stand-in panel in this process (register and heartbeat
replies built from protocol/messages.py, with the key the bench signs its token with).

    /work/main/.venv/bin/python bench/vod_node_range.py [--size-mib 256] [--seconds 6]
        [--readers 50]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from palinsesto.protocol.messages import HEARTBEAT_PATH, REGISTER_PATH, NodeState, PanelReply
from palinsesto.protocol.play_tokens import PlayKind, PlayTokens, SigningKey

sys.path.insert(0, str(Path(__file__).parent))
import vod_range  # noqa: E402

NODE_TOKEN = "bench-node-token"


def stand_in_panel(key: SigningKey) -> ThreadingHTTPServer:
    reply = PanelReply(
        node_id=1,
        state=NodeState.online,
        heartbeat_seconds=2.0,
        lease_seconds=12.0,
        keys=(key,),
        assignments=(),
        end_sessions=(),
        token_ttl_seconds=3600,
        hls_session_timeout_seconds=30,
    )
    body = json.dumps(reply.to_json()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = self.path in (REGISTER_PATH, HEARTBEAT_PATH)
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if ok else 2))
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_node(
    data_dir: Path, media_root: Path, panel_port: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = vod_range.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        PALINSESTO_DATA_DIR=str(data_dir),
        PALINSESTO_MEDIA_ROOT=str(media_root),
        PALINSESTO_LIVE_LISTEN=f"127.0.0.1:{port}",
        PALINSESTO_RTMP_LISTEN="off",
        PALINSESTO_LOG_LEVEL="warning",
    )
    command = [sys.executable, "-m", "palinsesto", "node"]
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command, "--panel", f"http://127.0.0.1:{panel_port}",
         "--token", NODE_TOKEN],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "node.log").open("wb"),
    )  # fmt: skip
    vod_range.wait_port(port)
    time.sleep(1.0)  # registered: its first reply carries the key
    return process, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--readers", default="50")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="vod-node-bench-"))
    servers: list[subprocess.Popen[bytes]] = []
    key = SigningKey(1, secrets.token_bytes(32))
    panel = stand_in_panel(key)
    try:
        print(f"file: {args.size_mib} MiB, {vod_range.CHUNK >> 20} MiB per Range request")
        pal, pal_port, movie_path = vod_range.start_palinsesto(work / "data", size)
        servers.append(pal)
        source = next((work / "data" / "media").glob("*/big.mp4"))
        tenant_id = int(source.parent.name)
        (work / "node").mkdir()
        node, node_port = start_node(work / "node", work / "data" / "media", panel.server_port)
        servers.append(node)
        token = PlayTokens([key]).issue(
            tenant_id=tenant_id, line_id=1, channel_id=1, session_id=1, kind=PlayKind.vod,
            expires=int(time.time()) + 3600, subject=b"big.mp4",
        )  # fmt: skip
        targets = [
            ("node /vod/<token> (sendfile)", [node.pid], node_port, f"/vod/{token}/big.mp4"),
            ("all-in-one /movie (sendfile)", [pal.pid], pal_port, movie_path),
        ]
        nginx = vod_range.start_nginx(work / "nginx", source, movie_path)
        if nginx is not None:
            servers.append(nginx[0])
            pids = [nginx[0].pid, *vod_range.child_pids(nginx[0].pid)]
            targets.append(("nginx 1 worker (sendfile)", pids, nginx[1], movie_path))
        columns = ("readers", "Gbps", "CPU %", "CPU %/Gbps", "errors")
        print(f"{'server':<30} " + " ".join(f"{c:>10}" for c in columns))
        for readers in [int(n) for n in args.readers.split(",")]:
            for name, pids, port, path in targets:
                gbps, cpu, errors = vod_range.measure(pids, port, path, size, readers, args.seconds)
                per = cpu / gbps if gbps else float("nan")
                row = (readers, f"{gbps:.2f}", f"{cpu:.0f}", f"{per:.1f}", errors)
                print(f"{name:<30} " + " ".join(f"{c:>10}" for c in row), flush=True)
    finally:
        for process in servers:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        panel.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
