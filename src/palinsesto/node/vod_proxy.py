"""A remote movie streamed through this server (``delivery = proxy``): the player never
learns the source's address, and this server's outbound policy decides where it may go.

The upstream request is made by :func:`palinsesto.outbound.open_url` (every hop of a
redirect checked against the policy, no second DNS lookup) in a worker thread; its body
comes back to the event loop through a small queue, so a player that reads slowly slows
the upstream read instead of filling memory, and a player that leaves stops it. The
player's ``Range`` (and ``If-Range``) go upstream as they came; the status (200, 206,
416) and the headers that describe the body come back. What the upstream said beyond
that, and why it failed, stays in the log: the player gets ``502``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from palinsesto.node.dataplane import REASONS, Connection, HttpRequest, Reply, Written
from palinsesto.outbound import FetchFailed, OutboundPolicy, open_url

log = logging.getLogger(__name__)

# Upstream headers that describe the body the player gets.
RELAYED = ("content-type", "content-length", "content-range", "accept-ranges", "etag",
           "last-modified")  # fmt: skip
PASSED_ON = ("range", "if-range")  # the player's headers that go upstream
RELAYED_STATUS = frozenset({200, 206, 416})
QUEUE_CHUNKS = 16  # what the thread may read ahead of the player
HIGH_WATER = 1 << 20  # socket buffer above which the player is waited for
MAX_SECONDS = 24 * 3600.0
MAX_BYTES = 1 << 50
UNAVAILABLE = b"STREAM_UNAVAILABLE\n"
CORS = ("Access-Control-Allow-Origin", "*")


def response_head(status: int, headers: dict[str, str], keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}"]
    lines += [f"{name.title()}: {headers[name]}" for name in RELAYED if name in headers]
    lines += [
        f"{CORS[0]}: {CORS[1]}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class RemoteProxy:
    """Each relayed play holds one thread of its own pool for as long as it lasts (not the
    loop's default executor, which authorization needs); past ``max_plays`` at once, 503."""

    def __init__(self, policy: OutboundPolicy, timeout: float = 15.0, max_plays: int = 256) -> None:
        self.policy = policy
        self.timeout = timeout
        self.max_plays = max_plays
        self.active = 0
        self._threads = ThreadPoolExecutor(max_plays, thread_name_prefix="vod-proxy")

    def _pump(
        self,
        url: str,
        headers: list[tuple[str, str]],
        put: Callable[[tuple[str, Any]], bool],
        stop: threading.Event,
        policy: OutboundPolicy,
    ) -> None:
        """The worker thread: the upstream answer, then its body, then "end" (or "error")."""
        try:
            with open_url(
                url,
                policy,
                timeout=self.timeout,
                max_bytes=MAX_BYTES,
                max_seconds=MAX_SECONDS,
                headers=headers,
            ) as download:
                if not put(("head", (download.status, download.headers))) or stop.is_set():
                    return
                for chunk in download.iter_bytes():
                    if stop.is_set() or not put(("data", chunk)):
                        return
            put(("end", None))
        except FetchFailed as exc:
            put(("error", exc))

    async def relay(
        self,
        url: str,
        request: HttpRequest,
        conn: Connection,
        counted: Callable[[int], None],
        label: str,
        policy: OutboundPolicy | None = None,
    ) -> Reply | Written | None:
        """Answer ``request`` with ``url``'s answer. ``label`` names the item in the log;
        ``policy``: where this relay may go (else the proxy's own policy)."""
        if self.active >= self.max_plays:
            log.warning("%s: %d remote plays already relayed", label, self.active)
            return Reply(503, UNAVAILABLE, headers=(CORS,))
        self.active += 1
        try:
            return await self._relay(url, request, conn, counted, label, policy or self.policy)
        finally:
            self.active -= 1

    async def _relay(
        self,
        url: str,
        request: HttpRequest,
        conn: Connection,
        counted: Callable[[int], None],
        label: str,
        policy: OutboundPolicy,
    ) -> Reply | Written | None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_CHUNKS)
        stop = threading.Event()

        def put(item: tuple[str, Any]) -> bool:  # in the thread: False once the play ended
            future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
            while True:
                try:
                    future.result(timeout=0.5)
                    return True
                except concurrent.futures.TimeoutError:
                    # The play ended, or the server is stopping: the thread must not wait on.
                    if stop.is_set() or not loop.is_running():
                        future.cancel()
                        return False

        headers = [
            (name.title(), request.headers[name]) for name in PASSED_ON if name in request.headers
        ]
        worker = loop.run_in_executor(self._threads, self._pump, url, headers, put, stop, policy)
        worker.add_done_callback(_log_failure)
        try:
            kind, value = await queue.get()
            if kind == "error":
                log.warning("%s: the remote source failed: %s", label, value)
                return Reply(502, UNAVAILABLE, headers=(CORS,))
            status, upstream = value
            if status not in RELAYED_STATUS:
                log.warning("%s: the remote source answered %d", label, status)
                code = 404 if status in (404, 410) else 502
                return Reply(
                    code, b"STREAM_NOT_FOUND\n" if code == 404 else UNAVAILABLE, headers=(CORS,)
                )
            keep_alive = request.keep_alive and "content-length" in upstream
            if conn.closed:
                return None
            conn.write(response_head(status, upstream, keep_alive))
            if request.method == "HEAD":
                return Written(keep_alive)
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    return Written(keep_alive)
                if kind == "error":  # the head is out: all the player can be told is a cut
                    log.warning("%s: the remote source broke off: %s", label, value)
                    conn.close()
                    return Written(keep_alive=False)
                conn.write(value)
                counted(len(value))
                while conn.buffered() > HIGH_WATER and not conn.closed:
                    await asyncio.sleep(0.01)
                if conn.closed:
                    return None
        finally:
            stop.set()
            while not queue.empty():  # a thread blocked on a full queue may go
                queue.get_nowait()


def _log_failure(worker: asyncio.Future[None]) -> None:
    if not worker.cancelled() and (exc := worker.exception()) is not None:
        log.error("the remote source's reader failed", exc_info=exc)
