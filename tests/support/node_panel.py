"""A panel's node API as a test drives it, and ``palinsesto node`` as a real process.

:class:`StandInPanel` serves ``REGISTER_PATH``, ``HEARTBEAT_PATH`` and ``CHANNEL_PATH`` over
real HTTP with replies built from the protocol's classes, signs play tokens with the same
keys it hands the nodes (``PlayTokens``), and records every registration and heartbeat.
The real panel's node registry is built elsewhere; this stands in for it so the node
process can be tested alone.

Every node process runs with a ``sitecustomize`` that makes importing ``sqlalchemy`` fail
and writes down who tried: a node that reached for the database would break, and the log
says where.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from palinsesto.protocol.channels import ChannelInfo
from palinsesto.protocol.messages import (
    API_PREFIX,
    HEARTBEAT_PATH,
    REGISTER_PATH,
    Assignment,
    Heartbeat,
    NodeState,
    PanelReply,
    Registration,
)
from palinsesto.protocol.play_tokens import PlayKind, PlayTokens, SigningKey

BIN = Path(sys.executable).with_name("palinsesto")
SERVING_LINE = re.compile(r"Serving players on (http://\S+) ", re.M)
PATTERN_SOURCE = {"kind": "test_pattern", "url": "testsrc://320x180@25"}

GUARD = '''
import os, sys, traceback

class _NodeNeverOpensTheDatabase:
    """Installed by the node tests: importing sqlalchemy fails, and who tried is logged."""

    def find_spec(self, name, path=None, target=None):
        if name == "sqlalchemy" or name.startswith("sqlalchemy."):
            with open(os.environ["NODE_TEST_IMPORT_LOG"], "a") as log:
                log.write(name + "\\n" + "".join(traceback.format_stack()) + "\\n")
            raise ImportError(name + " imported by the node process")
        return None

sys.meta_path.insert(0, _NodeNeverOpensTheDatabase())
'''


def pattern_channel(channel_id: int = 7, tenant_id: int = 1, **changes: Any) -> ChannelInfo:
    """A channel playing ffmpeg's 320x180 test pattern."""
    values: dict[str, Any] = {
        "id": channel_id,
        "tenant_id": tenant_id,
        "name": f"Pattern {channel_id}",
        "sources": (PATTERN_SOURCE,),
        "on_demand": True,
        "transcode_profile": "copy",
        "enabled": True,
        "stream_key": None,
    }
    values.update(changes)
    return ChannelInfo(**values)


@dataclass
class NodeView:
    """What the stand-in panel says to one node (by its token) and what it heard."""

    node_id: int
    state: NodeState = NodeState.online
    assignments: list[Assignment] = field(default_factory=list)
    on_demand: dict[int, Assignment] = field(default_factory=dict)  # for CHANNEL_PATH
    end_sessions: list[int] = field(default_factory=list)  # sent once, then cleared
    registrations: list[Registration] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)
    channel_fetches: list[int] = field(default_factory=list)
    fail_heartbeats: int = 0  # answer this many heartbeats with 503
    forget: bool = False  # answer the next heartbeat 404, as a panel that lost the node


class StandInPanel:
    def __init__(self, heartbeat_seconds: float = 0.5) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.keys = [SigningKey(1, secrets.token_bytes(32))]
        self.tokens = PlayTokens(self.keys)
        self.nodes: dict[str, NodeView] = {}
        self.refused: list[str] = []  # paths asked with a wrong token
        self.lock = threading.Lock()
        self.token_ttl = 60
        self.hls_timeout = 30
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_node(self, node_id: int) -> tuple[str, NodeView]:
        token = secrets.token_urlsafe(24)
        view = NodeView(node_id)
        self.nodes[token] = view
        return token, view

    def issue(
        self,
        channel: ChannelInfo,
        kind: PlayKind,
        session_id: int,
        *,
        ttl: int = 60,
        line_id: int = 11,
        client_ip: str | None = "127.0.0.1",
    ) -> str:
        return self.tokens.issue(
            tenant_id=channel.tenant_id,
            line_id=line_id,
            channel_id=channel.id,
            session_id=session_id,
            kind=kind,
            expires=int(time.time()) + ttl,
            client_ip=client_ip,
        )

    def reply(self, view: NodeView) -> PanelReply:
        ended, view.end_sessions = tuple(view.end_sessions), []
        return PanelReply(
            node_id=view.node_id,
            state=view.state,
            heartbeat_seconds=self.heartbeat_seconds,
            lease_seconds=self.heartbeat_seconds * 6,
            keys=tuple(self.keys),
            assignments=tuple(view.assignments),
            end_sessions=ended,
            token_ttl_seconds=self.token_ttl,
            hls_session_timeout_seconds=self.hls_timeout,
        )

    # ---- HTTP ----

    def _answer(self, method: str, path: str, auth: str, body: bytes) -> tuple[int, Any]:
        token = auth.removeprefix("Bearer ")
        with self.lock:
            view = self.nodes.get(token) if auth.startswith("Bearer ") else None
            if view is None:
                self.refused.append(path)
                return 401, {"detail": "unknown node token"}
            if method == "POST" and path == REGISTER_PATH:
                view.registrations.append(Registration.from_json(json.loads(body)))
                return 200, self.reply(view).to_json()
            if method == "POST" and path == HEARTBEAT_PATH:
                if view.forget:
                    view.forget = False
                    return 404, {"detail": "unknown node"}
                if view.fail_heartbeats > 0:
                    view.fail_heartbeats -= 1
                    return 503, {"detail": "panel busy"}
                view.heartbeats.append(Heartbeat.from_json(json.loads(body)))
                return 200, self.reply(view).to_json()
            prefix = f"{API_PREFIX}/channels/"
            if method == "GET" and path.startswith(prefix):
                channel_id = int(path.removeprefix(prefix))
                view.channel_fetches.append(channel_id)
                found = view.on_demand.get(channel_id)
                if found is None:
                    return 404, {"detail": "not a channel for this node"}
                return 200, found.to_json()
        return 404, {"detail": "not found"}

    def start(self, port: int = 0) -> None:
        panel = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = panel._answer(
                    method, self.path, self.headers.get("Authorization", ""), body
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return None

        ThreadingHTTPServer.allow_reuse_address = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self, check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
        """Poll ``check`` (under the lock) until it returns something true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = check()
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"not seen in {timeout} s: {what or check}")


@contextmanager
def stand_in_panel(heartbeat_seconds: float = 0.5) -> Iterator[StandInPanel]:
    panel = StandInPanel(heartbeat_seconds)
    panel.start()
    try:
        yield panel
    finally:
        panel.stop()


@dataclass
class NodeProcess:
    proc: subprocess.Popen[str]
    import_log: Path
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        regex = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = regex.search(self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)
                found = regex.search(self.output)
                if found:
                    return found
                raise AssertionError(f"node exited ({self.proc.returncode}):\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"no {regex.pattern!r} in {timeout} s:\n{self.output}")

    @property
    def base_url(self) -> str:
        return self.wait_for(SERVING_LINE).group(1)

    def sqlalchemy_imports(self) -> str:
        return self.import_log.read_text() if self.import_log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def node_env(tmp_path: Path, **settings: str) -> tuple[dict[str, str], Path]:
    """The node's environment (no caller PALINSESTO_*) with the sqlalchemy guard installed."""
    guard = tmp_path / "node-guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(GUARD)
    import_log = tmp_path / "node-guard" / "sqlalchemy-imports.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(guard), env.get("PYTHONPATH")])),
            "NODE_TEST_IMPORT_LOG": str(import_log),
            "PALINSESTO_DATA_DIR": str(tmp_path / "node-data"),
            "PALINSESTO_LIVE_LISTEN": "127.0.0.1:0",
            "PALINSESTO_RTMP_LISTEN": "off",
            "PALINSESTO_LIVE_IDLE_STOP_SECONDS": "3",
            "COLUMNS": "200",
        }
    )
    env.update({f"PALINSESTO_{k.upper()}": v for k, v in settings.items()})
    return env, import_log


@contextmanager
def node_process(
    tmp_path: Path, panel_url: str, token: str, *args: str, **settings: str
) -> Iterator[NodeProcess]:
    """``palinsesto node --panel URL --token TOKEN`` with its output read into a transcript."""
    env, import_log = node_env(tmp_path, **settings)
    proc = subprocess.Popen(
        [str(BIN), "node", "--panel", panel_url, "--token", token, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    running = NodeProcess(proc, import_log)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            running.lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield running
    finally:
        running.stop()
        reader.join(timeout=10)
    assert running.sqlalchemy_imports() == "", running.sqlalchemy_imports()
