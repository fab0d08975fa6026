"""Run ``palinsesto serve`` as a real process and read what it prints.

Ports come from the banner the command prints (``Panel: http://…``, ``Live streams on
host:port``), so tests may give it port 0 everywhere and never race for a free port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).with_name("palinsesto")
PANEL_LINE = re.compile(r"^Panel: (http://\S+?)/panel/$", re.M)
LIVE_LINE = re.compile(r"^Live streams on (\S+):(\d+)$", re.M)


def serve_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment without the caller's PALINSESTO_*, with ``settings`` (no prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        {
            "PALINSESTO_DATA_DIR": str(data_dir),
            "PALINSESTO_LISTEN": "127.0.0.1:0",
            "PALINSESTO_LIVE_LISTEN": "127.0.0.1:0",
            "PALINSESTO_RTMP_LISTEN": "127.0.0.1:0",
            "COLUMNS": "200",
        }
    )
    env.update({f"PALINSESTO_{k.upper()}" if k != "COLUMNS" else k: v for k, v in settings.items()})
    return env


@dataclass
class ServeProcess:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = pattern.search(self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the reader thread may still be draining the pipe
                found = pattern.search(self.output)
                if found:
                    return found
                raise AssertionError(f"serve exited ({self.proc.returncode}):\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern.pattern!r} in {timeout} s:\n{self.output}")

    @property
    def base_url(self) -> str:
        return self.wait_for(PANEL_LINE).group(1)

    @property
    def live_address(self) -> tuple[str, int]:
        found = self.wait_for(LIVE_LINE)
        return found.group(1), int(found.group(2))

    def wait_healthy(self, timeout: float = 60) -> None:
        base = self.base_url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited ({self.proc.returncode}):\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"{base} did not become healthy in {timeout} s:\n{self.output}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a stalled event loop cannot run its handler
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextmanager
def serve_process(
    env: dict[str, str], *args: str, command: str = "serve"
) -> Iterator[ServeProcess]:
    """``palinsesto serve *args`` (or another ``command``: ``node``, ``panel``) with stdout
    and stderr read into one growing transcript."""
    proc = subprocess.Popen(
        [str(BIN), command, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    running = ServeProcess(proc)

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


def run_serve(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``palinsesto serve`` expected to stop by itself (a failed start)."""
    return subprocess.run(
        [str(BIN), "serve", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
