"""The one place that runs child processes (ffmpeg), in the manner of mediamtx's externalcmd.

Each child gets its own process group (so ffmpeg's own helpers die with it), is stopped by
signalling the group (TERM, then KILL after a grace period), is killed by the kernel if
the server dies without stopping it (Linux ``PR_SET_PDEATHSIG``), and reports ``-progress``
lines as :class:`Progress`. Other stderr lines are kept as a short log tail, the source of
"last failures with ffmpeg's message". :class:`Backoff` spaces restarts. Nothing else in
the code base imports :mod:`subprocess`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from palinsesto.node.ffmpeg import parse_progress_line


@dataclass(slots=True)
class Progress:
    """The latest block of ffmpeg ``-progress`` values."""

    frame: int = 0
    fps: float = 0.0
    bitrate_kbps: float = 0.0
    speed: float = 0.0
    out_time_s: float = 0.0
    updated_at: float = 0.0

    def apply(self, key: str, value: str, now: float) -> None:
        """Fold one ``key=value`` into the snapshot; unparseable values ("N/A") are ignored."""
        try:
            if key == "frame":
                self.frame = int(value)
            elif key == "fps":
                self.fps = float(value)
            elif key == "bitrate" and value.endswith("kbits/s"):
                self.bitrate_kbps = float(value[:-7])
            elif key == "speed" and value.endswith("x"):
                self.speed = float(value[:-1])
            elif key == "out_time_us":
                self.out_time_s = int(value) / 1e6
            elif key == "progress":
                self.updated_at = now
        except ValueError:
            pass


class Backoff:
    """Exponential restart delays: ``initial`` doubling up to ``maximum``; reset on success."""

    def __init__(self, initial: float = 0.5, maximum: float = 10.0, factor: float = 2.0) -> None:
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


@dataclass(eq=False)
class Child:
    """A running child. Read :attr:`stdout`, write :attr:`stdin`; stop with :meth:`stop`."""

    argv: list[str]
    process: asyncio.subprocess.Process
    progress: Progress = field(default_factory=Progress)
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    started_at: float = field(default_factory=time.monotonic)
    _stderr_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self.process.stdout is not None
        return self.process.stdout

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        return self.process.stdin

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        rc = await self.process.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        return rc

    async def stop(self, grace: float = 2.0) -> int:
        """Signal the whole process group: TERM, then KILL if it has not exited in ``grace``."""
        if self.process.returncode is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                _signal_group(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        # Helpers left in the group (none for ffmpeg, but a shell script could leave some).
        _signal_group(self.process.pid, signal.SIGKILL)
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
        return self.process.returncode if self.process.returncode is not None else -9

    def last_message(self) -> str:
        return self.log_tail[-1] if self.log_tail else ""


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def death_signal_prefix() -> list[str]:
    """``setpriv --pdeathsig KILL --`` where util-linux has it, else nothing.

    The kernel then SIGKILLs the child when the server dies. setpriv sets it and execs the
    command, so no Python runs between fork and exec: a ``preexec_fn`` is not safe in a
    threaded process (the forking thread can block in ``Popen`` if the child deadlocks).
    """
    if not sys.platform.startswith("linux"):
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _death_signal_setter() -> Callable[[], None] | None:
    """Fallback ``preexec_fn`` (no setpriv): ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` via ctypes.

    Without it, ffmpeg children of a crashed (SIGKILLed, OOM-killed) server keep running,
    each holding a source connection and a core. libc is resolved here, in the parent,
    so the forked child only makes one system call. Linux only; None elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return set_death_signal


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _read_stderr(
    child: Child, clock: Callable[[], float], on_progress: Callable[[Progress], None] | None
) -> None:
    stream = child.process.stderr
    assert stream is not None
    while True:
        raw = await stream.readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        pair = parse_progress_line(line)
        if pair is None:
            child.log_tail.append(line[:500])
            continue
        child.progress.apply(pair[0], pair[1], clock())
        if pair[0] == "progress" and on_progress is not None:
            on_progress(child.progress)


class Supervisor:
    """Starts children and remembers them, so that shutdown stops every one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._children: set[Child] = set()
        self._prefix = death_signal_prefix()
        self._preexec = None if self._prefix else _death_signal_setter()

    @property
    def running(self) -> int:
        return sum(1 for c in self._children if c.returncode is None)

    async def spawn(
        self,
        argv: list[str],
        *,
        stdin: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        stdout_limit: int = 1 << 20,
        log_lines: int = 20,
    ) -> Child:
        """Start ``argv`` (no shell) in a new process group with piped stdout/stderr;
        the last ``log_lines`` stderr lines are kept in :attr:`Child.log_tail`."""
        process = await asyncio.create_subprocess_exec(
            *self._prefix,
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=self._preexec,
            limit=stdout_limit,
        )
        child = Child(argv, process, log_tail=deque(maxlen=log_lines), started_at=self._clock())
        child._stderr_task = asyncio.create_task(_read_stderr(child, self._clock, on_progress))
        self._children.add(child)
        process_done = asyncio.ensure_future(process.wait())
        process_done.add_done_callback(lambda _f: self._children.discard(child))
        return child

    async def output(self, argv: list[str], timeout: float) -> tuple[int, bytes, str]:
        """Run to completion keeping stdout: (exit code, stdout, last log line)."""
        child = await self.spawn(argv, stdout_limit=1 << 24)
        try:
            data = await asyncio.wait_for(child.stdout.read(), timeout)
            rc = await asyncio.wait_for(child.wait(), timeout)
        except TimeoutError:
            return await child.stop(grace=0.5), b"", "timed out"
        return rc, data, child.last_message()

    async def run(self, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run to completion (a probe); returns (exit code, last log line). Killed on timeout."""
        child = await self.spawn(argv)
        drain = asyncio.create_task(child.stdout.read())
        try:
            rc = await asyncio.wait_for(child.wait(), timeout)
        except TimeoutError:
            rc = await child.stop(grace=0.5)
        finally:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        return rc, child.last_message()

    async def stop_all(self, grace: float = 2.0) -> None:
        """Stop every child still running (engine shutdown)."""
        children = [c for c in self._children if c.returncode is None]
        await asyncio.gather(*(c.stop(grace) for c in children), return_exceptions=True)
