"""An HTTP server standing in for a remote origin of movies (what a CDN does): byte ranges,
416 past the end, each request's ``Range`` recorded. The query string is ignored (an
origin URL may carry a key)."""

from __future__ import annotations

import contextlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class RemoteFiles:
    """An HTTP server with byte ranges (what a CDN does), recording each request's Range."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ranges: list[str | None] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def handle(self) -> None:
                # A player that seeks drops its connection mid-answer: not a failure here.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                path = remote.folder / self.path.partition("?")[0].lstrip("/")
                remote.ranges.append(self.headers.get("Range"))
                if not path.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = path.read_bytes()
                size, status, start, end = len(data), 200, 0, len(data) - 1
                if match := re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "")):
                    if match[1]:
                        start, end = int(match[1]), min(int(match[2] or size - 1), size - 1)
                    else:
                        start = max(0, size - int(match[2]))
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(end - start + 1))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if body:
                    try:
                        self.wfile.write(data[start : end + 1])
                    except (BrokenPipeError, ConnectionResetError):
                        pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
