"""Helpers for live-engine tests: sample media, local upstreams, and ffmpeg as a player."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import imageio_ffmpeg

from support.media_cache import cached

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SMALL = "320x180"


def make_sample_ts(path: Path, seconds: float = 4.0, gop: int = 25) -> Path:
    """A short 320x180 H.264/AAC MPEG-TS with a keyframe every ``gop`` frames."""
    argv = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={SMALL}:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop),
        "-sc_threshold", "0", "-c:a", "aac", "-b:a", "32k", "-f", "mpegts",
    ]  # fmt: skip
    return cached(
        path,
        " ".join(argv),
        lambda target: subprocess.run([*argv, str(target)], check=True, timeout=60),
    )


class PacedTsServer:
    """An upstream HTTP-TS provider: loops a TS file to every client at its real bitrate."""

    def __init__(self, sample: bytes, seconds: float) -> None:
        self.sample = sample
        self.rate = len(sample) / seconds
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.ts"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n"
            )
            step = 188 * 70
            loop = asyncio.get_running_loop()
            started, sent = loop.time(), 0
            while True:
                for i in range(0, len(self.sample), step):
                    writer.write(self.sample[i : i + step])
                    sent += step
                    await writer.drain()
                    ahead = sent / self.rate - (loop.time() - started)
                    if ahead > 0.3:
                        await asyncio.sleep(ahead - 0.2)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        """The upstream dies: listener closed and every connection cut."""
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            await self.server.wait_closed()
            self.server = None


@contextlib.contextmanager
def static_http(directory: Path) -> Iterator[str]:
    """Serve a directory over HTTP on 127.0.0.1:0 (a stand-in upstream HLS origin)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


_FRAME = re.compile(r"frame=\s*(\d+)")


def count_frames(stderr: str) -> int:
    found = _FRAME.findall(stderr)
    return int(found[-1]) if found else 0


async def play(url: str, seconds: float, *extra: str, timeout: float = 30) -> tuple[int, str]:
    """ffmpeg as a player: decode ``url`` for ``seconds``; returns (frames decoded, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-nostdin", "-stats_period", "0.2", *extra, "-i", url,
        "-t", str(seconds), "-map", "0:v:0", "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = err.decode("utf-8", "replace")
    return count_frames(text), text


def decode_bytes(data: bytes, path: Path) -> int:
    """Decode TS bytes captured by a test; returns the number of video frames."""
    path.write_bytes(data)
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return count_frames(result.stderr)


class CollectingSink:
    """A TS viewer's socket stand-in that keeps what it was sent, and when."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False
        self.times: list[tuple[float, int]] = []

    def write(self, data: bytes) -> None:
        self.data += data
        self.times.append((asyncio.get_running_loop().time(), len(self.data)))

    def buffered(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


async def decoded_frame_size(url: str, timeout: float = 40) -> tuple[int, int]:
    """ffmpeg as a player: decode the first video frame of ``url`` to PNG; its width and
    height (read from the PNG's IHDR chunk, so it is what the decoder produced)."""
    proc = await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url,
        "-map", "0:v:0", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if out[:8] != b"\x89PNG\r\n\x1a\n" or out[12:16] != b"IHDR":
        raise AssertionError(f"no frame decoded from {url}: {err.decode(errors='replace')[-800:]}")
    return int.from_bytes(out[16:20], "big"), int.from_bytes(out[20:24], "big")
